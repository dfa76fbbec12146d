/// How much a session's journal keeps, and how far behind one observer may fall.
public struct JournalLimits: Sendable, Hashable, CustomStringConvertible {
    /// The most entries kept; older ones are dropped first.
    public var maximumEntries: Int
    /// About the most bytes the kept entries may hold (output text, bundles, code); older
    /// entries are dropped first. The newest entry is always kept.
    public var maximumBytes: Int
    /// The most entries an observer may have waiting to be read before it is told it fell
    /// behind (and where to resume) and its observation ends. The kernel never waits for an
    /// observer.
    public var observerBacklogEntries: Int
    /// The most bytes an observer may have waiting, as `observerBacklogEntries`.
    public var observerBacklogBytes: Int

    /// The defaults: 1,000 entries and 8 MiB kept; an observer may lag by 10,000 entries or 16 MiB.
    public init(
        maximumEntries: Int = 1000, maximumBytes: Int = 8 << 20, observerBacklogEntries: Int = 10_000,
        observerBacklogBytes: Int = 16 << 20
    ) {
        self.maximumEntries = max(1, maximumEntries)
        self.maximumBytes = max(1, maximumBytes)
        self.observerBacklogEntries = max(1, observerBacklogEntries)
        self.observerBacklogBytes = max(1, observerBacklogBytes)
    }

    public var description: String {
        "keeps \(maximumEntries) entries and \(ByteFormat.text(maximumBytes)); an observer may lag by \(observerBacklogEntries) entries or \(ByteFormat.text(observerBacklogBytes))"
    }
}
