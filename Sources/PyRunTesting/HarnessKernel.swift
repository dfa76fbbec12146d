import Foundation
import PyRunKit

/// The kernel a `PreludeHarness` test talks to: runs code, and checks what came of it. The
/// `expect…` helpers throw a `HarnessFailure` that shows the code's traceback and output, so
/// they work under Swift Testing and XCTest alike.
public struct HarnessKernel: Sendable {
    /// The kernel itself, for what the helpers do not cover (streaming, interrupts).
    public let kernel: PythonKernel
    /// The kernel's working directory, filled from the harness's workspace.
    public let workspace: URL
    /// What the kernel said when it started.
    public let hello: KernelHello
    /// How long one `run` may take (the harness's `timeout`).
    public let timeout: Duration?

    /// The prelude sources that raised while loading (empty when all loaded).
    public var preludeFailures: [PreludeFailure] { hello.preludeFailures }

    /// Runs `code` and returns everything it produced; a Python exception is in the result,
    /// not thrown.
    /// - Throws: `KernelError` when the kernel could not run it at all.
    public func run(_ code: String) async throws -> ExecutionResult {
        try await kernel.run(code, options: ExecutionOptions(timeout: timeout))
    }

    /// Runs `code` and returns its result.
    /// - Throws: `HarnessFailure` when it did not run to the end without an exception.
    @discardableResult
    public func expectSuccess(_ code: String) async throws -> ExecutionResult {
        let result = try await run(code)
        guard result.status == .ok else {
            throw HarnessFailure("expected \(Self.quoted(code)) to succeed", result: result)
        }
        return result
    }

    /// Runs `code` and returns the plain text of its final expression's value.
    /// - Throws: `HarnessFailure` when it failed or had no value.
    public func value(_ code: String) async throws -> String {
        let result = try await expectSuccess(code)
        guard let text = result.resultText else {
            throw HarnessFailure(
                "expected \(Self.quoted(code)) to end with an expression that has a value", result: result)
        }
        return text
    }

    /// Runs `code`, which must raise an exception of class `name` (`"FileNotFoundError"`),
    /// and returns it, traceback included.
    /// - Throws: `HarnessFailure` when it succeeded or raised something else.
    @discardableResult
    public func expectError(_ name: String, from code: String) async throws -> PythonError {
        let result = try await run(code)
        guard result.status == .error, let error = result.error else {
            throw HarnessFailure("expected \(Self.quoted(code)) to raise \(name)", result: result)
        }
        guard error.name == name else {
            throw HarnessFailure("expected \(Self.quoted(code)) to raise \(name), not \(error.name)", result: result)
        }
        return error
    }

    /// The URL of `path` in the workspace.
    public func url(_ path: String) -> URL {
        workspace.appendingPathComponent(path)
    }

    /// The text of the workspace file `path` (UTF-8).
    /// - Throws: `HarnessFailure` when there is no such readable file.
    public func file(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: url(path).path) else {
            throw HarnessFailure("the workspace has no readable file \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether the workspace has a file or directory at `path`.
    public func fileExists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: url(path).path)
    }

    private static func quoted(_ code: String) -> String {
        let line = code.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return "`" + (code.contains("\n") ? line + " …" : line) + "`"
    }
}
