/// Counts each session's interpreters: a session's generation goes up whenever it is seen
/// with a process it did not have before (its first start, a reset, a restart after a death,
/// a start after a close), so a model can tell from two replies whether they ran in the same
/// interpreter.
///
/// The pool owns the processes; this only remembers the last pid seen per session, from the
/// two places the server learns it: the start of a run and a listing.
actor SessionGenerations {
    private struct Entry {
        var generation = 0
        var processID: Int32?
    }

    private var entries: [String: Entry] = [:]

    /// The session's generation, counting `processID` as seen (nil leaves it as it was).
    func observe(_ processID: Int32?, in session: String) -> Int {
        var entry = entries[session] ?? Entry()
        if let processID, processID != entry.processID {
            entry.generation += 1
            entry.processID = processID
        }
        entries[session] = entry
        return entry.generation
    }

    /// The session's generation: 0 for a session that never started.
    func generation(of session: String) -> Int {
        entries[session]?.generation ?? 0
    }
}
