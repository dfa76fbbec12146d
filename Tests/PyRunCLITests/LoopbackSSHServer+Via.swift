import PyRunTesting

extension LoopbackSSHServer {
    /// The `--via` value that reaches this server: ssh without a terminal, never prompting.
    var viaCommand: String {
        (["ssh", "-T", "-o", "BatchMode=yes"] + clientOptions + ["\(user)@127.0.0.1", "--"]).joined(separator: " ")
    }

    /// `--via` to this server with a start-up bound that only a hang reaches: under a full
    /// parallel test run on two cores, an ssh login and its far-side start can take longer than
    /// the 30 s default (CI saw it), and the bound here is a liveness check, not a measurement.
    var viaArguments: [String] {
        ["--via", viaCommand, "--startup-timeout", "180"]
    }
}
