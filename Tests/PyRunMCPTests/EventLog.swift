import Synchronization

/// What happened, in order, noted from any task: for tests of what comes before what.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])

    func note(_ entry: String) { entries.withLock { $0.append(entry) } }

    var all: [String] { entries.withLock { $0 } }

    /// Whether `earlier` was noted, and before `later`.
    func noted(_ earlier: String, before later: String) -> Bool {
        let all = all
        guard let first = all.firstIndex(of: earlier), let second = all.firstIndex(of: later) else { return false }
        return first < second
    }
}
