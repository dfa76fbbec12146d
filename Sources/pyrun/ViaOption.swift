import ArgumentParser
import PyRunKit

/// `--via COMMAND`: run the kernels on the far side of a launcher command (ssh, `kubectl
/// exec`, `docker exec`), and `--startup-timeout`, since a slow login is what makes a start
/// long; shared by the one-shot, `repl`, `serve` and `mcp`.
struct ViaOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Run the kernel on the far side of this command, e.g. 'ssh -T host' or 'kubectl exec -i pod --' (words split at spaces); --python and --cwd then name the far side's, and --prelude files are read here and sent.",
            valueName: "command"))
    var via: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Give up on a kernel that has not started after this many seconds (default: 30); a slow login behind --via may need more.",
            valueName: "seconds"))
    var startupTimeout: Seconds?

    /// Whether the kernels run behind a launcher.
    var isRemote: Bool { via != nil }

    /// The launcher `--via` names, split at white space, with the far side's interpreter.
    func launcher(python: String?) -> KernelLauncher {
        guard let via else { return .local }
        return .command(via.split(whereSeparator: \.isWhitespace).map(String.init), python: python ?? "python3")
    }

    /// Sets the start-up bound of `configuration` when `--startup-timeout` is given.
    func applyStartupTimeout(to configuration: inout KernelConfiguration) {
        if let startupTimeout { configuration.startupTimeout = startupTimeout.duration }
    }

    func validate() throws {
        if let via, via.split(whereSeparator: \.isWhitespace).isEmpty {
            throw ValidationError("--via needs a command, e.g. 'ssh -T host'")
        }
    }
}
