import Foundation
import Logging

/// One isolated Python kernel per agent key, with lifetimes a host can trust.
///
/// Executions for one key run one at a time, in the order they were submitted; different
/// keys run in parallel, each in its own process. Asking for a key with a different
/// `KernelConfiguration` restarts only that key. Whenever a key's earlier state is gone
/// (its configuration changed, it was reset, evicted, culled, or its process died), the next
/// `execute` result says so in `ExecutionResult.notices`, so an agent is never silently
/// confused.
///
/// When the host exits, call `shutdownAll()` (see `shutdownAllOnTermination()` for SIGINT and
/// SIGTERM). If the host is killed outright, each runner exits on its own when its stdin
/// closes, which the kernel's death guarantees.
public actor KernelPool {
    /// The key used when a caller gives none.
    public static let defaultKey = "default"

    /// How this pool manages lifetimes.
    public nonisolated let configuration: PoolConfiguration
    private let logger: Logger
    private let broadcaster = PoolEventBroadcaster()

    /// The live keys.
    private var entries: [String: KeyedKernel] = [:]
    /// For keys that are no longer live: why, said once on the key's next execution.
    private var departures: [String: String] = [:]

    /// Pre-started kernels with the default configuration, waiting for a new key.
    private var spares: [PythonKernel] = []
    /// Spares being started, by launch number; `shutdownAll()` waits for them.
    private var spareLaunches: [Int: Task<Void, Never>] = [:]
    private var spareLaunchCounter = 0
    /// Bumped by `shutdownAll()`, so a spare that finishes starting afterwards is shut down.
    private var spareEpoch = 0

    /// Creates a pool. Warm spares, if configured, start at once in the background.
    public init(configuration: PoolConfiguration = PoolConfiguration(), logger: Logger = Logger(label: "pyrun.pool")) {
        self.configuration = configuration
        self.logger = logger
        let interval = configuration.effectiveMaintenanceInterval
        // The loop holds the pool weakly, so it ends once the pool is gone.
        Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.performMaintenance()
            }
        }
        if configuration.warmSpares > 0 {
            Task { [weak self] in await self?.replenishSpares() }
        }
    }

    deinit {
        // Subscribers' loops end with the pool. The kernels end too: a `PythonKernel` that is
        // released kills its process group.
        broadcaster.finish()
    }

    /// Lifecycle events from now on. Each access is a new subscription (a host may have
    /// several); a subscriber that falls behind keeps the newest 1000 events.
    public nonisolated var events: AsyncStream<PoolEvent> {
        broadcaster.subscribe(bufferingNewest: 1000)
    }

    // MARK: - Using a key

    /// Runs `code` on `key`'s kernel and returns everything it produced.
    ///
    /// The kernel is created on first use and restarted first if `configuration` differs
    /// from the key's current one. When the key's earlier state is gone, the result's
    /// `notices` start with a sentence that says why.
    /// - Parameters:
    ///   - code: Python source.
    ///   - key: the agent key; `"default"` if not given.
    ///   - configuration: the configuration the key must have; nil keeps the key's current
    ///     one (or the pool's default for a new key).
    ///   - options: timeout, stdin handler and the like for this execution.
    /// - Throws: `KernelError` when the kernel could not be started, or the key was shut
    ///   down before the code was sent.
    public func execute(
        _ code: String, key: String = KernelPool.defaultKey, configuration: KernelConfiguration? = nil,
        options: ExecutionOptions = ExecutionOptions()
    ) async throws -> ExecutionResult {
        let entry = await claim(key: key, configuration: configuration)
        do {
            try await ensureProcess(of: entry)
            guard entries[key] === entry else {
                throw KernelError(.shutDown, "the kernel for key '\(key)' was shut down before the code was sent")
            }
            let notices = entry.pendingNotices
            entry.pendingNotices.removeAll()
            let execution = await entry.kernel.execute(code, options: options)
            if entries[key] !== entry {
                // The key was shut down while the code was on its way: make sure nothing lives on.
                await entry.kernel.shutdown(grace: self.configuration.shutdownGrace)
            }
            var result = try await execution.result()
            result.notices.insert(contentsOf: notices, at: 0)
            record(result, on: entry)
            release(entry)
            return result
        } catch {
            release(entry)
            discardIfNeverStarted(entry)
            throw error
        }
    }

    /// The kernel of `key`, started, for callers that want to stream executions or use
    /// `complete`/`interrupt` directly. While it runs something it counts as busy (never
    /// evicted or culled). Notices about lost state are only given by `execute`.
    ///
    /// Ask again rather than keeping the object: once the key is reset, evicted, culled or
    /// shut down, it is no longer the key's kernel (and using it would start a process the
    /// pool does not know about, which lives until the object is released).
    /// - Throws: `KernelError` when the kernel could not be started.
    public func kernel(
        for key: String = KernelPool.defaultKey, configuration: KernelConfiguration? = nil
    ) async throws -> PythonKernel {
        let entry = await claim(key: key, configuration: configuration)
        do {
            try await ensureProcess(of: entry)
            release(entry)
            return entry.kernel
        } catch {
            release(entry)
            discardIfNeverStarted(entry)
            throw error
        }
    }

    /// Gives `key` a fresh interpreter with the same configuration, without touching other
    /// keys. Anything running on it is cancelled. Does nothing for a key that is not live.
    /// - Throws: `KernelError` when the fresh kernel could not be started.
    public func reset(_ key: String = KernelPool.defaultKey) async throws {
        guard let old = entries[key] else { return }
        let fresh = KeyedKernel(key: key, configuration: old.configuration, kernel: makeKernel(old.configuration, key: key))
        fresh.pendingNotices.append("the kernel for key '\(key)' was reset: this is a fresh interpreter and earlier state is gone")
        entries[key] = fresh
        emit(key, .restarted(.reset))
        await old.kernel.shutdown(grace: configuration.shutdownGrace)
        fresh.inFlight += 1
        defer { release(fresh) }
        try await ensureProcess(of: fresh)
    }

    /// Shuts down `key`'s kernel (and everything it started). Its next use starts afresh.
    /// - Returns: how the shutdown ended; `.notRunning` for a key that is not live.
    @discardableResult
    public func shutdown(_ key: String = KernelPool.defaultKey) async -> ShutdownOutcome {
        guard let entry = entries.removeValue(forKey: key) else { return .notRunning }
        departures[key] = "the kernel for key '\(key)' was shut down: this is a fresh interpreter and earlier state is gone"
        let outcome = await entry.kernel.shutdown(grace: configuration.shutdownGrace)
        emit(key, .shutDown(outcome))
        return outcome
    }

    /// Shuts down every kernel of the pool, warm spares included, in parallel, and returns
    /// when all of their processes are gone. The pool stays usable: a later call starts
    /// new kernels.
    /// - Returns: how each key's shutdown ended.
    @discardableResult
    public func shutdownAll() async -> [String: ShutdownOutcome] {
        let stopping = entries
        entries.removeAll()
        for key in stopping.keys {
            departures[key] = "the kernel for key '\(key)' was shut down: this is a fresh interpreter and earlier state is gone"
        }
        spareEpoch += 1
        let idleSpares = spares
        spares.removeAll()
        let launches = Array(spareLaunches.values)
        let grace = configuration.shutdownGrace
        let outcomes = await withTaskGroup(of: (String, ShutdownOutcome)?.self) { group in
            for (key, entry) in stopping {
                let kernel = entry.kernel
                group.addTask { (key, await kernel.shutdown(grace: grace)) }
            }
            for spare in idleSpares {
                group.addTask {
                    await spare.shutdown(grace: grace)
                    return nil
                }
            }
            var outcomes: [String: ShutdownOutcome] = [:]
            for await case let (key, outcome)? in group { outcomes[key] = outcome }
            return outcomes
        }
        // Spares still starting see the new epoch and shut themselves down.
        for launch in launches { await launch.value }
        for key in stopping.keys.sorted() { emit(key, .shutDown(outcomes[key] ?? .notRunning)) }
        return outcomes
    }

    // MARK: - Listing

    /// Every live key, sorted by key.
    public func list() async -> [KernelListing] {
        var listings: [KernelListing] = []
        for entry in entries.values.sorted(by: { $0.key < $1.key }) {
            let kernel = entry.kernel
            let pid = await kernel.pid
            let interpreter = await kernel.interpreter
            let hello = await kernel.hello
            let kernelBusy = await kernel.isBusy
            listings.append(
                KernelListing(
                    key: entry.key, pid: pid, interpreter: interpreter,
                    workingDirectory: hello?.workingDirectory ?? entry.configuration.workingDirectory,
                    startedAt: pid == nil ? nil : entry.startedAt, lastUsed: entry.lastUsedDate,
                    executionCount: entry.executionCount, busy: entry.inFlight > 0 || kernelBusy,
                    residentMemoryBytes: pid.flatMap(ProcessMemory.residentBytes(of:))))
        }
        return listings
    }

    /// The live keys, sorted.
    public var keys: [String] { entries.keys.sorted() }

    /// How many warm spares are started and waiting for a key.
    public var readySpareCount: Int { spares.count }

    // MARK: - Entries

    /// The entry for `key` with `configuration`, counted as in use until `release`: created,
    /// taken from a spare, or replaced when the configuration changed.
    private func claim(key: String, configuration wanted: KernelConfiguration?) async -> KeyedKernel {
        if let entry = entries[key] {
            if wanted == nil || wanted == entry.configuration {
                entry.inFlight += 1
                entry.touch()
                return entry
            }
        }
        let configuration = wanted ?? entries[key]?.configuration ?? self.configuration.defaultConfiguration
        let fresh: KeyedKernel
        if configuration == self.configuration.defaultConfiguration, let spare = spares.popLast() {
            fresh = KeyedKernel(key: key, configuration: configuration, kernel: spare)
            fresh.fromWarmSpare = true
            replenishSpares()
        } else {
            fresh = KeyedKernel(key: key, configuration: configuration, kernel: makeKernel(configuration, key: key))
        }
        fresh.inFlight += 1
        let replaced = entries[key]
        entries[key] = fresh
        if let replaced {
            let change = Self.describeChange(from: replaced.configuration, to: configuration)
            fresh.pendingNotices.append(
                "the configuration of key '\(key)' changed (\(change)), so its kernel was restarted: earlier state is gone")
            emit(key, .restarted(.configurationChanged))
            await replaced.kernel.shutdown(grace: self.configuration.shutdownGrace)
        } else if let departure = departures.removeValue(forKey: key) {
            fresh.pendingNotices.append(departure)
        }
        await enforceCapacity()
        return fresh
    }

    private func makeKernel(_ configuration: KernelConfiguration, key: String) -> PythonKernel {
        var logger = self.logger
        logger[metadataKey: "kernel.key"] = "\(key)"
        return PythonKernel(configuration: configuration, logger: logger)
    }

    /// Forgets an entry whose kernel never started (a bad interpreter path, say), so it holds
    /// no place in the cap or the listing; what its next use must say is kept.
    private func discardIfNeverStarted(_ entry: KeyedKernel) {
        guard entry.processID == nil, entry.inFlight == 0, entries[entry.key] === entry else { return }
        entries.removeValue(forKey: entry.key)
        if let notice = entry.pendingNotices.first { departures[entry.key] = notice }
    }

    /// Starts the entry's process if needed, and notices when it is not the process the key
    /// had before (it died, or was killed after an interrupt), so the next result says so.
    private func ensureProcess(of entry: KeyedKernel) async throws {
        let hello = try await entry.kernel.start()
        let death = await entry.kernel.lastDeath
        let interpreter = await entry.kernel.interpreter
        guard hello.pid != entry.processID else { return }
        if entry.processID != nil {
            explainLostProcess(of: entry, lastDeath: death)
        }
        entry.lossExplained = false
        entry.processID = hello.pid
        entry.startedAt = Date()
        entry.executionCount = 0
        emit(entry.key, .started(pid: hello.pid, interpreter: interpreter, fromWarmSpare: entry.fromWarmSpare))
        entry.fromWarmSpare = false
    }

    /// Queues the notice (and event) for a process of `entry` that went away unasked, once.
    private func explainLostProcess(of entry: KeyedKernel, lastDeath death: KernelDeathCause?) {
        guard !entry.lossExplained else { return }
        entry.lossExplained = true
        if let death, death != entry.acknowledgedDeath {
            entry.acknowledgedDeath = death
            announceDeath(death, of: entry)
        } else {
            entry.pendingNotices.append(
                "the previous kernel process for key '\(entry.key)' was stopped: this is a fresh interpreter and earlier state is gone")
        }
    }

    /// Emits `died` and queues the notice the key's next result carries.
    private func announceDeath(_ cause: KernelDeathCause, of entry: KeyedKernel) {
        emit(entry.key, .died(cause))
        entry.pendingNotices.append(
            "the previous kernel for key '\(entry.key)' died (\(cause)): this is a fresh interpreter and earlier state is gone")
    }

    /// Books a finished execution: counts, and a death it revealed.
    private func record(_ result: ExecutionResult, on entry: KeyedKernel) {
        entry.executionCount += 1
        entry.touch()
        // A death already told (another call may have restarted the kernel first) is not told again.
        guard let cause = result.deathCause, !entry.lossExplained, cause != entry.acknowledgedDeath else { return }
        entry.lossExplained = true
        entry.acknowledgedDeath = cause
        if result.status == .kernelDied {
            announceDeath(cause, of: entry)
        } else {
            entry.pendingNotices.append(
                "the previous kernel for key '\(entry.key)' was killed because interrupted code did not stop: this is a fresh interpreter and earlier state is gone")
        }
    }

    private func release(_ entry: KeyedKernel) {
        entry.inFlight -= 1
        entry.touch()
        if let maximum = configuration.maximumLiveKernels, entries.count > maximum {
            Task { await self.enforceCapacity() }
        }
    }

    // MARK: - Lifetimes

    /// Evicts least recently used idle kernels until the pool is within its cap.
    private func enforceCapacity() async {
        guard let maximum = configuration.maximumLiveKernels else { return }
        var skipped: Set<String> = []
        while entries.count > maximum {
            let candidates = entries.values.filter { $0.inFlight == 0 && !skipped.contains($0.key) }
            guard let victim = candidates.min(by: { $0.lastUsed < $1.lastUsed }) else {
                logger.debug("every kernel is busy; over the cap until one is idle", metadata: ["pool.live": "\(entries.count)"])
                return
            }
            // A kernel used directly through `kernel(for:)` may be busy without the pool knowing.
            let busy = await victim.kernel.isBusy
            guard entries[victim.key] === victim, victim.inFlight == 0, !busy else {
                skipped.insert(victim.key)
                continue
            }
            entries.removeValue(forKey: victim.key)
            departures[victim.key] =
                "the kernel for key '\(victim.key)' was evicted (the pool keeps at most \(maximum) live kernels and it was the least recently used idle one): this is a fresh interpreter and earlier state is gone"
            emit(victim.key, .evicted)
            await victim.kernel.shutdown(grace: configuration.shutdownGrace)
        }
    }

    /// Culls idle kernels, reports deaths of idle kernels, and keeps the cap.
    private func performMaintenance() async {
        let now = ContinuousClock.now
        for entry in entries.values where entry.inFlight == 0 {
            let kernel = entry.kernel
            let running = await kernel.isRunning
            let busy = await kernel.isBusy
            let death = await kernel.lastDeath
            guard entries[entry.key] === entry, entry.inFlight == 0, !busy else { continue }
            if !running, entry.processID != nil {
                explainLostProcess(of: entry, lastDeath: death)
            }
            if let idleTimeout = configuration.idleTimeout, entry.lastUsed.duration(to: now) >= idleTimeout {
                let idleFor = entry.lastUsed.duration(to: now)
                entries.removeValue(forKey: entry.key)
                departures[entry.key] =
                    "the kernel for key '\(entry.key)' was shut down after \(idleFor.formattedSeconds) idle (idle timeout \(idleTimeout.formattedSeconds)): this is a fresh interpreter and earlier state is gone"
                emit(entry.key, .culled(idleFor: idleFor))
                await kernel.shutdown(grace: configuration.shutdownGrace)
            }
        }
        await enforceCapacity()
    }

    // MARK: - Warm spares

    /// Starts spares until `warmSpares` are ready or starting.
    private func replenishSpares() {
        let missing = configuration.warmSpares - spares.count - spareLaunches.count
        guard missing > 0 else { return }
        for _ in 0..<missing {
            spareLaunchCounter += 1
            let launch = spareLaunchCounter
            let epoch = spareEpoch
            let kernel = makeKernel(configuration.defaultConfiguration, key: "(spare)")
            spareLaunches[launch] = Task {
                let started: Bool
                do {
                    try await kernel.start()
                    started = true
                } catch {
                    started = false
                }
                await self.spareLaunched(kernel, launch: launch, epoch: epoch, started: started)
            }
        }
    }

    private func spareLaunched(_ kernel: PythonKernel, launch: Int, epoch: Int, started: Bool) async {
        spareLaunches.removeValue(forKey: launch)
        guard started, epoch == spareEpoch else {
            if !started { logger.warning("a warm spare kernel failed to start") }
            await kernel.shutdown(grace: configuration.shutdownGrace)
            return
        }
        spares.append(kernel)
    }

    // MARK: - Helpers

    private func emit(_ key: String, _ kind: PoolEvent.Kind) {
        let event = PoolEvent(key: key, kind: kind)
        logger.debug("\(event)", metadata: ["kernel.key": "\(key)"])
        broadcaster.send(event)
    }

    /// Says what differs between two configurations, for the restart notice.
    static func describeChange(from old: KernelConfiguration, to new: KernelConfiguration) -> String {
        var changes: [String] = []
        if old.interpreter != new.interpreter { changes.append("interpreter \(old.interpreter) → \(new.interpreter)") }
        if old.workingDirectory != new.workingDirectory {
            changes.append("working directory \(old.workingDirectory ?? "(host's)") → \(new.workingDirectory ?? "(host's)")")
        }
        if old.environment != new.environment { changes.append("environment") }
        if old.preludePath != new.preludePath {
            changes.append("prelude \(old.preludePath ?? "(none)") → \(new.preludePath ?? "(none)")")
        }
        if old.limits != new.limits { changes.append("limits") }
        if old.startupTimeout != new.startupTimeout || old.interruptGrace != new.interruptGrace {
            changes.append("timeouts")
        }
        return changes.isEmpty ? "configuration" : changes.joined(separator: ", ")
    }
}

