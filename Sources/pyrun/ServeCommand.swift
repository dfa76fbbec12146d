import ArgumentParser
import Foundation
import Logging
import PyRunKit
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun serve`: a foreground server of shared sessions on a private Unix socket.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve shared Python sessions that several clients use at once.",
        discussion: """
            Runs in the foreground until `pyrun stop NAME`, Ctrl-C or SIGTERM, which shut every kernel down (a second one ends it at once). Clients find the server through its connection file in the private run directory ($XDG_RUNTIME_DIR/pyrun, else ~/.pyrun/run; mode 0700, socket 0600):

              pyrun exec -c 'x = 1'        run code in the session "main" (--session S for another)
              pyrun attach                 watch and type into "main" live, history first
              pyrun ls                     servers and their sessions
              pyrun stop                   shut it down

            With --http 127.0.0.1:PORT it also serves a browser console of the same sessions: it prints a link with a token (open it; the page keeps the token in a cookie), and refuses requests without it or from other origins. The console is a program of its own, pyrun-console, found next to pyrun or on PATH (`swift build` builds it). A console that cannot listen (its port taken) ends the server at once, with exit status 1.

            Sessions are made on first use of their name; each runs in its own kernel, which starts on first use and again after a crash. Each session keeps a journal of the last entries (inputs with who sent them, output, the kernel's starts and deaths) that attach replays.
            """)

    @Option(name: .long, help: ArgumentHelp("The server's name, as clients give it.", valueName: "name"))
    var name: String = ServeNames.defaultServer

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The interpreter of every session: a path, or a name looked up on PATH (default: $VIRTUAL_ENV, ./.venv, python3).",
            valueName: "path-or-name"))
    var python: String?

    @Option(
        name: .long, help: ArgumentHelp("Run the kernels in this directory (also first on sys.path).", valueName: "dir")
    )
    var cwd: String?

    @OptionGroup var remote: ViaOption

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Helpers each kernel loads when it starts: `default`, a .py file, a directory of them, or `none` (the default). Repeatable; loaded in order.",
            valueName: "default|none|path"))
    var prelude: [PreludeArgument] = []

    @Option(name: .long, help: ArgumentHelp("Journal entries each session keeps for replay.", valueName: "count"))
    var journalEntries: Int = JournalLimits().maximumEntries

    @Option(name: .long, help: ArgumentHelp("Bytes each session's journal keeps, e.g. 8M.", valueName: "size"))
    var journalBytes: ByteCount = ByteCount(bytes: JournalLimits().maximumBytes)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also serve the browser console at this address: PORT, HOST:PORT or [IPV6]:PORT (0: any free port). Loopback unless asked.",
            valueName: "address"))
    var http: String?

    @Flag(name: .long, help: "Log what the server and its kernels do, to stderr.")
    var verbose = false

    mutating func validate() throws {
        do {
            try ServeNames.validateServerName(name)
        } catch {
            throw ValidationError(error.message)
        }
        if !remote.isRemote, let cwd {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: cwd, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--cwd \(cwd): no such directory")
            }
        }
        _ = try PreludeArgument.sources(prelude, byDefault: [])
        if let python, python.isEmpty { throw ValidationError("--python needs a path or a name") }
        if let http {
            do {
                _ = try ConsoleAddress(parsing: http)
            } catch {
                throw ValidationError("--http \(error)")
            }
        }
        guard journalEntries > 0 else { throw ValidationError("--journal-entries must be at least 1") }
        guard journalBytes.bytes > 0 else { throw ValidationError("--journal-bytes must be at least 1") }
    }

    func run() async throws {
        PyrunLogging.bootstrap(verbose: verbose)
        let errors = OutputSink.standardError
        // A console that cannot run is said now, before any kernel starts.
        var consoleExecutable: String?
        if http != nil {
            do {
                consoleExecutable = try ConsoleProcess.locate()
            } catch {
                errors.writeLine("pyrun serve: --http: \(error)")
                throw ExitCode(PyrunExit.usage)
            }
        }
        var kernelConfiguration = KernelConfiguration(
            interpreter: python.map { .path($0) } ?? .automatic, workingDirectory: cwd,
            prelude: try PreludeArgument.sources(prelude, byDefault: []), launcher: remote.launcher(python: python))
        remote.applyStartupTimeout(to: &kernelConfiguration)
        // A wrong interpreter is said now, not at the first client's code (a far side's, at
        // its first start).
        if !remote.isRemote {
            do {
                _ = try await InterpreterResolver.resolve(
                    kernelConfiguration.interpreter, workingDirectory: cwd,
                    environment: kernelConfiguration.resolvedEnvironment())
            } catch {
                errors.writeLine("pyrun serve: \(error)")
                throw ExitCode(PyrunExit.usage)
            }
        }
        let daemon: ServeDaemon
        do {
            daemon = try ServeDaemon(
                name: name, poolConfiguration: PoolConfiguration(defaultConfiguration: kernelConfiguration),
                journalLimits: JournalLimits(maximumEntries: journalEntries, maximumBytes: journalBytes.bytes),
                // The server's stderr is its log: kernel deaths and refused connections are
                // worth a line there, as warnings.
                logger: Logger(label: "pyrun.serve"))
        } catch {
            errors.writeLine("pyrun serve: \(error.message)")
            throw ExitCode(PyrunExit.pythonException)
        }
        // SIGINT, SIGTERM and SIGHUP stop it as `pyrun stop` does: every kernel shut down. A
        // second one ends it at once, whatever the first is still waiting for: its files go,
        // and its kernels and console end with it (they watch for its death).
        let stopSignals = Atomic<Int>(0)
        let stopSignalHandling = ProcessSignals.handle([SIGINT, SIGTERM, SIGHUP]) { signalNumber in
            if stopSignals.add(1, ordering: .sequentiallyConsistent).newValue > 1 {
                daemon.connectionFile.remove()
                ProcessSignals.terminateAsIfUncaught(by: signalNumber)
            }
            Task { await daemon.stop() }
        }
        defer { stopSignalHandling.cancel() }
        let file = daemon.connectionFile
        errors.writeLine("pyrun serve: '\(name)' listening on \(file.socketPath) (pid \(file.pid))")
        errors.writeLine(
            "pyrun serve: run code with `pyrun exec\(serverOption) -c CODE`, watch with `pyrun attach\(attachTarget)`, stop with `pyrun stop \(name)`"
        )
        // validate() has parsed it once already.
        let console = http.flatMap { try? ConsoleAddress(parsing: $0) }.flatMap { address in
            consoleExecutable.map { startConsole($0, at: address, of: daemon) }
        }
        await daemon.waitUntilFinished()
        let consoleFailed = await console?.value ?? false
        errors.writeLine("pyrun serve: '\(name)' stopped")
        if consoleFailed { throw ExitCode(PyrunExit.pythonException) }
    }

    /// Starts the browser console of the daemon's sessions (`pyrun-console`, a child bridged
    /// to the daemon's socket) and prints its link; a console that cannot listen stops the
    /// daemon, so the failure is not missed. The child ends with the daemon's socket.
    /// - Returns: the console's task, done once the daemon and the console have both ended;
    ///   its value says whether the console failed to start.
    private func startConsole(_ executable: String, at address: ConsoleAddress, of daemon: ServeDaemon) -> Task<
        Bool, Never
    > {
        let errors = OutputSink.standardError
        let verbose = self.verbose
        return Task {
            let console: ConsoleProcess
            do {
                console = try ConsoleProcess.start(
                    executable: executable, socketPath: daemon.connectionFile.socketPath, address: address,
                    verbose: verbose
                ) { line in errors.writeLine(line) }
            } catch {
                errors.writeLine("pyrun serve: the console cannot start: \(error)")
                await daemon.stop()
                return true
            }
            // The daemon may stop first (a signal, `pyrun stop`) while the console still starts.
            let start = await withTaskGroup(of: ConsoleStart.self) { group in
                group.addTask { await console.url().map(ConsoleStart.listening) ?? .endedBeforeListening }
                group.addTask {
                    await daemon.waitUntilFinished()
                    return .daemonFinished
                }
                defer { group.cancelAll() }
                return await group.next() ?? .daemonFinished
            }
            let url: String
            switch start {
            case .listening(let link):
                url = link
            case .endedBeforeListening:
                let status = await console.waitForExit()
                errors.writeLine("pyrun serve: the console on \(address) ended before it listened (it \(status))")
                await daemon.stop()
                return true
            case .daemonFinished:
                await console.stop()
                return false
            }
            errors.writeLine("pyrun serve: console at \(url)")
            let consoleEndedFirst = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    _ = await console.waitForExit()
                    return true
                }
                group.addTask {
                    await daemon.waitUntilFinished()
                    return false
                }
                defer { group.cancelAll() }
                return await group.next() ?? false
            }
            if consoleEndedFirst {
                let status = await console.waitForExit()
                errors.writeLine("pyrun serve: the console stopped (it \(status)); the sessions are still served")
                await daemon.waitUntilFinished()
            } else {
                // It ends at the end of the daemon's socket; this makes sure of it.
                await console.stop()
            }
            return false
        }
    }

    /// How the console's start ended.
    private enum ConsoleStart: Sendable {
        /// It listens; the link to open.
        case listening(String)
        /// It exited without listening (its stderr said why).
        case endedBeforeListening
        /// The daemon stopped before the console said anything.
        case daemonFinished
    }

    private var serverOption: String { name == ServeNames.defaultServer ? "" : " --server \(name)" }
    private var attachTarget: String { name == ServeNames.defaultServer ? "" : " \(name):\(ServeNames.defaultSession)" }
}
