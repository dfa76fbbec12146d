import ArgumentParser
import PyRunKit

/// `pyrun attach`: an interactive session on a shared kernel, with everyone's history first.
struct AttachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Attach to a shared session of a running server: its history, then everyone's code live.",
        discussion: """
            The session's journal is replayed first (inputs marked with the client that sent them, their output, the kernel's starts and deaths), then every client's code and output appear as they happen, while you type code of your own as in `pyrun repl`. Ctrl-C interrupts what runs in the session (at the prompt it clears the line, and interrupts too when the session is busy). Ctrl-D or /detach leaves; the kernel keeps running. /reset gives the session a fresh interpreter, /sessions lists the server's sessions.
            """)

    @Argument(
        help: ArgumentHelp(
            "[SERVER:]SESSION (default: main on the only server running, or 'default').", valueName: "target"))
    var target: SessionTarget = SessionTarget(server: nil, session: ServeNames.defaultSession)

    @Option(
        name: .customLong("as"),
        help: ArgumentHelp("The label others see on your code (default: user, attach and pid).", valueName: "label"))
    var label: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write image/* displays to files here (default: a new temporary directory).", valueName: "dir"))
    var displayDir: String?

    func run() async throws {
        let status = await AttachSession(
            target: target, label: clientLabel(command: "attach", chosen: label), displayDir: displayDir
        ).run()
        throw ExitCode(status)
    }
}
