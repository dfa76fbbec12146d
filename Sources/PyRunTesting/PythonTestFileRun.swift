import Foundation
import PyRunKit

/// One unit of a `PythonTestRun`: a fresh workspace and a fresh kernel of the run's pool,
/// `collect`, then one `run` per test. A test that ignores its timeout's interrupt, or ends
/// its kernel, costs that kernel: the unit goes on with the next test in another fresh
/// kernel and workspace.
///
/// The unit's scratch directory and its first kernel's configuration are made when the unit
/// is created, so that its kernel can start (`startFirstKernel()`) while another unit runs;
/// `cleanUp(after:)` shuts its kernels down and removes the directory, and may also overlap
/// the next unit.
struct PythonTestFileRun: Sendable {
    let unit: PythonTestUnit
    /// The unit's place in the run: its kernels' pool keys start with it.
    let index: Int
    let options: PythonTestRun.Options
    let control: RunControl
    let pool: KernelPool
    /// Where the unit's workspaces live, or why it could not be made.
    private let scratch: Result<ScratchDirectory, any Error>
    /// The first kernel's configuration (its workspace made, the fixtures copied), or why
    /// it could not be made.
    private let firstConfiguration: Result<KernelConfiguration, any Error>
    /// The start of the first kernel ahead of `run()`, which `run()` and `cleanUp(after:)`
    /// wait for, so the key is never claimed twice at once or left starting.
    private var firstKernelStart: Task<Void, Never>?

    /// How one kernel's turn ended.
    private enum Turn {
        /// Every test ran, or the run stops.
        case done
        /// The kernel is gone with tests left: they go on in a fresh one.
        case kernelLost
        /// A test ran and others are left, each due a kernel of its own (`freshKernelPerTest`).
        case nextTest
    }

    /// What the unit has learnt so far, across its kernels.
    private final class Progress {
        var report: PythonTestFileReport
        /// The ids still to run, once collected.
        var remaining: [String]?

        init(unit: PythonTestUnit) {
            report = PythonTestFileReport(unit: unit)
        }
    }

    /// What a unit's run left behind for `cleanUp(after:)`.
    struct Finished: Sendable {
        let report: PythonTestFileReport
        /// The pool keys of the kernels it used, in order.
        let keys: [String]
    }

    /// Makes the unit's scratch directory and its first workspace (the fixtures copied in).
    init(unit: PythonTestUnit, index: Int, options: PythonTestRun.Options, control: RunControl, pool: KernelPool) {
        self.unit = unit
        self.index = index
        self.options = options
        self.control = control
        self.pool = pool
        let scratch = Result { try ScratchDirectory(prefix: "pyrun-test-") }
        self.scratch = scratch
        firstConfiguration = scratch.flatMap { scratch in
            Result { try Self.makeConfiguration(for: unit, options: options, in: scratch, number: 1) }
        }
    }

    /// Begins starting the unit's first kernel, so that `run()` finds it ready; a failure
    /// to start is left for `run()` to report.
    mutating func startFirstKernel() {
        guard case .success(let configuration) = firstConfiguration else { return }
        let pool = pool
        let key = key(turn: 1)
        firstKernelStart = Task { _ = try? await pool.kernel(for: key, configuration: configuration) }
    }

    /// The pool key of the unit's kernel for turn `number`.
    private func key(turn number: Int) -> String { "\(index)#\(number)" }

