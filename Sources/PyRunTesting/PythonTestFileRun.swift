import Foundation
import PyRunKit

/// One unit of a `PythonTestRun`: a fresh workspace and a fresh kernel, `collect`, then one
/// `run` per test. A test that ignores its timeout's interrupt, or ends its kernel, costs that
/// kernel: the unit goes on with the next test in another fresh kernel and workspace.
struct PythonTestFileRun {
    let unit: PythonTestUnit
    let options: PythonTestRun.Options
    let control: RunControl

    /// How one kernel's turn ended.
    private enum Turn {
        /// Every test ran, or the run stops.
        case done
        /// The kernel is gone with tests left: they go on in a fresh one.
        case kernelLost
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

    func run() async -> PythonTestFileReport {
        let progress = Progress(unit: unit)
        let scratch: ScratchDirectory
        do {
            scratch = try ScratchDirectory(prefix: "pyrun-test-")
        } catch {
            progress.report.collectionError = Self.hostError("\(error)")
            return progress.report
        }
        defer { scratch.remove() }  // after every kernel of the unit is gone
        var kernels = 0
        while true {
            kernels += 1
            let turn: Turn
            do {
                let configuration = try makeConfiguration(in: scratch, number: kernels)
                turn = try await withKernel(configuration: configuration, logger: options.logger) { kernel in
                    try await runTests(in: kernel, progress: progress)
                }
            } catch let error as KernelError where error.isConfigurationError {
                await control.stop(usageError: error.message)
                return progress.report
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
                return progress.report
            }
            switch turn {
            case .done:
                return progress.report
            case .kernelLost:
                progress.report.kernelReplacements += 1
            }
        }
    }

    /// The kernel for turn `number`: a workspace of its own (a fresh copy of the fixtures),
    /// and a `TMPDIR` of its own, both inside the unit's scratch directory.
    private func makeConfiguration(in scratch: ScratchDirectory, number: Int) throws -> KernelConfiguration {
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
        return configuration
    }

    /// Collects the unit in `kernel`, then runs what is left of it there.
    private func runTests(in kernel: PythonKernel, progress: Progress) async throws -> Turn {
        let timeout = ExecutionOptions(timeout: options.timeout)
        let collected = try await kernel.run(collectCall, options: timeout)
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
            let result = try await kernel.run(Self.call("run", [.string(id)]), options: timeout)
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

    private static func collectionError(from error: PythonError) -> PythonCollectionError {
        PythonCollectionError(exceptionName: error.name, message: error.value, line: nil, traceback: error.traceback)
    }

    private static func hostError(_ message: String) -> PythonCollectionError {
        PythonCollectionError(exceptionName: "pyrun", message: message, line: nil, traceback: [])
    }
}
