import Foundation
import Logging
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the code of a one-shot comes from.
enum ProgramSource: Equatable {
    /// `-c CODE`.
    case code(String)
    /// `FILE`: run as a program, as `python3 FILE` does.
    case file(String)
    /// `-` or piped standard input.
    case standardInput
}

/// Everything a one-shot needs to know.
struct OneShotRequest {
    var source: ProgramSource
    /// `sys.argv` as python would set it for this source.
    var argv: [String]
    var resultStyle: ResultStyle
    var writesJSON: Bool
    var allowsStdin: Bool
    var options: KernelOptions
}

/// Runs one program in a fresh kernel, streams what it does, and gives the exit status
/// python would have given. The kernel and everything it started are gone when it returns.
enum OneShotRun {
    static func run(_ request: OneShotRequest) async -> Int32 {
        let errors = OutputSink.standardError
        let json = request.writesJSON ? JSONEventWriter(output: .standardOutput) : nil

        let code: String
        var scriptPath: String?
        switch request.source {
        case .code(let text):
            code = text
        case .standardInput:
            code = await StandardInput.shared.readToEnd()
        case .file(let path):
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            guard FileManager.default.isReadableFile(atPath: absolute) else {
                let message = "can't open file '\(path)': no such readable file"
                errors.writeLine("pyrun: \(message)")
                json?.writeOutcome(status: "usageError", exitCode: PyrunExit.usage, outcome: nil, message: message)
                return PyrunExit.usage
            }
            scriptPath = absolute
            if request.options.remote.isRemote {
                // The far side has no such file: its source travels with the code.
                guard let source = FileManager.default.contents(atPath: absolute) else {
                    let message = "can't open file '\(path)': it could not be read"
                    errors.writeLine("pyrun: \(message)")
                    json?.writeOutcome(status: "usageError", exitCode: PyrunExit.usage, outcome: nil, message: message)
                    return PyrunExit.usage
                }
                code = ProgramSetup.sentFileLauncher(source: String(decoding: source, as: UTF8.self))
            } else {
                code = ProgramSetup.fileLauncher
            }
        }
        let program = Program(code: code, scriptPath: scriptPath, request: request, json: json)
        // The body does not throw: every failure is an exit status.
        return
            (try? await withKernel(
                configuration: request.options.configuration,
                logger: PyrunLogging.kernelLogger(verbose: request.options.verbose)
            ) { kernel in
                await program.run(in: kernel)
            }) ?? PyrunExit.pythonException
    }
}

/// One program run in one kernel.
private struct Program {
    let code: String
    let scriptPath: String?
    let request: OneShotRequest
    let json: JSONEventWriter?
    let output = OutputSink.standardOutput
    let errors = OutputSink.standardError

    private func fail(_ message: String, status: Int32, kind: String) -> Int32 {
        errors.writeLine("pyrun: \(message)")
        json?.writeOutcome(status: kind, exitCode: status, outcome: nil, message: message)
        return status
    }

    func run(in kernel: PythonKernel) async -> Int32 {
        let termination = PendingTermination()
        let status = await run(in: kernel, termination: termination)
        return termination.exitStatus ?? status
    }

