import Foundation

/// Everything that decides how a kernel process is started. Two kernels with equal
/// configurations behave the same; the pool restarts a key whose configuration changes.
/// Host functions compare by their declaration (name, summary, schema, timeout), not their
/// handlers: see `HostFunction`.
public struct KernelConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// Which Python to run.
    public var interpreter: InterpreterChoice
    /// The kernel's working directory (also first on `sys.path`); nil keeps the host's.
    public var workingDirectory: String?
    /// The environment variables the kernel sees.
    public var environment: KernelEnvironment
    /// What the kernel loads before its first execution, in order (see `PreludeSource`);
    /// empty for plain Python.
    public var prelude: [PreludeSource]
    /// `setrlimit` limits for the kernel.
    public var limits: ResourceLimits
    /// How long the runner may take to say hello.
    public var startupTimeout: Duration
    /// How long an interrupted execution may take to end before the kernel is killed.
    public var interruptGrace: Duration
    /// Functions of the host that the code calls as `host.NAME(…)`; their names must be
    /// unique and not empty.
    public var hostFunctions: [HostFunction]
    /// Fork the kernel from a template (Linux): an interpreter prepared once with the runner,
    /// the environment, `preload` and the prelude, which then only forks. Kernels whose
    /// working directory, `TMPDIR`, limits or host functions differ share a template: each
    /// gets those after the fork, and the prelude loads in the host's working directory. A kernel starts in milliseconds, and memory the template touched is shared until
    /// written. Where templates are unavailable, or the template cannot start or dies, the
    /// kernel starts the ordinary way (the pool says so with `PoolEvent.Kind.templateUnavailable`).
    /// A kernel behind a remote launcher never uses a template (the template would run on
    /// this machine, not the far side): `usesTemplate` is ignored there and it starts the
    /// ordinary way. The default is off, unless the host's environment sets `PYRUN_TEMPLATES=1`.
    public var usesTemplate: Bool
    /// Modules a template imports before the prelude (`["json", "re", "pandas"]`), so that
    /// every kernel forked from it has them loaded already; only with `usesTemplate`. A module
    /// that fails to import is skipped (the kernel's own `import` then says why).
    public var preload: [String]

    /// Whether `usesTemplate` is on when not given: `PYRUN_TEMPLATES=1` in the host's
    /// environment turns it on (how the test suite runs every kernel through templates).
    public static let usesTemplateByDefault: Bool = ProcessInfo.processInfo.environment["PYRUN_TEMPLATES"] == "1"
    /// Where the runner runs: `.local`, or behind `ssh`, `kubectl exec`, `docker exec`.
    public var launcher: KernelLauncher

    /// A configuration; the defaults run `python3` (or the active virtual environment's) in
    /// the host's directory with the host's environment and no limits.
    public init(
        interpreter: InterpreterChoice = .automatic,
        workingDirectory: String? = nil,
        environment: KernelEnvironment = .inherit,
        prelude: [PreludeSource] = [],
        limits: ResourceLimits = .none,
        startupTimeout: Duration = .seconds(30),
        interruptGrace: Duration = .seconds(2),
        hostFunctions: [HostFunction] = [],
        usesTemplate: Bool = KernelConfiguration.usesTemplateByDefault,
        preload: [String] = [],
        launcher: KernelLauncher = .local
    ) {
        self.interpreter = interpreter
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.prelude = prelude
        self.limits = limits
        self.startupTimeout = startupTimeout
        self.interruptGrace = interruptGrace
        self.hostFunctions = hostFunctions
        self.usesTemplate = usesTemplate
        self.preload = preload
        self.launcher = launcher
    }

    /// The environment variables the kernel will see, resolved against the host's own.
    public func resolvedEnvironment(base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        environment.resolved(base: base)
    }

    public var description: String {
        var parts = launcher.isRemote ? ["launcher \(launcher)"] : ["interpreter \(interpreter)"]
        if let workingDirectory { parts.append("working directory \(workingDirectory)") }
        parts.append("environment \(environment)")
        if !prelude.isEmpty { parts.append("prelude \(prelude.map(\.description).joined(separator: " + "))") }
        if limits != .none { parts.append("limits \(limits)") }
        parts.append("startup timeout \(startupTimeout.formattedSeconds)")
        parts.append("interrupt grace \(interruptGrace.formattedSeconds)")
        if !hostFunctions.isEmpty {
            parts.append("host functions \(hostFunctions.map(\.name).joined(separator: ", "))")
        }
        if usesTemplate, !launcher.isRemote {
            parts.append(
                preload.isEmpty ? "from a template" : "from a template preloading \(preload.joined(separator: ", "))")
        }
        return parts.joined(separator: ", ")
    }

    /// What differs between two configurations, one phrase each ("working directory /a → /b").
    static func differences(from old: KernelConfiguration, to new: KernelConfiguration) -> [String] {
        var changes: [String] = []
        if old.interpreter != new.interpreter { changes.append("interpreter \(old.interpreter) → \(new.interpreter)") }
        if old.workingDirectory != new.workingDirectory {
            changes.append(
                "working directory \(old.workingDirectory ?? "(host's)") → \(new.workingDirectory ?? "(host's)")")
        }
        if old.environment != new.environment { changes.append("environment") }
        if old.prelude != new.prelude {
            func shown(_ prelude: [PreludeSource]) -> String {
                prelude.isEmpty ? "(none)" : prelude.map(\.description).joined(separator: " + ")
            }
            changes.append("prelude \(shown(old.prelude)) → \(shown(new.prelude))")
        }
        if old.launcher != new.launcher { changes.append("launcher \(old.launcher) → \(new.launcher)") }
        if old.limits != new.limits { changes.append("limits \(old.limits) → \(new.limits)") }
        if old.startupTimeout != new.startupTimeout || old.interruptGrace != new.interruptGrace {
            changes.append("timeouts")
        }
        if old.hostFunctions != new.hostFunctions {
            func names(_ functions: [HostFunction]) -> String {
                functions.isEmpty ? "(none)" : functions.map(\.name).joined(separator: ", ")
            }
            changes.append("host functions \(names(old.hostFunctions)) → \(names(new.hostFunctions))")
        }
        if old.usesTemplate != new.usesTemplate || old.preload != new.preload {
            changes.append("template \(old.usesTemplate ? "on" : "off") → \(new.usesTemplate ? "on" : "off")")
        }
        return changes
    }

    /// A remote runner's environment, as its start line carries it: which of the far side's
    /// variables it keeps (nil: all) and which it sets, the `PYRUN_*` options among them.
    /// The working directory is the far side's, so it is passed as given. The prelude is not
    /// among them: it travels as sources in the start line (`[PreludeSource].sentRunnerEntries`).
    func remoteEnvironment() -> (keepOnly: Set<String>?, set: [String: String]) {
        var keepOnly: Set<String>?
        var variables: [String: String]
        switch environment {
        case .inherit:
            variables = [:]
        case .inheritUpdating(let updates):
            variables = updates
        case .clean(let allowing, let setting):
            keepOnly = allowing.union(setting.keys)
            variables = setting
        }
        for option in [
            "PYRUN_CWD", "PYRUN_PRELUDE", "PYRUN_LIMITS", "PYRUN_HOST_FUNCTIONS", KernelProcess.hostPIDVariable,
        ] {
            variables.removeValue(forKey: option)
        }
        if let workingDirectory { variables["PYRUN_CWD"] = workingDirectory }
        if let limits = limits.environmentValue { variables["PYRUN_LIMITS"] = limits }
        // Host calls are frames on the same pipe, so they cross any launcher (docs/protocol.md §10).
        if !hostFunctions.isEmpty {
            variables["PYRUN_HOST_FUNCTIONS"] = JSONValue.array(hostFunctions.map(\.declaration)).serialized()
        }
        return (keepOnly, variables)
    }

    /// The runner's environment: the chosen variables plus the `PYRUN_*` options.
    /// - Throws: `KernelError` when the default prelude cannot be installed.
    func runnerEnvironment(base: [String: String]) throws(KernelError) -> [String: String] {
        // The runner's options come from this configuration only, never from the host's own.
        var variables = environment.resolved(base: base)
        for option in ["PYRUN_CWD", "PYRUN_PRELUDE", "PYRUN_LIMITS", "PYRUN_HOST_FUNCTIONS"] {
            variables.removeValue(forKey: option)
        }
        if let workingDirectory {
            variables["PYRUN_CWD"] = InterpreterResolver.absolutePath(workingDirectory, relativeTo: nil)
        }
        if let prelude = try prelude.runnerSpecification() { variables["PYRUN_PRELUDE"] = prelude }
        if let limits = limits.environmentValue { variables["PYRUN_LIMITS"] = limits }
        if !hostFunctions.isEmpty {
            variables["PYRUN_HOST_FUNCTIONS"] = JSONValue.array(hostFunctions.map(\.declaration)).serialized()
        }
        // Figures render off-screen unless the user chose a backend: a kernel has no display.
        if variables["MPLBACKEND"] == nil { variables["MPLBACKEND"] = "Agg" }
        return variables
    }
}

extension KernelConfiguration {
    /// Why the host functions cannot be declared as given (an empty or repeated name, a schema
    /// that is not an object), or nil when they can.
    var hostFunctionsProblem: String? {
        var seen: Set<String> = []
        for function in hostFunctions {
            if function.name.isEmpty { return "a host function has an empty name" }
            if !seen.insert(function.name).inserted { return "two host functions are named '\(function.name)'" }
            if function.parameters.objectValue == nil {
                return "the parameters of host function '\(function.name)' must be a JSON Schema object"
            }
        }
        return nil
    }
}
