import PyRunKit

/// The browser console of an MCP server's own sessions (`pyrun mcp --http`), so a person
/// watches an agent's Python live and can interrupt it: the sessions get journals (a
/// `SessionHost` on the server's pool), a private Unix socket serves them, and `pyrun-console`
/// serves the page on `address`, bridged to that socket.
public struct MCPConsole: Sendable {
    /// The console's program (see `ConsoleProcess.locate`).
    public var executable: String
    /// Where the page is served.
    public var address: ConsoleAddress
    /// The console logs every request.
    public var verbose: Bool
    /// Where the console's link and its messages go, a line at a time (never the protocol's
    /// stdout).
    public var report: @Sendable (String) -> Void

    /// - Parameters:
    ///   - executable: the console's program.
    ///   - address: where the page is served.
    ///   - verbose: log every request.
    ///   - report: receives "pyrun mcp: console at URL" and what the console says on stderr.
    public init(
        executable: String, address: ConsoleAddress, verbose: Bool = false,
        report: @escaping @Sendable (String) -> Void
    ) {
        self.executable = executable
        self.address = address
        self.verbose = verbose
        self.report = report
    }

    /// The label the journal gives the agent's code, as the page shows it ("ran by mcp").
    static let agentLabel = "mcp"
}
