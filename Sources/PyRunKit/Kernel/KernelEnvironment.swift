/// The environment variables a kernel starts with.
public enum KernelEnvironment: Sendable, Hashable, CustomStringConvertible {
    /// The host's environment as it is.
    case inherit
    /// The host's environment with some variables set or replaced.
    case inheritUpdating([String: String])
    /// Only the allowed variables of the host, plus the ones given: for kernels that must
    /// not see the host's secrets.
    case clean(allowing: Set<String> = KernelEnvironment.defaultAllowList, setting: [String: String] = [:])

    /// What a clean environment keeps from the host: enough to find programs, write temp
    /// files and decode text, and nothing else.
    public static let defaultAllowList: Set<String> = [
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "TMPDIR",
        "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV",
    ]

    public var description: String {
        switch self {
        case .inherit: "inherited"
        case .inheritUpdating(let updates): "inherited, setting \(updates.keys.sorted().joined(separator: ", "))"
        case .clean(_, let setting):
            setting.isEmpty ? "clean" : "clean, setting \(setting.keys.sorted().joined(separator: ", "))"
        }
    }

    /// The same choice with `variables` set as well (replacing any of the same name).
    public func updating(_ variables: [String: String]) -> KernelEnvironment {
        switch self {
        case .inherit:
            .inheritUpdating(variables)
        case .inheritUpdating(let updates):
            .inheritUpdating(updates.merging(variables) { _, new in new })
        case .clean(let allowed, let setting):
            .clean(allowing: allowed, setting: setting.merging(variables) { _, new in new })
        }
    }

    /// The variables this choice gives, starting from the host's `base`.
    public func resolved(base: [String: String]) -> [String: String] {
        switch self {
        case .inherit:
            return base
        case .inheritUpdating(let updates):
            return base.merging(updates) { _, new in new }
        case .clean(let allowed, let setting):
            return base.filter { allowed.contains($0.key) }.merging(setting) { _, new in new }
        }
    }
}
