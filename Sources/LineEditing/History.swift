/// Where history entries are kept between sessions.
public protocol HistoryStore: Sendable {
    /// The entries saved so far, oldest first.
    func load() throws -> [String]
    /// Saves one more entry, newest last.
    func append(_ entry: String) throws
}

/// The entries a session can recall, oldest first: bounded, with no blank entries and no
/// entry repeated right after itself.
public struct History: Hashable, Sendable {
    /// The entries kept when no other limit is given.
    public static let defaultLimit = 1_000

    public private(set) var entries: [String] = []
    public let limit: Int

    public init(_ entries: [String] = [], limit: Int = History.defaultLimit) {
        self.limit = max(limit, 1)
        entries.forEach { add($0) }
    }

    /// Adds an entry; false (and nothing kept) when it is blank or the same as the last one.
    @discardableResult
    public mutating func add(_ entry: String) -> Bool {
        guard !entry.allSatisfy(\.isWhitespace), entry != entries.last else { return false }
        entries.append(entry)
        if entries.count > limit { entries.removeFirst(entries.count - limit) }
        return true
    }
}