    private func run(in kernel: PythonKernel, termination: PendingTermination) async -> Int32 {
        let pendingInterrupt = PendingInterrupt()
        let presses = InterruptPresses()
        let startMark = KernelStartMark()
        let interrupts = ProcessSignals.handle([SIGINT]) { _ in
            pendingInterrupt.record()
            switch presses.press() {
            case .interrupt where startMark.hasStarted: Task { await kernel.interrupt() }
            case .interrupt, .kill: Task { await kernel.shutdown(grace: .zero) }
            }
        }
        let terminations = ProcessSignals.handle([SIGTERM, SIGHUP]) { signalNumber in
            termination.record(signalNumber)
            Task {
                await kernel.shutdown(grace: .milliseconds(500))
                exit(128 + signalNumber)
            }
        }
        defer {
            interrupts.cancel()
            terminations.cancel()
        }

        let hello: KernelHello
        do {
            hello = try await kernel.start()
            startMark.markStarted()
        } catch _ where pendingInterrupt.wasRecorded {
            // Ctrl-C ended the start: nothing ran, so nothing to explain.
            json?.writeOutcome(status: "cancelled", exitCode: PyrunExit.interrupted, outcome: nil)
            return PyrunExit.interrupted
        } catch let error as KernelError {
            return fail(
                error.message, status: error.isConfigurationError ? PyrunExit.usage : PyrunExit.pythonException,
                kind: error.isConfigurationError ? "usageError" : "startFailed")
        } catch {
            return fail("\(error)", status: PyrunExit.pythonException, kind: "startFailed")
        }
        json?.writeHello(hello)
        if json == nil {
            for failure in hello.preludeFailures {
                errors.writeLine("pyrun: \(failure); running the code anyway")
                errors.writeLine(failure.error.traceback.joined(separator: "\n"))
            }
        }
        if pendingInterrupt.wasRecorded {
            await kernel.shutdown(grace: .zero)
            json?.writeOutcome(status: "cancelled", exitCode: PyrunExit.interrupted, outcome: nil)
            return PyrunExit.interrupted
        }

        var executionOptions = request.options.executionOptions
        if request.allowsStdin { executionOptions.stdinHandler = OneShotRun.answerFromStandardInput }
        let setup = await kernel.execute(
            ProgramSetup.code(argv: request.argv, scriptPath: scriptPath), options: ExecutionOptions(silent: true))
        let main = await kernel.execute(code, options: executionOptions)
        // A Ctrl-C that came while nothing ran was not delivered to any code: deliver it now.
        if pendingInterrupt.wasRecorded { await kernel.interrupt() }

        let prepared = await setup.outcome()
        guard prepared.status == .ok else {
            await main.cancel()
            if prepared.status == .cancelled {
                // Ctrl-C before the program began: nothing ran, so nothing to explain.
                await kernel.shutdown(grace: .zero)
                json?.writeOutcome(status: "cancelled", exitCode: PyrunExit.interrupted, outcome: prepared)
                return PyrunExit.interrupted
            }
            let status = PyrunExit.status(for: prepared)
            await kernel.shutdown(grace: .seconds(1))
            let why =
                prepared.error?.description ?? prepared.startFailure?.message ?? prepared.death?.description
                ?? "\(prepared)"
            return fail(
                "could not prepare the kernel: \(why)",
                status: status == PyrunExit.ok ? PyrunExit.pythonException : status,
                kind: "startFailed")
        }

        let printer = EventPrinter(
            output: output, errors: errors, displays: DisplayWriter(directory: request.options.displayDir),
            resultStyle: request.resultStyle)
        let program = await show(main, as: main.id, in: kernel, printer: printer)
        var (outcome, notices, readerGone) = (program.outcome, program.notices, program.readerGone)
        if outcome.status == .failedToStart, let failure = outcome.startFailure {
            return fail(failure.message, status: PyrunExit.status(for: outcome), kind: "startFailed")
        }
        if !readerGone, outcome.status == .ok || outcome.status == .error {
            // python3 waits for the program's non-daemon threads before it exits, and so does
            // this: what they print is the program's output, not something to lose.
            let joining = await kernel.execute(
                ProgramSetup.threadJoin, options: ExecutionOptions(timeout: executionOptions.timeout, silent: true))
            let joined = await show(joining, as: main.id, in: kernel, printer: printer, isEpilogue: true)
            readerGone = joined.readerGone
            if joined.outcome.status != .ok {
                // Stopped while it waited (Ctrl-C, the timeout, a death): that decides the status.
                outcome = joined.outcome
                notices += joined.notices
                if json == nil, joined.outcome.status == .cancelled {
                    errors.writeLine("KeyboardInterrupt (while waiting for the program's threads to end)")
                }
            }
        }
        await kernel.shutdown(grace: .seconds(2))
        if !readerGone {
            // What the program's threads or atexit handlers wrote after it ended, as python prints it.
            for late in await kernel.takeLateOutput() {
                let event: ExecutionEvent = late.stream == .stdout ? .stdout(late.text) : .stderr(late.text)
                if let json {
                    json.writeEvent(event, executionID: late.executionID ?? main.id)
                } else {
                    printer.show(event)
                }
            }
        }

        let status = readerGone ? 128 + SIGPIPE : PyrunExit.status(for: outcome)
        if let json {
            json.writeDone(outcome, executionID: main.id)
            json.writeOutcome(exitCode: status, outcome: outcome, notices: notices)
        } else if !readerGone {
            // A prelude failure was said in full, traceback and all, when the kernel started.
            let unsaid = notices.filter { if case .preludeFailed = $0.kind { false } else { true } }
            let launcherEnd =
                outcome.status == .kernelDied
                ? outcome.death.flatMap {
                    RemoteKernelEnd.explanation(
                        of: $0, launcher: request.options.configuration.launcher, cpuLimit: request.options.cpuLimit)
                } : nil
            if let launcherEnd {
                // The launcher's exit said as one, in place of "the kernel exited with status 255".
                let others = unsaid.filter { if case .died = $0.kind { false } else { true } }
                printer.showNotices(others, outcome: outcome, quietWhenExited: false)
                errors.writeLine("pyrun: \(launcherEnd)")
            } else {
                printer.showNotices(unsaid, outcome: outcome, quietWhenExited: true)
            }
        }
        return status
    }
}

extension Program {
    /// What showing one execution's events came to.
    struct ShownRun {
        var outcome = ExecutionOutcome(status: .cancelled)
        var notices: [KernelNotice] = []
        /// Standard output's reader went away (`pyrun … | head`).
        var readerGone = false
    }

