import ArgumentParser
import PyRunKit

/// `--via COMMAND`: run the kernels on the far side of a launcher command (ssh, `kubectl
/// exec`, `docker exec`); shared by the one-shot, `repl`, `serve` and `mcp`.
struct ViaOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Run the kernel on the far side of this command, e.g. 'ssh -T host' or 'kubectl exec -i pod --' (words split at spaces); --python and --cwd then name the far side's, and --prelude files are read here and sent.",
            valueName: "command"))
    var via: String?

    /// Whether the kernels run behind a launcher.
    var isRemote: Bool { via != nil }

    /// The launcher `--via` names, split at white space, with the far side's interpreter.
    func launcher(python: String?) -> KernelLauncher {
        guard let via else { return .local }
        return .command(via.split(whereSeparator: \.isWhitespace).map(String.init), python: python ?? "python3")
    }

    func validate() throws {
        if let via, via.split(whereSeparator: \.isWhitespace).isEmpty {
            throw ValidationError("--via needs a command, e.g. 'ssh -T host'")
        }
    }
}
