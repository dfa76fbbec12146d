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
        hostFunctions: [HostFunction] = []
    ) {
        self.interpreter = interpreter
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.prelude = prelude
        self.limits = limits
        self.startupTimeout = startupTimeout
        self.interruptGrace = interruptGrace
        self.hostFunctions = hostFunctions
    }

    /// The environment variables the kernel will see, resolved against the host's own.
    public func resolvedEnvironment(base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        environment.resolved(base: base)
    }

    public var description: String {
        var parts = ["interpreter \(interpreter)"]
        if let workingDirectory { parts.append("working directory \(workingDirectory)") }
        parts.append("environment \(environment)")
        if !prelude.isEmpty { parts.append("prelude \(prelude.map(\.description).joined(separator: " + "))") }
        if limits != .none { parts.append("limits \(limits)") }
        parts.append("startup timeout \(startupTimeout.formattedSeconds)")
        parts.append("interrupt grace \(interruptGrace.formattedSeconds)")
        if !hostFunctions.isEmpty {
            parts.append("host functions \(hostFunctions.map(\.name).joined(separator: ", "))")
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
        return changes
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
