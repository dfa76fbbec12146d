import Foundation
import LineEditing
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The interactive session: IPython-style prompts, state that persists between cells,
/// multi-line input driven by the kernel's own `is_complete`, and `/` session commands.
/// Prompts and the banner appear only on a terminal, so piped input gives clean output; on a
/// terminal, lines are read with a line editor (history, Tab completion by the kernel).
actor ReplSession {
    private let options: KernelOptions
    private var configuration: KernelConfiguration
    private var kernel: PythonKernel
    private let interactive: Bool
    private let output = OutputSink.standardOutput
    private let errors = OutputSink.standardError
    private let printer: EventPrinter
    private let presses = InterruptPresses()

    /// Lines of a cell that is not complete yet.
    private var pendingLines: [String] = []
    /// True from the moment a line is taken until it ran or joined an open cell.
    private var lineInHand = false
    /// A Ctrl-C that came while a line was in hand, before its cell started.
    private var interruptedBeforeRunning = false
    /// True from the moment a cell is submitted until its outcome is shown.
    private var cellInProgress = false
    /// The running cell, once the kernel accepted it.
    private var runningCell: Execution?
    /// A Ctrl-C that came after submission but before the kernel accepted the cell.
    private var interruptBeforeAccepted = false
    /// An `input()` answer being read for the running cell; cancelled when the cell ends,
    /// so a stale read does not swallow the next line typed at the prompt.
    private var inputRead: Task<String?, Never>?
    private var nextExecutionCount = 1
    /// Set when the session should end (Ctrl-D, or `exit()` in a cell).
    private var exitStatus: Int32?
    /// Reads the lines when standard input and output are a terminal.
    private var editor: LineEditor?
    /// Whether a history problem was already reported (once is enough).
    private var historyProblemReported = false
    /// Set when Ctrl-C came before the first kernel said hello: it ends the session.
    private var interruptedStarting = false
    /// Whether the first kernel has said hello.
    private var started = false

    init(options: KernelOptions) {
        self.options = options
        self.configuration = options.configuration
        self.kernel = PythonKernel(
            configuration: configuration, logger: PyrunLogging.kernelLogger(verbose: options.verbose))
        self.interactive = StandardInput.shared.isTerminal
        self.printer = EventPrinter(
            output: .standardOutput, errors: .standardError, displays: DisplayWriter(directory: options.displayDir),
            resultStyle: .numbered)
    }

    /// Runs the session until end of input; returns pyrun's exit status.
    func run() async -> Int32 {
        let interrupts = ProcessSignals.handle([SIGINT]) { _ in Task { await self.interruptPressed() } }
        let terminations = ProcessSignals.handle([SIGTERM, SIGHUP]) { signalNumber in
            Task {
                await self.shutDownKernel()
                exit(128 + signalNumber)
            }
        }
        defer {
            interrupts.cancel()
            terminations.cancel()
        }
        do {
            let hello = try await kernel.start()
            started = true
            if interruptedStarting {
                await kernel.shutdown(grace: .zero)
                return PyrunExit.interrupted
            }
            if interactive {
                output.writeLine(
                    "Python \(hello.pythonVersion) in a pyrun kernel (\(hello.executable))\(launcherSuffix)")
                output.writeLine("Type /help for session commands; Ctrl-D leaves.")
            }
            for failure in hello.preludeFailures {
                errors.writeLine("pyrun: \(failure):")
                errors.writeLine(failure.error.traceback.joined(separator: "\n"))
            }
        } catch _ where interruptedStarting {
            return PyrunExit.interrupted
        } catch {
            errors.writeLine("pyrun: \(error)")
            let isUsage = (error as? KernelError)?.isConfigurationError == true
            return isUsage ? PyrunExit.usage : PyrunExit.pythonException
        }
        if interactive {
            editor = LineEditor.forInteractiveSession { [weak self] text, cursor in
                await self?.completions(for: text, cursor: cursor)
            }
            do { try await editor?.loadHistory() } catch { reportHistoryProblem(error) }
        }
        while exitStatus == nil {
            switch await nextLine() {
            case .line(let line):
                await handle(line)
            case .interrupted:
                // Ctrl-C at the prompt: drop the line and any open cell, as IPython does.
                pendingLines.removeAll()
                output.write("KeyboardInterrupt\n")
            case .endOfInput:
                // A cell still open runs, as if a blank line had ended it.
                if !pendingLines.isEmpty { await runCell(pendingLines.joined(separator: "\n")) }
                if interactive, editor == nil { output.write("\n") }
                exitStatus = exitStatus ?? PyrunExit.ok
            }
        }
        await kernel.shutdown()
        return exitStatus ?? PyrunExit.ok
    }

    // MARK: - Lines

    private static let continuationPrompt = "   ...: "

    private var prompt: String {
        pendingLines.isEmpty ? "In [\(nextExecutionCount)]: " : Self.continuationPrompt
    }

    private func showPrompt() {
        guard interactive, editor == nil else { return }
        output.write(prompt)
    }

    /// The next line: from the editor on a terminal, else as typed or piped.
    private func nextLine() async -> LineEditor.Outcome {
        if let editor {
            return await editor.readLine(prompt: prompt, continuationPrompt: Self.continuationPrompt)
        }
        showPrompt()
        return await StandardInput.shared.nextLine().map { .line($0) } ?? .endOfInput
    }

    /// What the kernel offers to complete `text` at `cursor`, for Tab.
    private func completions(for text: String, cursor: Int) async -> Completions? {
        guard let result = try? await kernel.complete(code: text, cursor: cursor) else { return nil }
        return Completions(result)
    }

    /// Keeps a cell or command in the history, so Up brings it back whole, in this session
    /// and the next.
    private func remember(_ entry: String) async {
        guard let editor else { return }
        let entry = entry.trimmingCharacters(in: .whitespacesAndNewlines)
        do { try await editor.addHistory(entry) } catch { reportHistoryProblem(error) }
    }

    private func reportHistoryProblem(_ error: any Error) {
        guard !historyProblemReported else { return }
        historyProblemReported = true
        errors.writeLine("pyrun: history is not saved: \(error)")
    }

    private func handle(_ line: String) async {
        lineInHand = true
        defer {
            lineInHand = false
            interruptedBeforeRunning = false
        }
        if pendingLines.isEmpty {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return }
            // No Python statement starts with "/", so these never shadow code.
            if trimmed.hasPrefix("/") {
                await remember(trimmed)
                await runCommand(trimmed)
                return
            }
        }
        pendingLines.append(line)
        let code = pendingLines.joined(separator: "\n")
        // The kernel's own compiler decides, so the prompt agrees with Python on every
        // construct; if it cannot answer, running the code shows what is wrong.
        let completeness = (try? await kernel.isComplete(code: code + "\n")) ?? .complete
        if interruptedBeforeRunning { return dropInterruptedCell() }
        if case .incomplete = completeness { return }
        if Self.blockAwaitsBlankLine(pendingLines) { return }
        pendingLines.removeAll()
        await remember(code)
        if interruptedBeforeRunning { return dropInterruptedCell() }
        await runCell(code)
    }

    /// Ctrl-C came after Enter but before the cell started: it does not start, as in python.
    private func dropInterruptedCell() {
        pendingLines.removeAll()
        output.write(interactive ? "\nKeyboardInterrupt\n" : "")  // after the terminal's "^C"
    }

    /// Whether an indented block is still open: the compiler calls `def f():` plus one body
    /// line complete, but a prompt must wait for a blank line before running it, as python's
    /// and IPython's do, or the second line of the body could never be typed.
    static func blockAwaitsBlankLine(_ lines: [String]) -> Bool {
        guard lines.count > 1, let last = lines.last, last.first == " " || last.first == "\t" else { return false }
        return lines.contains { $0.trimmingCharacters(in: .whitespaces).hasSuffix(":") }
    }

    private func runCell(_ code: String) async {
        cellInProgress = true
        defer {
            cellInProgress = false
            runningCell = nil
            interruptBeforeAccepted = false
            inputRead?.cancel()
            inputRead = nil
        }
        presses.reset()
        var cellOptions = options.executionOptions
        cellOptions.stdinHandler = { [weak self] prompt in
            guard let self else { throw EndOfStandardInput() }
            return try await self.readInput(prompt)
        }
        let execution = await kernel.execute(code, options: cellOptions)
        runningCell = execution
        if interruptBeforeAccepted { await kernel.interrupt() }
        var outcome = ExecutionOutcome(status: .cancelled)
        var notices: [KernelNotice] = []
        for await event in execution {
            switch event {
            case .finished(let end): outcome = end
            case .notice(let notice): notices.append(notice)
            default: printer.show(event)
            }
        }
        guard outcome.status != .failedToStart else {
            errors.writeLine("pyrun: the kernel could not run this cell; /reset starts a fresh one")
            return
        }
        if let count = outcome.executionCount, outcome.status != .kernelDied { nextExecutionCount = count + 1 }
        printer.showNotices(notices, outcome: outcome, quietWhenExited: false)
        if outcome.death != nil {
            nextExecutionCount = 1
            errors.writeLine("pyrun: a fresh kernel starts with the next cell; earlier state is gone")
        }
        if outcome.status == .error, let error = outcome.error, error.name == "SystemExit" {
            // exit() and quit() leave the session, as they do in python and IPython.
            exitStatus = SystemExitCode(exceptionValue: error.value).status
        }
    }

    private func readInput(_ prompt: InputPrompt) async throws -> String {
        guard cellInProgress else { throw EndOfStandardInput() }
        let read = Task { await OneShotRun.readInputLine(password: prompt.password) }
        inputRead = read
        guard let line = await read.value else { throw EndOfStandardInput() }
        return line
    }

    // MARK: - Ctrl-C

    private func interruptPressed() async {
        guard started else {
            // Nothing runs yet to interrupt: Ctrl-C ends a start that may never answer.
            interruptedStarting = true
            await kernel.shutdown(grace: .zero)
            return
        }
        // The editor holds the terminal raw, so this came from elsewhere (`kill -INT`):
        // treated as Ctrl-C typed at the prompt.
        if await editor?.interrupt() == true { return }
        if lineInHand, !cellInProgress {
            interruptedBeforeRunning = true
            return
        }
        guard cellInProgress else {
            // Between lines: drop the line (and any open cell), as IPython does.
            pendingLines.removeAll()
            output.write(interactive ? "\nKeyboardInterrupt\n" : "")
            showPrompt()
            return
        }
        guard runningCell != nil else {
            interruptBeforeAccepted = true
            return
        }
        switch presses.press() {
        case .interrupt:
            await kernel.interrupt()
        case .kill:
            errors.writeLine("\npyrun: second Ctrl-C: killing the kernel")
            await kernel.shutdown(grace: .zero)
        }
    }

    private func shutDownKernel() async {
        await kernel.shutdown(grace: .milliseconds(500))
    }

    // MARK: - Session commands

    static let helpText = """
        Session commands:
          /reset                  start a fresh interpreter (all state is lost)
          /kernels                list the Python interpreters found (not behind --via)
          /kernel set NAME|PATH   switch interpreter: a path, a name on PATH, or a version
                                  such as 3.12 (the same interpreter keeps its state);
                                  behind --via, the far side's name or path
          /info                   what the kernel is: pid, version, executable, cwd, launcher
          /help                   this list
        On a terminal: arrows, Home/End and Ctrl-A/E/K/U/W/Y edit the line; Up/Down and
        Ctrl-R reach the history (kept in $XDG_STATE_HOME/pyrun/history, else
        ~/.local/state/pyrun/history); Tab completes names, or indents at the line start.
        Ctrl-C interrupts running code (twice within 2 s kills it) or clears the line;
        Ctrl-D leaves.
        """

    private func runCommand(_ line: String) async {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch (words.first ?? "", words.dropFirst().first) {
        case ("/help", _), ("/?", _):
            output.writeLine(Self.helpText)
        case ("/reset", _):
            await reset()
        case ("/kernels", _):
            await listKernels()
        case ("/kernel", "set") where words.count >= 3:
            await switchKernel(to: words.dropFirst(2).joined(separator: " "))
        case ("/kernel", _):
            errors.writeLine("usage: /kernel set NAME_OR_PATH (see /kernels)")
        case ("/info", _):
            await showInfo()
        default:
            errors.writeLine("unknown command \(words.first ?? line); /help lists the session commands")
        }
    }

    private func reset() async {
        do {
            let hello = try await kernel.restart()
            nextExecutionCount = 1
            output.writeLine("Fresh interpreter: Python \(hello.pythonVersion) (\(hello.executable))")
        } catch {
            errors.writeLine("pyrun: could not restart the kernel: \(error)")
        }
    }

    private func discoverInterpreters() async -> [PythonInterpreter] {
        await InterpreterDiscovery.availableInterpreters(
            environment: configuration.resolvedEnvironment(), workingDirectory: configuration.workingDirectory)
    }

    private func listKernels() async {
        let launcher = configuration.launcher
        if launcher.isRemote {
            // Discovery looks at this machine's PATH and pyenv, not at the far side's.
            errors.writeLine(
                "the far side's interpreters cannot be listed from here; the kernel runs \(launcher.python) \(viaText); /kernel set NAME_OR_PATH runs another one there"
            )
            return
        }
        let current = await kernel.interpreter?.realExecutablePath
        let found = await discoverInterpreters()
        if found.isEmpty {
            errors.writeLine("no Python interpreters found")
            return
        }
        for interpreter in found {
            let marker = interpreter.realExecutablePath == current ? "*" : " "
            output.writeLine("\(marker) \(interpreter.version)  \(interpreter.path)  (\(interpreter.source.rawValue))")
        }
    }

    private func switchKernel(to name: String) async {
        if configuration.launcher.isRemote {
            await switchRemoteKernel(to: name)
            return
        }
        let known = await discoverInterpreters()
        let chosen: PythonInterpreter
        do {
            chosen = try await InterpreterDiscovery.interpreter(
                named: name, among: known, environment: configuration.resolvedEnvironment(),
                workingDirectory: configuration.workingDirectory)
        } catch {
            errors.writeLine("\(error)\nGive one of these names or versions, or a path.")
            return
        }
        let current = await kernel.interpreter?.realExecutablePath
        if current == chosen.realExecutablePath {
            output.writeLine("Already running Python \(chosen.version) (\(chosen.executable)); state kept")
            return
        }
        var newConfiguration = configuration
        newConfiguration.interpreter = .path(chosen.executable)
        await replaceKernel(with: newConfiguration, naming: chosen.executable)
    }

    /// Behind a launcher the far side's interpreter is the launcher's: nothing here can check
    /// the name, so the far side's start says whether it exists.
    private func switchRemoteKernel(to name: String) async {
        let launcher = configuration.launcher
        if name == launcher.python {
            output.writeLine("Already running \(name) \(viaText); state kept")
            return
        }
        var switched = KernelLauncher.command(launcher.prefix, python: name, joinsArguments: launcher.joinsArguments)
        switched.codeCache = launcher.codeCache
        var newConfiguration = configuration
        newConfiguration.launcher = switched
        await replaceKernel(with: newConfiguration, naming: "\(name) \(viaText)")
    }

    /// Starts a kernel with `newConfiguration` and, once it said hello, shuts the old one down
    /// and uses the new one; on failure the old one stays.
    private func replaceKernel(with newConfiguration: KernelConfiguration, naming name: String) async {
        let newKernel = PythonKernel(
            configuration: newConfiguration, logger: PyrunLogging.kernelLogger(verbose: options.verbose))
        do {
            let hello = try await newKernel.start()
            await kernel.shutdown()
            kernel = newKernel
            configuration = newConfiguration
            nextExecutionCount = 1
            output.writeLine(
                "Switched to Python \(hello.pythonVersion) (\(hello.executable))\(launcherSuffix); state was reset")
        } catch {
            await newKernel.shutdown()
            errors.writeLine("pyrun: could not start \(name): \(error); still on the previous kernel")
        }
    }

    /// "via ssh -T host --": the launcher command, as `--via` gave it.
    private var viaText: String {
        "via \(configuration.launcher.prefix.joined(separator: " "))"
    }

    /// " via …" after the executable for a remote kernel, whose executable is the far side's.
    private var launcherSuffix: String {
        configuration.launcher.isRemote ? " \(viaText)" : ""
    }

    private func showInfo() async {
        do {
            let info = try await kernel.info()
            output.writeLine(
                """
                pid         \(info.pid)
                python      \(info.pythonVersion)
                executable  \(info.executable)
                cwd         \(info.workingDirectory)
                executions  \(info.executionCount)
                launcher    \(configuration.launcher.isRemote ? viaText : "local")
                """)
        } catch {
            errors.writeLine("pyrun: the kernel did not answer: \(error)")
        }
    }
}
