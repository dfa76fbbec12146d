/// Where a `KernelPool` starts the kernels of keys that name no launcher of their own: one of
/// several launchers (hosts over ssh, pods, containers), so a pool can span machines.
///
/// ```swift
/// let pool = KernelPool(configuration: PoolConfiguration(
///     placement: KernelPlacement([.ssh(host: "build-1"), .ssh(host: "build-2")], strategy: .leastLoaded)))
/// ```
///
/// A key is placed when it gets a kernel (its first use, or after its configuration changed,
/// or it was reset, evicted or culled) and keeps its launcher while that kernel lives,
/// restarts after a crash included. A key whose configuration names a remote launcher runs
/// there and is not placed; `.local` may be one of the launchers.
public struct KernelPlacement: Sendable, Hashable, CustomStringConvertible {
    /// How the launcher of a new kernel is chosen.
    public enum Strategy: String, Sendable, Hashable {
        /// Each in turn, in the order given.
        case roundRobin
        /// The one with the fewest live keys (and warm spares) of the pool; the earliest
        /// given on a tie.
        case leastLoaded
    }

    /// The launchers kernels are placed on; never empty.
    public let launchers: [KernelLauncher]
    public let strategy: Strategy

    /// A placement over `launchers` (an empty list places every kernel on `.local`).
    public init(_ launchers: [KernelLauncher], strategy: Strategy = .leastLoaded) {
        self.launchers = launchers.isEmpty ? [.local] : launchers
        self.strategy = strategy
    }

    public var description: String {
        "\(strategy == .roundRobin ? "round robin" : "least loaded") over \(launchers.map(\.description).joined(separator: ", "))"
    }

    /// The launcher for the next kernel: `turn` counts the kernels placed so far (round
    /// robin), `load` says how many of the pool's kernels each launcher holds now.
    func choose(turn: Int, load: (KernelLauncher) -> Int) -> KernelLauncher {
        switch strategy {
        case .roundRobin:
            return launchers[turn % launchers.count]
        case .leastLoaded:
            var best = launchers[0]
            var bestLoad = load(best)
            for launcher in launchers.dropFirst() {
                let count = load(launcher)
                if count < bestLoad { (best, bestLoad) = (launcher, count) }
            }
            return best
        }
    }
}