    func run() async -> Finished {
        await firstKernelStart?.value
        let progress = Progress(unit: unit)
        var keys: [String] = []
        let scratch: ScratchDirectory
        switch self.scratch {
        case .success(let made): scratch = made
        case .failure(let error):
            progress.report.collectionError = Self.hostError("\(error)")
            return Finished(report: progress.report, keys: keys)
        }
        var kernels = 0
        while true {
            kernels += 1
            let turn: Turn
            let key = key(turn: kernels)
            keys.append(key)
            do {
                // With a kernel per test, the tests of a file share its first workspace: the
                // same configuration, so every kernel forks from the same template.
                let configuration =
                    kernels == 1 || options.freshKernelPerTest
                    ? try firstConfiguration.get()
                    : try Self.makeConfiguration(for: unit, options: options, in: scratch, number: kernels)
                turn = try await runTests(in: key, configuration: configuration, progress: progress)
            } catch let error as KernelError where error.isConfigurationError {
                await control.stop(usageError: error.message)
                return Finished(report: progress.report, keys: keys)
            } catch {
                let why = (error as? KernelError)?.message ?? "\(error)"
                if progress.remaining == nil {
                    progress.report.collectionError = Self.hostError("the kernel could not run the file: \(why)")
                } else {
                    progress.report.records.append(
                        PythonTestRecord(
                            id: progress.remaining?.first ?? unit.description, name: "kernel", outcome: .error,
                            message: "the kernel could not run the rest of the file: \(why)"))
                }
                return Finished(report: progress.report, keys: keys)
            }
            switch turn {
            case .done:
                return Finished(report: progress.report, keys: keys)
            case .kernelLost:
                progress.report.kernelReplacements += 1
                // One kernel of the unit at a time: the lost one is gone before the next starts.
                await pool.shutdown(key)
            case .nextTest:
                await pool.shutdown(key)
            }
        }
    }

    /// Shuts down the kernels `finished` names (or the first one, started ahead, of a unit
    /// that never ran), then removes the unit's directory: nothing of the unit is left when
    /// it returns.
    func cleanUp(after finished: Finished?) async {
        await firstKernelStart?.value
        for key in finished?.keys ?? [key(turn: 1)] { await pool.shutdown(key) }
        if case .success(let scratch) = scratch { scratch.remove() }
    }

