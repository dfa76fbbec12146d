import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun`: Python code in a live kernel, once (`run`, the default) or interactively (`repl`).
@main
struct PyrunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pyrun",
        abstract: "Run Python code in a pyrun kernel, once or interactively.",
        usage: """
            pyrun [options] -c CODE [ARGS...]
            pyrun [options] FILE [ARGS...]
            pyrun [options] - [ARGS...]        (or code piped to standard input)
            pyrun repl [options]               (or plain `pyrun` on a terminal)
            pyrun test [PATH...] [options]     (Python tests of a prelude, a kernel per file)
            pyrun serve | exec | attach | ls | stop   (shared sessions; see pyrun serve --help)
            pyrun mcp [options]                (an MCP server on stdio, for agents)
            """,
        discussion: """
            Output streams live: stdout to stdout, stderr and tracebacks to stderr. The value of a final expression is printed, as `ipython -c` does (not for FILE, which is a program). Ctrl-C interrupts the code; a second Ctrl-C within 2 s kills the kernel. Nothing the code started is left running when pyrun exits.

            \(PyrunExit.helpTable)

            The options of `pyrun run` follow; they are given directly (pyrun --timeout 5 -c ...).
            """,
        subcommands: [
            RunCommand.self, ReplCommand.self, TestCommand.self, ServeCommand.self, ExecCommand.self,
            AttachCommand.self, ListServersCommand.self, StopServerCommand.self, MCPCommand.self,
        ],
        defaultSubcommand: RunCommand.self)

    /// Parses, runs, and exits; usage errors exit with 2 as python's do (the argument
    /// parser's own default is 64).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments == ["--help"] || arguments == ["-h"] {
            // One page for the common case: this overview, then the options of the default
            // command, which is where they are given.
            OutputSink.standardOutput.writeLine(helpMessage())
            let runHelp = RunCommand.helpMessage()
            let options = runHelp.range(of: "ARGUMENTS:").map { String(runHelp[$0.lowerBound...]) } ?? runHelp
            OutputSink.standardOutput.writeLine(options)
            return
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                OutputSink.standardError.writeLine(fullMessage(for: error))
                terminateProcess(status: arguments.first == "test" ? TestCommand.usageStatus : PyrunExit.usage)
            }
            exit(withError: error)
        }
    }
}

/// Ends the process; the command's static `exit(withError:)` shadows the C function there.
private func terminateProcess(status: Int32) -> Never {
    exit(status)
}
