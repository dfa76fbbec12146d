import Foundation
import Logging

/// One isolated Python kernel per agent key, with lifetimes a host can trust.
///
/// Executions for one key run one at a time, in the order they were submitted; different
/// keys run in parallel, each in its own process. Asking for a key with a different
/// `KernelConfiguration` restarts only that key. Whenever a key's earlier state is gone
/// (its configuration changed, it was reset, evicted, culled, shut down, or its process
/// ended), the key's next execution starts with a `KernelNotice` that says why: a `notice`
/// event at the start of `execute`'s stream, and the first of `run`'s `notices`. Every death
/// and restart is also a `PoolEvent`.
///
/// Prefer `withPool(configuration:) { pool in … }`, which shuts every kernel down when its
/// body ends. A pool made with `KernelPool(…)` must be shut down with `shutdownAll()` (see
/// `shutdownAllOnTermination()` for SIGINT and SIGTERM); if the host is killed outright, each
/// runner exits on its own when its stdin closes.
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
    private var departures: [String: KernelNotice] = [:]

    /// Pre-started kernels with the default configuration, waiting for a new key.
    private var spares: [PythonKernel] = []
    /// Spares being started, by launch number; `shutdownAll()` waits for them.
    private var spareLaunches: [Int: Task<Void, Never>] = [:]
    /// The kernels of those launches, which a placement counts as load.
    private var startingSpares: [Int: PythonKernel] = [:]
    private var spareLaunchCounter = 0
    /// Bumped by `shutdownAll()`, so a spare that finishes starting afterwards is shut down.
    private var spareEpoch = 0
    /// Set by `close()`: the pool's scope ended and it starts nothing any more.
    private var closed = false
    /// Kernels placed so far (`KernelPlacement.Strategy.roundRobin`'s turn).
    private var placements = 0

    /// Creates a pool. Warm spares, if configured, start at once in the background.
    public init(configuration: PoolConfiguration = PoolConfiguration(), logger: Logger = Logger(label: "pyrun.pool")) {
        self.configuration = configuration
        self.logger = logger
        let interval = configuration.effectiveMaintenanceInterval
        // The loop holds the pool weakly, so it ends once the pool is gone (or closed).
        Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, await self.performMaintenance() else { return }
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

    /// Submits `code` to `key`'s kernel and returns its execution, whose events stream as
    /// they happen: first a `notice` for each thing the key lost since its last execution,
    /// then the code's own events, and last `finished` with the outcome (a death with its
    /// cause, or `failedToStart` when the kernel could not be started). No kernel object
    /// needs to be held.
    ///
    /// The kernel is created on first use and restarted first if `configuration` differs
    /// from the key's current one; this returns once it has started.
    /// - Parameters:
    ///   - code: Python source.
    ///   - key: the agent key; `"default"` if not given.
    ///   - configuration: the configuration the key must have; nil keeps the key's current
    ///     one (or the pool's default for a new key).
    ///   - options: timeout, stdin handler and the like for this execution.
    public func execute(
        _ code: String, key: String = KernelPool.defaultKey, configuration: KernelConfiguration? = nil,
        options: ExecutionOptions = ExecutionOptions()
    ) async -> Execution {
        let entry: KeyedKernel
        do {
            entry = try await claimStarted(key: key, configuration: configuration)
        } catch {
            return Execution.ended(
                id: "unstarted", outcome: ExecutionOutcome(status: .failedToStart, startFailure: error))
        }
        let execution = await entry.kernel.execute(code, options: options, leadingNotices: entry.takeNotices())
        await stopIfDeparted(entry)
        let ended = execution.channel.outcome
        Task {
            _ = await ended.wait()
            self.finished(entry)
        }
        return execution
    }

    /// Runs `code` on `key`'s kernel and returns everything it produced, collected (see
    /// `ExecutionOptions.collectedOutputLimit`); its `notices` start with what the key lost
    /// since its last execution. See `execute` for the rest.
    /// - Throws: `KernelError` when the kernel could not be started, or the key was shut
    ///   down before the code was sent.
    public func run(
        _ code: String, key: String = KernelPool.defaultKey, configuration: KernelConfiguration? = nil,
        options: ExecutionOptions = ExecutionOptions()
    ) async throws -> ExecutionResult {
        let entry = try await claimStarted(key: key, configuration: configuration)
        defer { finished(entry) }
        let result = try await entry.kernel.run(code, options: options, leadingNotices: entry.takeNotices())
        await stopIfDeparted(entry)
        return result
    }

    /// The kernel of `key`, started, for callers that use it directly. While it runs
    /// something it counts as busy (never evicted or culled). Notices about lost state are
    /// only given by `execute` and `run`; `interrupt`, `complete` and `isComplete` need no
    /// kernel object either.
    ///
    /// Ask again rather than keeping the object: once the key is reset, evicted, culled or
    /// shut down, it is no longer the key's kernel (and using it would start a process the
    /// pool does not know about, which lives until the object is released).
    /// - Throws: `KernelError` when the kernel could not be started.
    public func kernel(
        for key: String = KernelPool.defaultKey, configuration: KernelConfiguration? = nil
    ) async throws -> PythonKernel {
        let entry = try await claimStarted(key: key, configuration: configuration)
        finished(entry)
        return entry.kernel
    }

    /// Interrupts what `key`'s kernel runs, as Ctrl-C does (see `PythonKernel.interrupt()`).
    /// Does nothing for a key that is not live or runs nothing.
    public func interrupt(_ key: String = KernelPool.defaultKey) async {
        await entries[key]?.kernel.interrupt()
    }

    /// Completions for `code` at `cursor` in `key`'s kernel (started if needed), answered
    /// even while code runs there.
    /// - Throws: `KernelError` when the kernel could not be started or did not answer.
    public func complete(code: String, cursor: Int? = nil, key: String = KernelPool.defaultKey) async throws
        -> CompletionResult
    {
        try await kernel(for: key).complete(code: code, cursor: cursor)
    }

    /// Whether `code` is complete in `key`'s kernel (started if needed).
    /// - Throws: `KernelError` when the kernel could not be started or did not answer.
    public func isComplete(code: String, key: String = KernelPool.defaultKey) async throws -> CodeCompleteness {
        try await kernel(for: key).isComplete(code: code)
    }

    /// Gives `key` a fresh interpreter with the same configuration, without touching other
    /// keys. Anything running on it is cancelled. Does nothing for a key that is not live.
    /// - Throws: `KernelError` when the fresh kernel could not be started.
    public func reset(_ key: String = KernelPool.defaultKey) async throws {
        guard let old = entries[key], !closed else { return }
        let fresh = KeyedKernel(key: key, configuration: old.configuration, kernel: makeKernel(old.configuration))
        fresh.pendingNotices.append(KernelNotice(.reset, key: key))
        entries[key] = fresh
        emit(key, .restarted(.reset))
        // After the entry is in place: a claim that runs during this await finds it.
        await fresh.kernel.serve(poolKey: key, hostFunctions: old.configuration.hostFunctions)
        await old.kernel.stop(because: .reset, grace: configuration.shutdownGrace)
        fresh.inFlight += 1
        defer { release(fresh) }
        try await ensureProcess(of: fresh)
    }

    /// Shuts down `key`'s kernel (and everything it started). Its next use starts afresh.
    /// - Returns: how the shutdown ended; `.notRunning` for a key that is not live.
    @discardableResult
    public func shutdown(_ key: String = KernelPool.defaultKey) async -> ShutdownOutcome {
        guard let entry = entries.removeValue(forKey: key) else { return .notRunning }
        departures[key] = KernelNotice(.shutDown, key: key)
        let outcome = await entry.kernel.stop(because: .shutdown, grace: configuration.shutdownGrace)
        emit(key, .shutDown(outcome))
        return outcome
    }

    /// Shuts down every kernel of the pool, warm spares included, in parallel, and returns
    /// when all of their processes are gone. The pool stays usable: a later call starts
    /// new kernels.
    /// - Returns: how each key's shutdown ended.
    @discardableResult
    public func shutdownAll() async -> [String: ShutdownOutcome] {
        await shutdownAll(because: .shutdown)
    }

    @discardableResult
    func shutdownAll(because reason: KernelDeath.StopReason, closingKernels: Bool = false) async -> [String:
        ShutdownOutcome]
    {
        let stopping = entries
        entries.removeAll()
        for key in stopping.keys { departures[key] = KernelNotice(.shutDown, key: key) }
        spareEpoch += 1
        let idleSpares = spares
        spares.removeAll()
        let launches = Array(spareLaunches.values)
        let grace = configuration.shutdownGrace
        let outcomes = await withTaskGroup(of: (String, ShutdownOutcome)?.self) { group in
            for (key, entry) in stopping {
                let kernel = entry.kernel
                group.addTask {
                    let outcome = await kernel.stop(because: reason, grace: grace)
                    if closingKernels { await kernel.close(grace: grace) }
                    return (key, outcome)
                }
            }
            for spare in idleSpares {
                group.addTask {
                    await spare.close(grace: grace)
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

    /// Shuts everything down for good: what `withPool` does when its body ends. Later calls
    /// fail at once, and kernels handed out by `kernel(for:)` never start again.
    func close() async {
        closed = true
        await shutdownAll(because: .shutdown, closingKernels: true)
    }

    // MARK: - Listing

    /// Every live key, sorted by key.
    public func list() async -> [KernelListing] {
        var listings: [KernelListing] = []
        for entry in entries.values.sorted(by: { $0.key < $1.key }) {
            let kernel = entry.kernel
            let hello = await kernel.hello
            // The runner's own pid, which is also what `processID(of:)` and the events say:
            // for a remote kernel `kernel.pid` is the local launcher's.
            let pid = hello?.pid
            let launcher = kernel.configuration.launcher
            let interpreter = await kernel.interpreter
            let kernelBusy = await kernel.isBusy
            let executionCount = await kernel.executionCount
            listings.append(
                KernelListing(
                    key: entry.key, pid: pid, interpreter: interpreter,
                    workingDirectory: hello?.workingDirectory ?? entry.configuration.workingDirectory,
                    startedAt: pid == nil ? nil : entry.startedAt, lastUsed: entry.lastUsedDate,
                    executionCount: pid == nil ? 0 : executionCount, busy: entry.inFlight > 0 || kernelBusy,
                    residentMemoryBytes: launcher.isRemote ? nil : pid.flatMap(ProcessMemory.residentBytes(of:)),
                    launcher: launcher))
        }
        return listings
    }

    /// The live keys, sorted.
    public var keys: [String] { entries.keys.sorted() }

    /// The pid of the process that holds `key`'s state: the one its latest execution was sent
    /// to (a later execution may start a new one if this one ended). Nil for a key that is
    /// not live or never started. Starts nothing, unlike `kernel(for:)`.
    public func processID(of key: String) -> Int32? {
        entries[key]?.processID
    }

    /// How many warm spares are started and waiting for a key.
    public var readySpareCount: Int { spares.count }

    // MARK: - Entries

    /// The entry for `key`, started, counted as in use until `finished(_:)`.
    /// - Throws: `KernelError` when it could not be started, or the key went away meanwhile.
    private func claimStarted(key: String, configuration: KernelConfiguration?) async throws(KernelError) -> KeyedKernel
    {
        guard !closed else {
            throw KernelError(.shutDown, "the pool was closed (its withPool body ended); make a new one")
        }
        let entry = await claim(key: key, configuration: configuration)
        do {
            try await ensureProcess(of: entry)
        } catch {
            release(entry)
            discardIfNeverStarted(entry)
            throw error
        }
        guard entries[key] === entry else {
            release(entry)
            throw KernelError(.shutDown, "the kernel for key '\(key)' was shut down before the code was sent")
        }
        return entry
    }

    /// After code was handed to `entry`'s kernel: if the key was shut down meanwhile, makes
    /// sure nothing lives on.
    private func stopIfDeparted(_ entry: KeyedKernel) async {
        guard entries[entry.key] !== entry else { return }
        await entry.kernel.stop(because: .shutdown, grace: configuration.shutdownGrace)
    }

    /// An execution on `entry` ended.
    private func finished(_ entry: KeyedKernel) {
        release(entry)
    }

    /// The entry for `key` with `configuration`, counted as in use until `release`: created,
    /// taken from a spare, or replaced when the configuration changed.
    private func claim(key: String, configuration wanted: KernelConfiguration?) async -> KeyedKernel {
        if let entry = entries[key] {
            if wanted == nil || wanted == entry.configuration {
                entry.inFlight += 1
                entry.touch()
                if let wanted, !wanted.hostFunctions.isEmpty {
                    // Equal declarations, perhaps other handlers: the newest serve the key.
                    entry.configuration = wanted
                    await entry.kernel.serve(poolKey: key, hostFunctions: wanted.hostFunctions)
                }
                return entry
            }
        }
        let configuration = wanted ?? entries[key]?.configuration ?? self.configuration.defaultConfiguration
        // The key keeps the configuration it asked for; its kernel runs where it is placed.
        let placed = place(configuration)
        let fresh: KeyedKernel
        if configuration == self.configuration.defaultConfiguration,
            let index = spares.lastIndex(where: { $0.configuration == placed })
        {
            fresh = KeyedKernel(key: key, configuration: configuration, kernel: spares.remove(at: index))
            fresh.fromWarmSpare = true
            replenishSpares()
        } else {
            fresh = KeyedKernel(key: key, configuration: configuration, kernel: makeKernel(placed))
        }
        fresh.inFlight += 1
        let replaced = entries[key]
        entries[key] = fresh
        // After the entry is in place: a claim for the same key that runs during this await
        // takes this kernel instead of starting a second one.
        await fresh.kernel.serve(poolKey: key, hostFunctions: configuration.hostFunctions)
        if let replaced {
            fresh.pendingNotices.append(
                KernelNotice(.configurationChanged(from: replaced.configuration, to: configuration), key: key))
            emit(key, .restarted(.configurationChanged))
            await replaced.kernel.stop(because: .configurationChanged, grace: self.configuration.shutdownGrace)
        } else if let departure = departures.removeValue(forKey: key) {
            fresh.pendingNotices.append(departure)
        }
        await enforceCapacity()
        return fresh
    }

    /// `configuration` with the launcher the pool's placement chooses, when it has one and
    /// the configuration names no remote launcher of its own.
    private func place(_ configuration: KernelConfiguration, countingSpares: Bool = false) -> KernelConfiguration {
        guard let placement = self.configuration.placement, !configuration.launcher.isRemote else {
            return configuration
        }
        let kernels = entries.values.map(\.kernel) + (countingSpares ? spares + startingSpares.values : [])
        var placed = configuration
        placed.launcher = placement.choose(turn: placements) { launcher in
            kernels.count { $0.configuration.launcher == launcher }
        }
        placements += 1
        return placed
    }

    private func makeKernel(_ configuration: KernelConfiguration) -> PythonKernel {
        PythonKernel(configuration: configuration, logger: logger) { [weak self] kernel, death in
            Task { await self?.kernelDied(kernel, death) }
        }
    }

    /// Forgets an entry whose kernel never started (a bad interpreter path, say), so it holds
    /// no place in the cap or the listing; what its next use must say is kept.
    private func discardIfNeverStarted(_ entry: KeyedKernel) {
        guard entry.processID == nil, entry.inFlight == 0, entries[entry.key] === entry else { return }
        entries.removeValue(forKey: entry.key)
        if let notice = entry.pendingNotices.first { departures[entry.key] = notice }
    }

    /// Starts the entry's process if needed, and notices when it is not the process the key
    /// had before (it died, or was stopped), so the next execution says so.
    private func ensureProcess(of entry: KeyedKernel) async throws(KernelError) {
        let hello: KernelHello
        do {
            hello = try await entry.kernel.start()
        } catch {
            throw error as? KernelError ?? KernelError(.startupFailed, "\(error)")
        }
        let death = await entry.kernel.lastDeath
        let interpreter = await entry.kernel.interpreter
        guard hello.pid != entry.processID else { return }
        if let previous = entry.processID {
            if let death, death.processID == previous {
                noteDeath(death, of: entry)
            } else if entry.explainedProcessID != previous {
                entry.explainedProcessID = previous
                entry.pendingNotices.append(KernelNotice(.shutDown, key: entry.key))
            }
        }
        entry.processID = hello.pid
        entry.startedAt = Date()
        if let reason = await entry.kernel.templateUnavailable { emit(entry.key, .templateUnavailable(reason: reason)) }
        emit(entry.key, .started(pid: hello.pid, interpreter: interpreter, fromWarmSpare: entry.fromWarmSpare))
        entry.fromWarmSpare = false
    }

    /// A key's kernel process ended without being asked to (the kernel's hook).
    private func kernelDied(_ kernel: PythonKernel, _ death: KernelDeath) {
        guard let entry = entries.values.first(where: { $0.kernel === kernel }) else { return }
        noteDeath(death, of: entry)
    }

    /// Queues the notice for the end of one of `entry`'s processes, and emits `died` for a
    /// death the host did not ask for; once per process.
    private func noteDeath(_ death: KernelDeath, of entry: KeyedKernel) {
        guard entry.explainedProcessID != death.processID else { return }
        entry.explainedProcessID = death.processID
        if !death.wasRequested { emit(entry.key, .died(death)) }
        entry.pendingNotices.append(KernelNotice(.died(death), key: entry.key))
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
                logger.debug(
                    "every kernel is busy; over the cap until one is idle", metadata: ["pool.live": "\(entries.count)"])
                return
            }
            // A kernel used directly through `kernel(for:)` may be busy without the pool knowing.
            let busy = await victim.kernel.isBusy
            guard entries[victim.key] === victim, victim.inFlight == 0, !busy else {
                skipped.insert(victim.key)
                continue
            }
            entries.removeValue(forKey: victim.key)
            departures[victim.key] = KernelNotice(.evicted(maximumLiveKernels: maximum), key: victim.key)
            emit(victim.key, .evicted)
            await victim.kernel.stop(because: .eviction, grace: configuration.shutdownGrace)
        }
    }

    /// Culls idle kernels and keeps the cap; false once the pool is closed.
    private func performMaintenance() async -> Bool {
        guard !closed else { return false }
        let now = ContinuousClock.now
        if let idleTimeout = configuration.idleTimeout {
            for entry in entries.values where entry.inFlight == 0 && entry.lastUsed.duration(to: now) >= idleTimeout {
                let kernel = entry.kernel
                let busy = await kernel.isBusy
                guard entries[entry.key] === entry, entry.inFlight == 0, !busy else { continue }
                let idleFor = entry.lastUsed.duration(to: now)
                entries.removeValue(forKey: entry.key)
                departures[entry.key] = KernelNotice(
                    .culled(idleFor: idleFor, idleTimeout: idleTimeout), key: entry.key)
                emit(entry.key, .culled(idleFor: idleFor))
                await kernel.stop(because: .idleCull, grace: configuration.shutdownGrace)
            }
        }
        await enforceCapacity()
        return true
    }

    // MARK: - Warm spares

    /// Starts spares until `warmSpares` are ready or starting.
    private func replenishSpares() {
        guard !closed else { return }
        let missing = configuration.warmSpares - spares.count - spareLaunches.count
        guard missing > 0 else { return }
        for _ in 0..<missing {
            spareLaunchCounter += 1
            let launch = spareLaunchCounter
            let epoch = spareEpoch
            let kernel = makeKernel(place(configuration.defaultConfiguration, countingSpares: true))
            startingSpares[launch] = kernel
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
        startingSpares.removeValue(forKey: launch)
        guard started, epoch == spareEpoch, !closed else {
            if !started { logger.warning("a warm spare kernel failed to start") }
            await kernel.close(grace: configuration.shutdownGrace)
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
}

/// A live key: its kernel, configuration and bookkeeping. Confined to the pool actor.
private final class KeyedKernel {
    let key: String
    /// The key's configuration; its host functions' handlers are the ones given last.
    var configuration: KernelConfiguration
    let kernel: PythonKernel
    /// The pid of the process that holds the key's state; nil before the first start.
    var processID: Int32?
    var startedAt: Date?
    var lastUsed = ContinuousClock.now
    var lastUsedDate = Date()
    /// Pool calls using the entry right now; an entry in use is never evicted or culled.
    var inFlight = 0
    /// The kernel was a warm spare and its `started` event is not sent yet.
    var fromWarmSpare = false
    /// The process whose end is already queued as a notice, so it is told once.
    var explainedProcessID: Int32?
    /// Notices the key's next execution starts with.
    var pendingNotices: [KernelNotice] = []

    init(key: String, configuration: KernelConfiguration, kernel: PythonKernel) {
        self.key = key
        self.configuration = configuration
        self.kernel = kernel
    }

    func touch() {
        lastUsed = .now
        lastUsedDate = Date()
    }

    /// The pending notices, now said.
    func takeNotices() -> [KernelNotice] {
        defer { pendingNotices.removeAll() }
        return pendingNotices
    }
}
