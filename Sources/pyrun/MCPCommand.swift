import ArgumentParser
import Foundation
import PyRunKit
import PyRunMCP

/// `pyrun mcp`: persistent Python sessions for an agent, as an MCP server on stdio.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve persistent Python sessions to an agent over the Model Context Protocol (stdio).",
        discussion: """
            An MCP client starts this command and talks JSON-RPC on its stdin and stdout; logs go to stderr. \
            Tools: python, python_wait, python_interrupt, python_sessions, python_output. Each session is an \
            interpreter of its own. Interpreters see only PATH, HOME, LANG, LC_*, TERM, TMPDIR, USER, \
            VIRTUAL_ENV and PYTHON* of this process's environment, plus --pass-env names. Every interpreter \
            is shut down when the client closes stdin (once the requests read before that are answered) \
            or on SIGINT, SIGTERM or SIGHUP. When the client \
            declares MCP sampling, the code also gets host.complete(prompt, max_tokens=1024), which asks \
            the client's model.

            With --http 127.0.0.1:PORT a person watches the sessions live in a browser (inputs, output, displays) and can interrupt or run code; the link with its token is printed on stderr. The console is a program of its own, pyrun-console, found next to pyrun or on PATH (`swift build` builds it).

            Claude Code: claude mcp add pyrun -- pyrun mcp
            """)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Characters of output one reply shows at most (the rest is paged with python_output).", valueName: "chars"))
    var maxOutput: Int = OutputBudget.defaultLimit

    @Option(name: .long, help: ArgumentHelp("The largest timeout_s a call may ask for.", valueName: "seconds"))
    var maxTimeout: Double = ToolCatalog.Limits().maximumTimeoutSeconds

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also give the interpreters this variable of the server's environment (repeatable).", valueName: "name"))
    var passEnv: [String] = []

    @Flag(
        name: .long,
        help: "Do not replace values of secret-looking variables (*KEY*, *TOKEN*, *SECRET*, *PASSWORD*) in output.")
    var noRedact = false

    @Option(name: .long, help: ArgumentHelp("Limit each interpreter's address space, e.g. 2G.", valueName: "size"))
    var memoryLimit: ByteCount?

    @Option(
        name: .long,
        help: ArgumentHelp("Limit each interpreter's CPU time (it is killed past it).", valueName: "seconds"))
    var cpuLimit: Int?

    @Option(
        name: .long,
        help: ArgumentHelp("Run the interpreters in this directory (also first on sys.path).", valueName: "dir"))
    var cwd: String?

    @OptionGroup var remote: ViaOption

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The interpreter: a path, or a name looked up on PATH (default: $VIRTUAL_ENV, ./.venv, python3).",
            valueName: "path-or-name"))
    var python: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Helpers every interpreter loads before its first call: `default` (pyrun's read, grep, sh, …), a .py file, a directory of them, or `none` (the default). Repeatable; loaded in order.",
            valueName: "default|none|path"))
    var prelude: [PreludeArgument] = []

    @Option(
        name: .customLong("host-fn"),
        help: ArgumentHelp(
            "Give the code host.NAME(**args), served by running COMMAND (sh -c) with the arguments as JSON on its stdin; its stdout, as JSON, is the value, and a non-zero exit raises HostCallError with its stderr (repeatable).",
            valueName: "name=command"))
    var hostFunctions: [HostFunctionAssignment] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also serve a browser console of the sessions at this address, to watch the agent's code and interrupt it: PORT, HOST:PORT or [IPV6]:PORT (0: any free port). Its link, with a token, goes to stderr.",
            valueName: "address"))
    var http: String?

    @Flag(name: .long, help: "Log what the server and its interpreters do, to stderr.")
    var verbose = false

    mutating func validate() throws {
        guard maxOutput >= 1_000 else { throw ValidationError("--max-output must be at least 1000 characters") }
        guard maxTimeout.isFinite, maxTimeout > 0 else {
            throw ValidationError("--max-timeout must be a positive number of seconds")
        }
        if let cpuLimit, cpuLimit <= 0 { throw ValidationError("--cpu-limit must be a positive number of seconds") }
        if let python, python.isEmpty { throw ValidationError("--python needs a path or a name") }
        if let name = passEnv.first(where: { $0.isEmpty || $0.contains("=") }) {
            throw ValidationError("--pass-env takes a variable name, not \(String(reflecting: name))")
        }
        if !remote.isRemote, let cwd {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: cwd, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--cwd \(cwd): no such directory")
            }
        }
        _ = try PreludeArgument.sources(prelude, byDefault: [])
        if let http {
            do {
                _ = try ConsoleAddress(parsing: http)
            } catch {
                throw ValidationError("--http \(error)")
            }
        }
        try HostFunctionAssignment.validate(hostFunctions)
    }

    func run() async throws {
        PyrunLogging.bootstrap(verbose: verbose)
        let console = try consoleOptions()
        var limits = ToolCatalog.Limits()
        limits.outputCharacters = maxOutput
        limits.maximumTimeoutSeconds = maxTimeout
        limits.defaultTimeoutSeconds = min(limits.defaultTimeoutSeconds, maxTimeout)
        var kernel = KernelConfiguration(
            interpreter: python.map { .path($0) } ?? .automatic,
            workingDirectory: remote.isRemote ? cwd : cwd.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
            prelude: try PreludeArgument.sources(prelude, byDefault: []),
            limits: ResourceLimits(memoryBytes: memoryLimit?.bytes, cpuSeconds: cpuLimit),
            hostFunctions: hostFunctions.map { HostFunction.command(name: $0.name, command: $0.command) },
            launcher: remote.launcher(python: python))
        remote.applyStartupTimeout(to: &kernel)
        let configuration = MCPServerConfiguration(
            kernel: kernel,
            environmentPolicy: KernelEnvironmentPolicy(passing: passEnv),
            redactsSecrets: !noRedact,
            limits: limits,
            console: console)
        let ending = try await MCPServer.serve(
            configuration, transport: try LineTransport.standardIO(),
            logger: PyrunLogging.kernelLogger(verbose: verbose))
        if case .signal(let signalNumber) = ending { ProcessSignals.terminateAsIfUncaught(by: signalNumber) }
    }

    /// The console `--http` asks for, its program found now so a missing one is said before
    /// the agent connects.
    private func consoleOptions() throws -> MCPConsole? {
        // validate() has parsed the address once already.
        guard let http, let address = try? ConsoleAddress(parsing: http) else { return nil }
        let errors = OutputSink.standardError
        do {
            return MCPConsole(executable: try ConsoleProcess.locate(), address: address, verbose: verbose) { line in
                errors.writeLine(line)
            }
        } catch {
            errors.writeLine("pyrun mcp: --http: \(error)")
            throw ExitCode(PyrunExit.usage)
        }
    }
}
