import ArgumentParser

/// `pyrun run`, the default: one program, then exit with python's status.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run code, a file, or standard input once (the default command).",
        discussion: PyrunExit.helpTable)

    @Option(name: .customShort("c"), help: ArgumentHelp("Run CODE; ARGS become sys.argv[1:].", valueName: "code"))
    var command: String?

    @Flag(name: .long, help: "Do not print the value of a final expression.")
    var noResult = false

    @Flag(
        name: .long, help: "Write every event as one JSON line to stdout, ending with an `outcome` line; nothing else.")
    var json = false

    @Flag(name: .long, help: "Answer input() from pyrun's standard input (otherwise input() raises EOFError).")
    var allowStdin = false

    @OptionGroup var kernel: KernelOptions

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("FILE and its arguments; - for standard input.", valueName: "file-and-args"))
    var program: [String] = []

    mutating func validate() throws {
        // Options end at the first word of the program, so help and unknown options land here.
        if command == nil, let first = program.first, first == "--help" || first == "-h" {
            throw CleanExit.helpRequest(Self.self)
        }
        if command == nil, let first = program.first, first.hasPrefix("-"), first != "-", first != "--" {
            throw ValidationError("Unknown option '\(first)'")
        }
        if program.first == "--" { program.removeFirst() }
    }

    func run() async throws {
        PyrunLogging.bootstrap(verbose: kernel.verbose)
        let source: ProgramSource
        let argv: [String]
        if let command {
            source = .code(command)
            argv = ["-c"] + program
        } else if program.first == "-" {
            source = .standardInput
            argv = program
        } else if let file = program.first {
            source = .file(file)
            argv = program
        } else if StandardInput.shared.isTerminal {
            // Plain `pyrun` at a terminal is an interactive session, as `python3` is.
            throw ExitCode(await ReplSession(options: kernel).run())
        } else {
            source = .standardInput
            argv = [""]
        }
        let resultStyle: ResultStyle
        if case .file = source { resultStyle = .hidden } else { resultStyle = noResult ? .hidden : .plain }
        let status = await OneShotRun.run(
            OneShotRequest(
                source: source, argv: argv, resultStyle: resultStyle, writesJSON: json, allowsStdin: allowStdin,
                options: kernel))
        throw ExitCode(status)
    }
}

/// `pyrun repl`: an interactive session with persistent state.
struct ReplCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Start an interactive session (also plain `pyrun` on a terminal).",
        discussion: """
            Lines run when they form complete code; an incomplete one (a `def`, an open
            bracket) continues on the next line, and a blank line ends a block. Ctrl-C
            interrupts running code or clears the line; Ctrl-D leaves. Type /help for the
            session commands (/reset, /kernels, /kernel set, /info).
            """)

    @OptionGroup var kernel: KernelOptions

    func run() async throws {
        PyrunLogging.bootstrap(verbose: kernel.verbose)
        throw ExitCode(await ReplSession(options: kernel).run())
    }
}
