import ArgumentParser
import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun exec`: one piece of code in a shared session of a running server, shown and
/// ended as the one-shot shows and ends it (the same exit statuses, the same `--json`).
struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run code in a shared session of a running server (see pyrun serve).",
        discussion: """
            The code runs in the session's live kernel, after whatever other clients sent before it, and sees the state they left; everyone attached to the session sees it run. Ctrl-C interrupts it (a second Ctrl-C stops waiting; the code's end is still recorded in the session). A FILE's contents run as they are: sys.argv and __file__ are the session's, not set for the file.

            \(PyrunExit.helpTable)
            """)

    @Option(
        name: .long, help: ArgumentHelp("The server (default: the only one running, or 'default').", valueName: "name"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("The session to run in.", valueName: "name"))
    var session: String = ServeNames.defaultSession

    @Option(name: .customShort("c"), help: ArgumentHelp("Run CODE.", valueName: "code"))
    var command: String?

    @Option(
        name: .customLong("as"),
        help: ArgumentHelp("The label others see on this code (default: user, exec and pid).", valueName: "label"))
    var label: String?

    @Flag(name: .long, help: "Do not print the value of a final expression.")
    var noResult = false

    @Flag(
        name: .long,
        help:
            "Write every event as one JSON line to stdout, ending with an `outcome` line (no `hello`: the kernel already runs)."
    )
    var json = false

    @Flag(name: .long, help: "Answer input() from pyrun's standard input (otherwise input() raises EOFError).")
    var allowStdin = false

    @Option(
        name: .long,
        help: ArgumentHelp("Interrupt the code after this many seconds (exit status 124).", valueName: "seconds"))
    var timeout: Seconds?

    @Option(
        name: .long,
        help: ArgumentHelp("Drop output past this many bytes (e.g. 10000 or 1M); a notice says so.", valueName: "bytes")
    )
    var maxOutput: ByteCount?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write image/* displays to files here (default: a new temporary directory).", valueName: "dir"))
    var displayDir: String?

    @Argument(help: ArgumentHelp("A file to run, or - for standard input (the default without -c).", valueName: "file"))
    var file: String?

    mutating func validate() throws {
        if command != nil, file != nil { throw ValidationError("give -c CODE or a FILE, not both") }
    }

    func run() async throws {
        let errors = OutputSink.standardError
        let json = self.json ? JSONEventWriter(output: .standardOutput) : nil
        func fail(_ message: String, status: Int32, kind: String) -> ExitCode {
            errors.writeLine("pyrun exec: \(message)")
            json?.writeOutcome(status: kind, exitCode: status, outcome: nil, message: message)
            return ExitCode(status)
        }

        let code: String
        var showsResult = !noResult
        if let command {
            code = command
        } else if let file, file != "-" {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw fail(
                    "can't open file '\(file)': no such readable file", status: PyrunExit.usage, kind: "usageError")
            }
            code = String(decoding: data, as: UTF8.self)
            showsResult = false  // a file is a program, as python runs it
        } else {
            code = await StandardInput.shared.readToEnd()
        }

        let client: ServeClient
        do {
            client = try await ServeClient.connect(server: server)
        } catch {
            throw fail(error.message, status: PyrunExit.usage, kind: "serverNotFound")
        }
        let execution: RemoteExecution
        do {
            execution = try await client.execute(
                code, session: session, client: clientLabel(command: "exec", chosen: label),
                options: RemoteExecutionOptions(
                    timeout: timeout?.duration, maxOutputBytes: maxOutput?.bytes, allowStdin: allowStdin))
        } catch {
            throw fail(error.message, status: PyrunExit.usage, kind: "rejected")
        }
        let status = await ExecShow(
            client: client, execution: execution, json: json, showsResult: showsResult, displayDir: displayDir
        ).run()
        await client.close()
        throw ExitCode(status)
    }
}

/// Shows one remote execution as the one-shot shows a local one, and answers its prompts.
private struct ExecShow {
    let client: ServeClient
    let execution: RemoteExecution
    let json: JSONEventWriter?
    let showsResult: Bool
    let displayDir: String?

    func run() async -> Int32 {
        let termination = PendingTermination()
        let status = await run(termination: termination)
        return termination.exitStatus ?? status
    }

    private func run(termination: PendingTermination) async -> Int32 {
        let client = self.client
        let execution = self.execution
        let presses = InterruptPresses()
        let gaveUp = PendingInterrupt()
        // Ctrl-C interrupts the code in the session; a second one within 2 s stops waiting.
        // SIGTERM and SIGHUP cancel the code and end the client with 128 + the signal.
        let interrupts = ProcessSignals.handle([SIGINT, SIGTERM, SIGHUP]) { signalNumber in
            if signalNumber == SIGINT, presses.press() == .interrupt {
                Task { try? await client.cancel(session: execution.session, executionID: execution.id) }
                return
            }
            if signalNumber != SIGINT { termination.record(signalNumber) }
            gaveUp.record()
            Task {
                try? await client.cancel(session: execution.session, executionID: execution.id)
                await client.close()
            }
        }
        defer { interrupts.cancel() }

        let printer = EventPrinter(
            output: .standardOutput, errors: .standardError, displays: DisplayWriter(directory: displayDir),
            resultStyle: showsResult ? .plain : .hidden)
        var outcome: ExecutionOutcome?
        var notices: [KernelNotice] = []
        do {
            for try await event in execution {
                switch event {
                case .finished(let end): outcome = end
                case .notice(let notice): notices.append(notice)
                case .result where !showsResult: break
                case .inputRequest(_, let password):
                    if let json { json.writeEvent(event, executionID: execution.id) } else { printer.show(event) }
                    let answer = await OneShotRun.readInputLine(password: password)
                    await client.sendInput(answer, session: execution.session, executionID: execution.id)
                default:
                    if let json { json.writeEvent(event, executionID: execution.id) } else { printer.show(event) }
                }
            }
        } catch {
            if gaveUp.wasRecorded {
                json?.writeOutcome(
                    status: "detached", exitCode: termination.exitStatus ?? PyrunExit.interrupted, outcome: nil)
                return PyrunExit.interrupted
            }
            let message = (error as? ServeError)?.message ?? "\(error)"
            OutputSink.standardError.writeLine("pyrun exec: \(message)")
            json?.writeOutcome(
                status: "connectionLost", exitCode: PyrunExit.pythonException, outcome: nil, message: message)
            return PyrunExit.pythonException
        }
        guard let outcome else { return PyrunExit.pythonException }
        let status = PyrunExit.status(for: outcome)
        if let json {
            json.writeDone(outcome, executionID: execution.id)
            json.writeOutcome(exitCode: status, outcome: outcome, notices: notices)
        } else {
            printer.showNotices(notices, outcome: outcome, quietWhenExited: false)
            if outcome.status == .failedToStart, let failure = outcome.startFailure {
                OutputSink.standardError.writeLine("pyrun exec: \(failure.message)")
            }
        }
        return status
    }
}
