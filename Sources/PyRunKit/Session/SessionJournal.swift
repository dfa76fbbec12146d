import Foundation
import Synchronization

/// A session's bounded record of what happened, numbered, with any number of observers.
///
/// Appending never waits: each observer has its own backlog, and one that lets it grow past
/// `JournalLimits.observerBacklogEntries` (or `…Bytes`) is told it fell behind and where to
/// resume, and its observation ends; the others and the kernel carry on. `observe(from:)`
/// replays what is kept and then follows live; the replay and the live entries are taken
/// under one lock, so nothing is lost or repeated at the seam.
public final class SessionJournal: Sendable {
    /// Where the journal stands: what it keeps, what it dropped, who watches.
    public struct Status: Sendable, Hashable, CustomStringConvertible {
        /// The oldest entry kept; nil while nothing is kept.
        public var firstSequence: Int?
        /// The number the next entry will get.
        public var nextSequence: Int
        /// How many entries are kept.
        public var keptEntries: Int
        /// About how many bytes they hold.
        public var keptBytes: Int
        /// How many entries were dropped to stay within the limits.
        public var droppedEntries: Int
        /// Observations in progress.
        public var observers: Int

        public var description: String {
            let range = firstSequence.map { "#\($0)…#\(nextSequence - 1)" } ?? "empty"
            return
                "\(range), \(keptEntries) entries (\(ByteFormat.text(keptBytes))), \(droppedEntries) dropped, \(observers) observer\(observers == 1 ? "" : "s")"
        }
    }

    private struct Observer {
        var backlog = FIFOQueue<JournalObservation.Item>()
        var backlogEntries = 0
        var backlogBytes = 0
        /// A reader waiting for the next item; set only while the backlog is empty.
        var waiter: CheckedContinuation<JournalObservation.Item?, Never>?
        /// Nothing more is added: it fell behind, or the journal closed. The backlog is still read.
        var ended = false
    }

    private struct State {
        var kept = FIFOQueue<(entry: JournalEntry, size: Int)>()
        var keptBytes = 0
        var nextSequence = 1
        var droppedEntries = 0
        var closed = false
        var observers: [Int: Observer] = [:]
        var nextObserverID = 0
    }

    /// Identifies this journal: sequence numbers mean something only within one journal, so a
    /// client that resumes after a reconnection checks it has the same one.
    public let id = UUID().uuidString.lowercased()
    /// What it keeps and how far an observer may lag.
    public let limits: JournalLimits
    private let state = Mutex(State())

    /// Creates an empty journal.
    public init(limits: JournalLimits = JournalLimits()) {
        self.limits = limits
    }

    /// The number the next entry will get.
    public var nextSequence: Int { state.withLock { $0.nextSequence } }

    /// Where the journal stands.
    public var status: Status {
        state.withLock { state in
            Status(
                firstSequence: state.kept.first?.entry.sequence, nextSequence: state.nextSequence,
                keptEntries: state.kept.count, keptBytes: state.keptBytes, droppedEntries: state.droppedEntries,
                observers: state.observers.count)
        }
    }

    /// The entries kept, oldest first.
    public var entries: [JournalEntry] { state.withLock { $0.kept.elements.map(\.entry) } }

