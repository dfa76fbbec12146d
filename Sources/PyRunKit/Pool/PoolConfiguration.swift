/// How a `KernelPool` manages the lifetimes of its kernels.
public struct PoolConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The kernel configuration of a key that was never given one.
    public var defaultConfiguration: KernelConfiguration
    /// Shut down a kernel that has run nothing for this long; nil keeps idle kernels forever.
    public var idleTimeout: Duration?
    /// At most this many live keys; when a new key needs a kernel, the least recently used
    /// idle one is shut down. A busy kernel is never evicted: when every kernel is busy the
    /// pool goes over the cap and evicts as soon as one is idle again. Nil means no cap.
    public var maximumLiveKernels: Int?
    /// Pre-started kernels with `defaultConfiguration`, handed to new keys so their first
    /// execution does not wait for an interpreter to start. Spares do not count towards
    /// `maximumLiveKernels`. Zero (the default) starts none.
    public var warmSpares: Int
    /// How long a kernel may take at each step of its shutdown (`exit`, SIGTERM, SIGKILL).
    public var shutdownGrace: Duration
    /// How often the pool looks for idle kernels to cull and kernels that died while idle;
    /// nil derives it from `idleTimeout` (a quarter of it, at most 1 s, or 2 s without one).
    public var maintenanceInterval: Duration?
    /// Where kernels of keys that name no remote launcher start: one of several launchers
    /// (see `KernelPlacement`); nil starts them as their configuration says.
    public var placement: KernelPlacement?

    /// Creates a pool configuration; with the defaults, kernels live until shut down.
    public init(
        defaultConfiguration: KernelConfiguration = KernelConfiguration(),
        idleTimeout: Duration? = nil,
        maximumLiveKernels: Int? = nil,
        warmSpares: Int = 0,
        shutdownGrace: Duration = .seconds(2),
        maintenanceInterval: Duration? = nil,
        placement: KernelPlacement? = nil
    ) {
        self.defaultConfiguration = defaultConfiguration
        self.idleTimeout = idleTimeout
        self.maximumLiveKernels = maximumLiveKernels.map { max(1, $0) }
        self.warmSpares = max(0, warmSpares)
        self.shutdownGrace = shutdownGrace
        self.maintenanceInterval = maintenanceInterval
        self.placement = placement
    }

    public var description: String {
        var parts: [String] = []
        parts.append(idleTimeout.map { "idle timeout \($0.formattedSeconds)" } ?? "no idle timeout")
        parts.append(maximumLiveKernels.map { "at most \($0) live kernels" } ?? "no cap")
        if warmSpares > 0 { parts.append("\(warmSpares) warm spare\(warmSpares == 1 ? "" : "s")") }
        parts.append("shutdown grace \(shutdownGrace.formattedSeconds)")
        if let placement { parts.append("placed \(placement)") }
        parts.append("kernels: \(defaultConfiguration)")
        return parts.joined(separator: ", ")
    }

    /// The interval the maintenance loop actually uses.
    var effectiveMaintenanceInterval: Duration {
        if let maintenanceInterval { return max(maintenanceInterval, .milliseconds(10)) }
        guard let idleTimeout else { return .seconds(2) }
        return min(max(idleTimeout / 4, .milliseconds(10)), .seconds(1))
    }
}
