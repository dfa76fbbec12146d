import Foundation

/// Where a kernel's runner runs: here, or on the far side of a command such as `ssh`,
/// `kubectl exec` or `docker exec` that runs a program with pyrun's stdin and stdout.
///
/// A remote kernel needs nothing installed where it runs but a Python 3.9 or newer: the far
/// side runs `python3 -u -c LOADER`, and the runner's source is sent as the first line of its
/// input (docs/protocol.md, *Bootstrap*). Signals do not cross such commands, so a remote
/// kernel is interrupted and killed with in-band requests (`interrupt`, `kill`), and the local
/// launcher process is tied to the host's life: killing it cuts the connection, which ends the
/// far side's runner.
///
/// For a remote kernel the kernel's `KernelEnvironment` is applied to the far side's own
/// environment, not the host's: `.inherit` keeps the far side's variables, `.clean` keeps
/// only the allowed ones there. The working directory names the far side's directory. The
/// prelude's files are read on the host and sent with the runner (a `.module` prelude is
/// imported there), and host functions are served over the same pipe. The interpreter choice
/// is not used: the launcher names the far side's interpreter, and neither is
/// `KernelConfiguration.usesTemplate` (a template would run on this machine).
public struct KernelLauncher: Sendable, Hashable, CustomStringConvertible {
    /// The command that runs a program on the far side, before the program; empty for a
    /// local kernel.
    public let prefix: [String]
    /// The far side's interpreter, a name on its `PATH` or a path.
    public let python: String
    /// Whether the far side joins the arguments into one line for a shell (as `ssh` does),
    /// so the program's arguments travel as one shell-quoted argument.
    public let joinsArguments: Bool
    /// A directory on the far side where the loader keeps the runner compiled, as Python keeps
    /// `__pycache__`: a start then loads it (under 1 ms) instead of compiling the runner's
    /// source (about 35 ms). One file of about 250 KB per runner version and far-side Python,
    /// named by their hash; safe to delete at any time. `~` is the far side's home. Nil: every
    /// start compiles, and nothing is written on the far side. Default: ``defaultCodeCache``.
    public var codeCache: String?

    /// Where remote kernels keep the compiled runner unless told otherwise.
    public static let defaultCodeCache = "~/.cache/pyrun"

    private init(prefix: [String], python: String, joinsArguments: Bool) {
        self.prefix = prefix
        self.python = python
        self.joinsArguments = joinsArguments
        self.codeCache = prefix.isEmpty ? nil : Self.defaultCodeCache
    }

    /// The runner runs on this machine, as a child of the host, with the configured interpreter.
    public static let local = KernelLauncher(prefix: [], python: "python3", joinsArguments: false)

    /// The runner runs on the far side of `prefix`, a command line that ends by running the
    /// program after it with pyrun's stdin and stdout: `["ssh", "-T", "build-1", "--"]`,
    /// `["kubectl", "exec", "-i", "pod", "--"]`, `["podman", "exec", "-i", "box"]`.
    /// - Parameters:
    ///   - prefix: the command; its program is looked up on the host's `PATH`.
    ///   - python: the far side's interpreter.
    ///   - joinsArguments: whether the far side hands the program's arguments to a shell as
    ///     one line; nil: true when the program is `ssh`.
    public static func command(_ prefix: [String], python: String = "python3", joinsArguments: Bool? = nil)
        -> KernelLauncher
    {
        let launcher = KernelLauncher(prefix: prefix, python: python, joinsArguments: false)
        return KernelLauncher(
            prefix: prefix, python: python, joinsArguments: joinsArguments ?? (launcher.programName == "ssh"))
    }

    /// The runner runs on `host` over ssh without a terminal (`ssh -T`), which is what lets the
    /// connection carry NDJSON. `options` come before the host (`["-p", "2222", "-i", key]`);
    /// a failing connection fails at once instead of asking for a password (`BatchMode`).
    public static func ssh(host: String, options: [String] = [], python: String = "python3") -> KernelLauncher {
        command(["ssh", "-T", "-o", "BatchMode=yes"] + options + [host, "--"], python: python, joinsArguments: true)
    }

    /// The runner runs in a Kubernetes pod (`kubectl exec -i`); the container needs a
    /// `python3` and nothing else.
    public static func kubectl(
        pod: String, namespace: String? = nil, container: String? = nil, context: String? = nil,
        python: String = "python3"
    ) -> KernelLauncher {
        var prefix = ["kubectl"]
        if let context { prefix += ["--context", context] }
        if let namespace { prefix += ["--namespace", namespace] }
        prefix += ["exec", "-i", pod]
        if let container { prefix += ["--container", container] }
        return command(prefix + ["--"], python: python, joinsArguments: false)
    }

    /// The runner runs in a running Docker container (`docker exec -i`).
    public static func docker(container: String, python: String = "python3") -> KernelLauncher {
        command(["docker", "exec", "-i", container], python: python, joinsArguments: false)
    }

    /// Whether the runner runs elsewhere, behind a launcher command.
    public var isRemote: Bool { !prefix.isEmpty }

    /// The launcher's program without its directory (`ssh`, `kubectl`), as messages name it;
    /// empty for a local kernel.
    public var programName: String {
        guard let program = prefix.first else { return "" }
        return program.split(separator: "/").last.map(String.init) ?? program
    }

    public var description: String {
        isRemote ? "via \(prefix.joined(separator: " ")) (\(python))" : "local"
    }

    /// The full command line: the prefix, then the far side's `python -u -c LOADER`.
    func commandLine(loader: String) -> [String] {
        let program = [python, "-u", "-c", loader]
        return prefix + (joinsArguments ? [program.map(Self.shellQuoted).joined(separator: " ")] : program)
    }

    /// `word` as one word of a POSIX shell line.
    static func shellQuoted(_ word: String) -> String {
        let plain =
            !word.isEmpty
            && word.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || "-_./=:,+@".unicodeScalars.contains(scalar))
            }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