/// A live key: its kernel, configuration and bookkeeping. Confined to the pool actor.
private final class KeyedKernel {
    let key: String
    let configuration: KernelConfiguration
    let kernel: PythonKernel
    /// The pid of the process that holds the key's state; nil before the first start.
    var processID: Int32?
    var startedAt: Date?
    var lastUsed = ContinuousClock.now
    var lastUsedDate = Date()
    /// Executions the pool ran on the current process.
    var executionCount = 0
    /// Pool calls using the entry right now; an entry in use is never evicted or culled.
    var inFlight = 0
    /// The kernel was a warm spare and its `started` event is not sent yet.
    var fromWarmSpare = false
    /// The last death reported as an event, so it is reported once.
    var acknowledgedDeath: KernelDeathCause?
    /// The loss of the current process is already queued as a notice.
    var lossExplained = false
    /// Sentences the key's next execution result starts with.
    var pendingNotices: [String] = []

    init(key: String, configuration: KernelConfiguration, kernel: PythonKernel) {
        self.key = key
        self.configuration = configuration
        self.kernel = kernel
    }

    func touch() {
        lastUsed = .now
        lastUsedDate = Date()
    }
}

extension Duration {
    /// "1.5 s", for notices.
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return String(format: "%.1f s", seconds)
    }
}
