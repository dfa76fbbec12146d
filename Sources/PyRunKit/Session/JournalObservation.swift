/// Entries an observer asked for that the journal no longer keeps.
public struct JournalGap: Sendable, Hashable, CustomStringConvertible {
    /// The first sequence number the observer asked for.
    public var requestedFrom: Int
    /// The oldest entry still kept: the replay starts there.
    public var firstKept: Int

    public init(requestedFrom: Int, firstKept: Int) {
        self.requestedFrom = requestedFrom
        self.firstKept = firstKept
    }

    /// How many entries were dropped between the two.
    public var droppedCount: Int { firstKept - requestedFrom }

    public var description: String {
        "\(droppedCount) earlier entr\(droppedCount == 1 ? "y was" : "ies were") dropped (#\(requestedFrom)…#\(firstKept - 1))"
    }
}

/// One observer's view of a journal: a replay of what is kept, then the entries as they are
/// recorded. See `SessionJournal.observe(from:)`.
public struct JournalObservation: AsyncSequence, Sendable {
    /// What an observer receives.
    public enum Item: Sendable, Hashable, CustomStringConvertible {
        /// Entries the observer asked for were already dropped; the replay starts later.
        case gap(JournalGap)
        /// One entry, replayed or live.
        case entry(JournalEntry)
        /// The replay is complete: what follows is live, starting at `nextSequence`.
        case live(nextSequence: Int)
        /// The observer lagged past its bound: nothing more follows. Observe again from
        /// `resumeFrom` (the first entry it did not get) to continue.
        case fellBehind(resumeFrom: Int)

        public var description: String {
            switch self {
            case .gap(let gap): "gap: \(gap)"
            case .entry(let entry): entry.description
            case .live(let next): "live from #\(next)"
            case .fellBehind(let resume): "fell behind; resume from #\(resume)"
            }
        }
    }

    public typealias Element = Item
    public typealias Failure = Never

    let journal: SessionJournal
    private let registration: Registration

    init(journal: SessionJournal, observerID: Int) {
        self.journal = journal
        self.registration = Registration(journal: journal, observerID: observerID)
    }

    /// Stops observing; the iterator then ends.
    public func cancel() {
        journal.end(observerID: registration.observerID)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(registration: registration)
    }

    /// Yields the items until the observation ends.
    public struct Iterator: AsyncIteratorProtocol {
        let registration: Registration

        public mutating func next() async -> Item? {
            await registration.journal.next(observerID: registration.observerID)
        }
    }

    /// Held by the observation and its iterators: when the last is released, the observer
    /// is forgotten, so an abandoned observation holds no backlog.
    final class Registration: Sendable {
        let journal: SessionJournal
        let observerID: Int

        init(journal: SessionJournal, observerID: Int) {
            self.journal = journal
            self.observerID = observerID
        }

        deinit {
            journal.end(observerID: observerID)
        }
    }
}