    /// Records `event` as the next entry and hands it to every observer; never waits.
    /// - Returns: the entry, or nil once the journal is closed.
    @discardableResult
    func append(_ event: SessionEvent, date: Date = Date()) -> JournalEntry? {
        let size = event.approximateSize
        var wakeups: [(CheckedContinuation<JournalObservation.Item?, Never>, JournalEntry)] = []
        let entry: JournalEntry? = state.withLock { state in
            guard !state.closed else { return nil }
            let entry = JournalEntry(sequence: state.nextSequence, date: date, event: event)
            state.nextSequence += 1
            state.kept.append((entry, size))
            state.keptBytes += size
            while state.kept.count > limits.maximumEntries
                || (state.keptBytes > limits.maximumBytes && state.kept.count > 1)
            {
                if let dropped = state.kept.popFirst() { state.keptBytes -= dropped.size }
                state.droppedEntries += 1
            }
            // Over a copy of the keys: iterating the dictionary itself while changing its
            // values would copy every backlog on each append.
            for id in Array(state.observers.keys) {
                guard !state.observers[id]!.ended else { continue }
                if let waiter = state.observers[id]!.waiter {
                    state.observers[id]!.waiter = nil
                    wakeups.append((waiter, entry))
                } else if state.observers[id]!.backlogEntries + 1 > limits.observerBacklogEntries
                    || state.observers[id]!.backlogBytes + size > limits.observerBacklogBytes
                {
                    state.observers[id]!.backlog.append(.fellBehind(resumeFrom: entry.sequence))
                    state.observers[id]!.ended = true
                } else {
                    state.observers[id]!.backlog.append(.entry(entry))
                    state.observers[id]!.backlogEntries += 1
                    state.observers[id]!.backlogBytes += size
                }
            }
            return entry
        }
        for (waiter, entry) in wakeups { waiter.resume(returning: .entry(entry)) }
        return entry
    }

    /// Replays the kept entries from `sequence` on, then follows live.
    ///
    /// The observation starts with a `gap` when entries from `sequence` on were already
    /// dropped, then yields every kept entry from there, then `live` once the replay is done,
    /// then each new entry as it is recorded. It ends when the journal closes, or after
    /// `fellBehind` when the observer lagged past its bound (observe again from the sequence
    /// it names). Iterate it from one task; cancelling that task ends it.
    /// - Parameter sequence: the first entry wanted; nil for the oldest kept. A number past
    ///   the end (one from another journal, see `id`) follows live only.
    public func observe(from sequence: Int? = nil) -> JournalObservation {
        let id = state.withLock { state -> Int in
            state.nextObserverID += 1
            var observer = Observer()
            let oldest = state.kept.first?.entry.sequence ?? state.nextSequence
            let from = min(max(sequence ?? oldest, 1), state.nextSequence)
            if from < oldest {
                observer.backlog.append(
                    .gap(JournalGap(requestedFrom: from, firstKept: oldest)))
            }
            for (entry, size) in state.kept.elements where entry.sequence >= from {
                observer.backlog.append(.entry(entry))
                observer.backlogEntries += 1
                observer.backlogBytes += size
            }
            observer.backlog.append(.live(nextSequence: state.nextSequence))
            observer.ended = state.closed
            state.observers[state.nextObserverID] = observer
            return state.nextObserverID
        }
        return JournalObservation(journal: self, observerID: id)
    }

    /// Ends every observation (each still reads what it was given) and records nothing more.
    public func close() {
        let waiters = state.withLock { state in
            state.closed = true
            var waiters: [CheckedContinuation<JournalObservation.Item?, Never>] = []
            for id in Array(state.observers.keys) {
                state.observers[id]!.ended = true
                if let waiter = state.observers[id]!.waiter {
                    waiters.append(waiter)
                    state.observers.removeValue(forKey: id)
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    // MARK: - For observations

    /// The observer's next item: from its backlog, else the next entry recorded; nil once it ended.
    func next(observerID: Int) async -> JournalObservation.Item? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: JournalObservation.Item?? = state.withLock { state in
                    guard state.observers[observerID] != nil else { return .some(nil) }
                    if let item = state.observers[observerID]!.backlog.popFirst() {
                        if case .entry(let entry) = item {
                            state.observers[observerID]!.backlogEntries -= 1
                            state.observers[observerID]!.backlogBytes -= entry.event.approximateSize
                        }
                        return .some(item)
                    }
                    if state.observers[observerID]!.ended || Task.isCancelled {
                        state.observers.removeValue(forKey: observerID)
                        return .some(nil)
                    }
                    state.observers[observerID]!.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            end(observerID: observerID)
        }
    }

    /// Forgets an observer; a read in progress ends with nil.
    func end(observerID: Int) {
        let waiter = state.withLock { $0.observers.removeValue(forKey: observerID)?.waiter }
        waiter?.resume(returning: nil)
    }
}
