import Foundation
import PyRunKit

/// Tests a prelude the way a kernel really runs it: each `test` starts a fresh kernel with
/// the prelude loaded, in a fresh temporary workspace filled from fixtures, hands it to the
/// body, and removes both when the body ends.
///
/// ```swift
/// try await PreludeHarness(prelude: [.file(helpersURL)], workspace: ["notes.txt": "a\nb\n"]).test { kernel in
///     let result = try await kernel.run("read('notes.txt')")
///     #expect(result.statuses.first?.op == "read")
///     let error = try await kernel.expectError("FileNotFoundError", from: "read('absent.txt')")
///     #expect(!error.traceback.joined().contains("helpers.py"))
/// }
/// ```
///
/// Nothing outlives `test`: when the body returns or throws (or its task is cancelled), the
/// kernel is shut down with every process it started, and the workspace and the kernel's
/// `TMPDIR` are deleted. Don't let the `HarnessKernel` escape the body.
public struct PreludeHarness: Sendable {
    /// The prelude the kernel loads, in order.
    public var prelude: [PreludeSource]
    /// What the kernel's working directory holds when it starts.
    public var workspace: Workspace
    /// Everything else about the kernel (interpreter, environment, limits); its working
    /// directory and prelude are the harness's.
    public var configuration: KernelConfiguration
    /// How long one `run` may take before it is interrupted (nil: no bound).
    public var timeout: Duration?
    /// Whether a prelude that does not load completely fails the test before its body runs
    /// (with a `HarnessFailure` listing the failures). Turn it off to test the failure itself
    /// (`HarnessKernel.preludeFailures`).
    public var requiresCompletePrelude: Bool

    /// Creates a harness.
    /// - Parameters:
    ///   - prelude: what the kernel loads (default: pyrun's default prelude).
    ///   - workspace: the files the kernel finds in its working directory.
    ///   - configuration: the kernel's interpreter, environment and limits.
    ///   - timeout: how long one `run` may take (a hanging helper fails the test instead of
    ///     hanging it).
    ///   - requiresCompletePrelude: fail before the body when part of the prelude raised.
    public init(
        prelude: [PreludeSource] = [.default], workspace: Workspace = .empty,
        configuration: KernelConfiguration = KernelConfiguration(), timeout: Duration? = .seconds(60),
        requiresCompletePrelude: Bool = true
    ) {
        self.prelude = prelude
        self.workspace = workspace
        self.configuration = configuration
        self.timeout = timeout
        self.requiresCompletePrelude = requiresCompletePrelude
    }

    /// Runs `body` with a fresh kernel that has loaded the prelude in a fresh workspace.
    /// - Returns: what `body` returns.
    /// - Throws: a `HarnessFailure` when the workspace cannot be made or the prelude does not
    ///   load completely (see `requiresCompletePrelude`), a `KernelError` when the kernel
    ///   cannot start, and whatever `body` throws.
    public func test<Value: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (HarnessKernel) async throws -> Value
    ) async throws -> Value {
        let scratch = try ScratchDirectory(prefix: "pyrun-harness-")
        defer { scratch.remove() }  // after withKernel: the kernel and its processes are gone
        let workspaceURL = try scratch.subdirectory("workspace")
        let temporaryURL = try scratch.subdirectory("tmp")
        try workspace.materialize(in: workspaceURL)
        var configuration = self.configuration
        configuration.workingDirectory = workspaceURL.path
        configuration.prelude = prelude
        configuration.environment = configuration.environment.updating(["TMPDIR": temporaryURL.path])
        let requiresCompletePrelude = self.requiresCompletePrelude
        let timeout = self.timeout
        return try await withKernel(configuration: configuration, isolation: isolation) { kernel in
            let hello = try await kernel.start()
            if requiresCompletePrelude, !hello.preludeFailures.isEmpty {
                throw HarnessFailure("the prelude did not load completely", preludeFailures: hello.preludeFailures)
            }
            return try await body(
                HarnessKernel(kernel: kernel, workspace: workspaceURL, hello: hello, timeout: timeout))
        }
    }
}
