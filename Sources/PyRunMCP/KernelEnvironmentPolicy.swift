/// Which of the server's environment variables a kernel started for a model may see.
///
/// By default only what Python needs to find programs, write temporary files, decode text
/// and honour a virtual environment: an agent's code never sees the API keys the client
/// started the server with. `--pass-env NAME` adds names one by one.
public struct KernelEnvironmentPolicy: Sendable, Hashable {
    /// Names passed on by default.
    public static let defaultNames: Set<String> = ["PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER", "VIRTUAL_ENV"]
    /// Prefixes passed on by default: the locale categories and Python's own settings.
    public static let defaultPrefixes = ["LC_", "PYTHON"]

    /// Exact names passed on.
    public var names: Set<String>
    /// Name prefixes passed on.
    public var prefixes: [String]

    /// The default allow-list plus `passing` (from `--pass-env`).
    public init(passing extraNames: some Sequence<String> = []) {
        names = Self.defaultNames.union(extraNames)
        prefixes = Self.defaultPrefixes
    }

    /// Whether a variable of this name reaches the kernel.
    public func allows(_ name: String) -> Bool {
        names.contains(name) || prefixes.contains { name.hasPrefix($0) }
    }

    /// The variables of `environment` that a kernel gets.
    public func filter(_ environment: [String: String]) -> [String: String] {
        environment.filter { allows($0.key) }
    }

    /// The names of `environment` held back, sorted (for the server's start-up log).
    public func withheldNames(of environment: [String: String]) -> [String] {
        environment.keys.filter { !allows($0) }.sorted()
    }
}
