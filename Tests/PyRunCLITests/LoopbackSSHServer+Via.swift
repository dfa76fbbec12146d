import PyRunTesting

extension LoopbackSSHServer {
    /// The `--via` value that reaches this server: ssh without a terminal, never prompting.
    var viaCommand: String {
        (["ssh", "-T", "-o", "BatchMode=yes"] + clientOptions + ["\(user)@127.0.0.1", "--"]).joined(separator: " ")
    }
}