    /// The kernel for turn `number`: a workspace of its own (a fresh copy of the fixtures),
    /// and a `TMPDIR` of its own, both inside the unit's scratch directory.
    private static func makeConfiguration(
        for unit: PythonTestUnit, options: PythonTestRun.Options, in scratch: ScratchDirectory, number: Int
    ) throws -> KernelConfiguration {
        let workspace = try scratch.subdirectory("workspace-\(number)")
        let temporary = try scratch.subdirectory("tmp-\(number)")
        if let directory = unit.directory {
            let fixtures = directory.appendingPathComponent("fixtures")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: fixtures.path, isDirectory: &isDirectory), isDirectory.boolValue {
                try Workspace.fixtures(fixtures).materialize(in: workspace)
            }
        }
        var configuration = options.configuration
        configuration.workingDirectory = workspace.path
        configuration.prelude = options.prelude + [.testSupport]
        configuration.environment = configuration.environment.updating(["TMPDIR": temporary.path])
        if options.freshKernelPerTest { configuration.usesTemplate = true }
        return configuration
    }

    /// Collects the unit in the kernel of `key`, then runs what is left of it there.
    private func runTests(in key: String, configuration: KernelConfiguration, progress: Progress) async throws
        -> Turn
    {
        let timeout = ExecutionOptions(timeout: options.timeout)
        func run(_ code: String) async throws -> ExecutionResult {
            try await pool.run(code, key: key, configuration: configuration, options: timeout)
        }
        let collected = try await run(collectCall)
        // The prelude under test did not load: what its tests would say means nothing. As
        // pytest does for a conftest.py that raises, the run stops as a usage error.
        let preludeFailures = collected.notices.flatMap { notice -> [PreludeFailure] in
            if case .preludeFailed(let failures) = notice.kind { failures } else { [] }
        }
        if !preludeFailures.isEmpty {
            await control.stop(usageError: Self.preludeProblem(preludeFailures))
            return .done
        }
        guard let report = collected.result?["application/json"], collected.status == .ok else {
            if collected.status == .cancelled || Task.isCancelled {
                await control.interrupted()
                return .done
            }
            let why = collected.timedOut ? "loading it timed out" : "\(collected.outcome)"
            progress.report.collectionError = collected.error.map(Self.collectionError(from:)) ?? Self.hostError(why)
            return .done
        }
        if let message = report["usageError"]?.stringValue {
            await control.stop(usageError: message)
            return .done
        }
        if let error = report["error"].flatMap(PythonCollectionError.init(json:)) {
            progress.report.collectionError = error
            return .done
        }
        if let reason = report["skipped"]?.stringValue {
            progress.report.skipReason = reason
            return .done
        }
        let tests = report["tests"]?.arrayValue ?? []
        if progress.remaining == nil {
            progress.remaining = tests.filter { $0["selected"]?.boolValue == true }.compactMap { $0["id"]?.stringValue }
            progress.report.deselected = report["deselected"]?.intValue ?? 0
        }
        let described = Dictionary(
            tests.compactMap { test in test["id"]?.stringValue.map { ($0, test) } },
            uniquingKeysWith: { first, _ in first })
        while let id = progress.remaining?.first {
            if await control.shouldStop { return .done }
            let result = try await run(Self.call("run", [.string(id)]))
            var record = self.record(of: result, id: id)
            if let test = described[id] {
                record.name = test["name"]?.stringValue ?? record.name
                record.className = test["class"]?.stringValue
                record.line = test["line"]?.intValue
            }
            progress.report.records.append(record)
            progress.remaining?.removeFirst()
            if record.outcome == .interrupted {
                await control.interrupted()
                return .done
            }
            if options.stopAtFirstFailure, [.failed, .error, .timedOut].contains(record.outcome) {
                await control.stop()
            }
            if result.death != nil { return progress.remaining?.isEmpty == false ? .kernelLost : .done }
            if options.freshKernelPerTest, progress.remaining?.isEmpty == false { return .nextTest }
        }
        return .done
    }

    /// The test's record: `pyrun_testing.run`'s, with what the host saw around it.
    private func record(of result: ExecutionResult, id: String) -> PythonTestRecord {
        let reported = result.result?["application/json"].flatMap {
            PythonTestRecord(json: $0, stdout: result.stdout, stderr: result.stderr)
        }
        var record =
            reported
            ?? PythonTestRecord(
                id: id, name: PythonTestRecord.name(of: id), outcome: .error, exceptionName: result.error?.name,
                message: result.error?.description, traceback: result.error?.traceback ?? [], stdout: result.stdout,
                stderr: result.stderr)
        let seconds = options.timeout.map(\.secondsText) ?? ""
        switch result.status {
        case .ok, .error:
            if record.outcome == .interrupted || (reported == nil && result.error?.name == "KeyboardInterrupt") {
                // Interrupted by this run's cancellation (Ctrl-C), or else by the test itself
                // (`raise KeyboardInterrupt`), which is a failure like any other exception.
                record.outcome = Task.isCancelled ? .interrupted : .failed
            }
        case .timedOut:
            record.outcome = .timedOut
            record.message =
                result.death == nil
                ? "timed out after \(seconds) and was interrupted"
                : "timed out after \(seconds) and ignored the interrupt: its kernel was killed"
        case .cancelled:
            record.outcome = .interrupted
            if let death = result.death { record.message = "interrupted; \(death)" }
        case .kernelDied:
            record.outcome = .error
            record.message = "the test ended its kernel: \(result.death.map { "\($0)" } ?? "it died")"
        case .failedToStart:
            record.outcome = .error
            record.message = "the kernel could not start: \(result.outcome.startFailure?.message ?? "")"
        }
        return record
    }

    private var collectCall: String {
        let keyword: JSONValue = options.keyword.map(JSONValue.string) ?? .null
        switch unit {
        case .file(let path): return Self.call("collect", [.string(path), keyword])
        case .doctests(let module): return Self.call("collect_doctests", [.string(module), keyword])
        }
    }

    /// A call into pyrun_testing without a name of its own in `__main__`. JSON strings are
    /// Python string literals (the serializer escapes no `/`), and JSON null is None.
    static func call(_ function: String, _ arguments: [JSONValue]) -> String {
        let values = arguments.map { $0 == .null ? "None" : $0.serialized() }
        return "__import__('pyrun_testing').\(function)(\(values.joined(separator: ", ")))"
    }

    /// "the prelude /w/tools.py raised at line 5: ValueError: bad", and its traceback, for
    /// each source that failed.
    private static func preludeProblem(_ failures: [PreludeFailure]) -> String {
        failures.map { failure in
            ([failure.description] + failure.error.traceback.map { "    " + $0 }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    private static func collectionError(from error: PythonError) -> PythonCollectionError {
        PythonCollectionError(exceptionName: error.name, message: error.value, line: nil, traceback: error.traceback)
    }

    private static func hostError(_ message: String) -> PythonCollectionError {
        PythonCollectionError(exceptionName: "pyrun", message: message, line: nil, traceback: [])
    }
}