    /// Prints (or writes as JSON, under `executionID`) the events of `execution` as they come,
    /// keeping its notices and outcome for the end. An epilogue (code pyrun runs after the
    /// program) shows only the program's output: not its own `started` nor its errors.
    func show(
        _ execution: Execution, as executionID: String, in kernel: PythonKernel, printer: EventPrinter,
        isEpilogue: Bool = false
    ) async -> ShownRun {
        var run = ShownRun()
        for await event in execution {
            switch event {
            case .finished(let end):
                run.outcome = end
            case .notice(let notice):
                run.notices.append(notice)
            case .result where request.resultStyle == .hidden:
                break
            case .error where isEpilogue, .started where isEpilogue:
                break
            default:
                if let json { json.writeEvent(event, executionID: executionID) } else { printer.show(event) }
            }
            if output.isBroken, !run.readerGone {
                // `pyrun … | head`: nobody reads any more, so the code is stopped rather than
                // left producing output for no one.
                run.readerGone = true
                Task { await kernel.shutdown(grace: .zero) }
            }
        }
        return run
    }
}

extension OneShotRun {
    /// Answers `input()` with a line of pyrun's own standard input.
    @Sendable static func answerFromStandardInput(_ prompt: InputPrompt) async throws -> String {
        guard let line = await readInputLine(password: prompt.password) else { throw EndOfStandardInput() }
        return line
    }

    /// Reads one line for `input()`, with echo off for `getpass()`; nil at end of input.
    static func readInputLine(password: Bool) async -> String? {
        guard password else { return await StandardInput.shared.nextLine() }
        let line = await TerminalEcho.withEchoDisabled { await StandardInput.shared.nextLine() }
        // The Enter the user typed was not echoed either.
        OutputSink.standardOutput.write("\n")
        return line
    }
}

/// Standard input ended while `input()` waited for a line.
struct EndOfStandardInput: Error, CustomStringConvertible {
    var description: String { "standard input ended" }
}

/// The Python that makes the kernel look like `python3` started the program: `sys.argv`,
/// and for a file `__file__`, its directory first on `sys.path`, and tracebacks that name
/// the file.
enum ProgramSetup {
    /// Silent code run before the program. JSON string literals are valid Python ones.
    static func code(argv: [String], scriptPath: String?) -> String {
        var lines = [
            "import sys as _pyrun_sys",
            "_pyrun_sys.argv = \(JSONValue.array(argv.map { .string($0) }).serialized())",
        ]
        if let scriptPath {
            let directory = URL(fileURLWithPath: scriptPath).deletingLastPathComponent().resolvingSymlinksInPath().path
            lines.append("__file__ = \(JSONValue.string(scriptPath).serialized())")
            lines.append("_pyrun_sys.path.insert(0, \(JSONValue.string(directory).serialized()))")
        }
        lines.append("del _pyrun_sys")
        return lines.joined(separator: "\n")
    }

    /// Waits for the threads the program started and left running (not daemon threads), as
    /// python3 does at exit. Silent, and its names are deleted, so the namespace is unchanged.
    static let threadJoin = """
        import threading as _pyrun_threading
        for _pyrun_thread in _pyrun_threading.enumerate():
            if _pyrun_thread is not _pyrun_threading.main_thread() and not _pyrun_thread.daemon:
                _pyrun_thread.join()
        del _pyrun_threading, _pyrun_thread
        """

    /// Runs a file read on the host as the program, for a kernel behind a launcher, where the
    /// file is not: its source travels in the code. `__file__` stays the host's path, which
    /// tracebacks name, and `linecache` holds the lines they quote. Like `fileLauncher`, it
    /// leaves no name of its own in the namespace.
    static func sentFileLauncher(source: String) -> String {
        """
        import linecache as _pyrun_linecache
        _pyrun_source = \(JSONValue.string(source).serialized())
        _pyrun_linecache.cache[__file__] = (len(_pyrun_source), None, _pyrun_source.splitlines(True), __file__)
        del _pyrun_linecache
        try:
            _pyrun_code = compile(globals().pop("_pyrun_source"), __file__, "exec", dont_inherit=True)
            exec(globals().pop("_pyrun_code"), globals())
        except BaseException as _pyrun_error:
            _pyrun_error.__traceback__ = _pyrun_error.__traceback__.tb_next
            raise
        """
    }

    /// Runs the file named by `__file__` as the program. Its own frame is removed from
    /// tracebacks, so they start in the file as python's do; the compiled code is taken out
    /// of the namespace before it runs, so the program sees no trace of this.
    static let fileLauncher = """
        try:
            with open(__file__, "rb") as _pyrun_file:
                _pyrun_code = compile(_pyrun_file.read(), __file__, "exec", dont_inherit=True)
            del _pyrun_file
            exec(globals().pop("_pyrun_code"), globals())
        except BaseException as _pyrun_error:
            _pyrun_error.__traceback__ = _pyrun_error.__traceback__.tb_next
            raise
        """
}
