#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every process that belongs to one spawned process (the root), however it left the root's
/// process group, and how to end them all.
///
/// A process belongs to the root when it is the root's descendant, or is in a session or a
/// process group created by the root or by another member. Session and group ids are the
/// pids of their creators, and Linux never hands out a pid that a session or group still
/// carries, so membership by id can only name the root's own offspring. It reaches what the
/// parent links no longer do: a child the root's death orphaned is still in the root's
/// session, and the orphaned children of a member that called `setsid` are still in that
/// member's session.
///
/// On Linux membership is read from `/proc`. Elsewhere (macOS) there is no `/proc`: only the
/// root and its process group are reached.
struct ProcessFamily: Sendable {
    let root: pid_t

    /// How many rounds of "stop what is new, look again" a teardown makes at most: each round
    /// reaches one generation deeper, and stopped processes cannot fork.
    private static let maximumRounds = 64

    /// The members alive now, the root excluded: what `table` shows as belonging to the root,
    /// plus those of `remembered` still alive (matched by start time, so a reused pid is not
    /// taken for them) and what belongs to them.
    func members(in table: [pid_t: ProcessRecord], remembered: Set<ProcessIdentity> = []) -> [ProcessRecord] {
        var childrenByParent: [pid_t: [ProcessRecord]] = [:]
        var bySession: [pid_t: [ProcessRecord]] = [:]
        var byGroup: [pid_t: [ProcessRecord]] = [:]
        for record in table.values {
            childrenByParent[record.parent, default: []].append(record)
            bySession[record.session, default: []].append(record)
            byGroup[record.group, default: []].append(record)
        }
        let host = Self.hostProcesses
        var found: [pid_t: ProcessRecord] = [:]
        var pending: [ProcessRecord] = []
        func visit(_ record: ProcessRecord) {
            guard record.pid != root, !host.contains(record.pid), found[record.pid] == nil else { return }
            found[record.pid] = record
            pending.append(record)
        }
        func expand(_ pid: pid_t, leadsSession: Bool, leadsGroup: Bool) {
            for child in childrenByParent[pid] ?? [] { visit(child) }
            if leadsSession { for member in bySession[pid] ?? [] { visit(member) } }
            if leadsGroup { for member in byGroup[pid] ?? [] { visit(member) } }
        }
        // The root's session and group ids are its pid whether or not it still leads them:
        // whatever carries them was made by the root or its offspring.
        expand(root, leadsSession: true, leadsGroup: true)
        for identity in remembered {
            if let record = table[identity.pid], record.startTime == identity.startTime { visit(record) }
        }
        while let next = pending.popLast() {
            expand(next.pid, leadsSession: next.session == next.pid, leadsGroup: next.group == next.pid)
        }
        return found.values.filter { !$0.isGone }
    }

    /// The members alive now, by identity, for a later teardown to find again after they
    /// have been orphaned: the root's descendants, and those of `remembered` still alive with
    /// their descendants. Where `/proc` lists children this reads only the family's own
    /// entries; otherwise it takes a whole `ProcessTable.snapshot()` and adds the root's
    /// session and groups. Empty where there is no `/proc`.
    func sample(remembered: Set<ProcessIdentity> = []) -> Set<ProcessIdentity> {
        guard ProcessTable.isAvailable else { return [] }
        guard ProcessTable.listsChildren else {
            return Set(members(in: ProcessTable.snapshot(), remembered: remembered).map(\.identity))
        }
        let host = Self.hostProcesses
        var found: Set<ProcessIdentity> = []
        var seen: Set<pid_t> = [root]
        var pending = ProcessTable.children(of: root) ?? []
        for identity in remembered where ProcessTable.record(of: identity.pid)?.startTime == identity.startTime {
            pending.append(identity.pid)
        }
        while let pid = pending.popLast() {
            guard seen.insert(pid).inserted, !host.contains(pid),
                let record = ProcessTable.record(of: pid), !record.isGone
            else { continue }
            found.insert(record.identity)
            pending += ProcessTable.children(of: pid) ?? []
        }
        return found
    }

    /// Kills every member and the root with SIGKILL, leaving no way out: the root is stopped
    /// first, then each generation of members as it is found, so none can fork or be
    /// orphaned between the look and the kill. Returns the identities it killed.
    ///
    /// The caller guarantees the root is not yet reaped (a zombie root is fine): until then
    /// its pid, session id and group id cannot name anyone else.
    @discardableResult
    func killAll(remembered: Set<ProcessIdentity> = []) -> Set<ProcessIdentity> {
        _ = kill(root, SIGSTOP)
        var stopped: [pid_t: ProcessRecord] = [:]
        if ProcessTable.isAvailable {
            for _ in 0..<Self.maximumRounds {
                let fresh = members(in: ProcessTable.snapshot(), remembered: remembered)
                    .filter { stopped[$0.pid]?.startTime != $0.startTime }
                if fresh.isEmpty { break }
                for record in fresh {
                    _ = kill(record.pid, SIGSTOP)
                    stopped[record.pid] = record
                }
            }
        }
        let host = Self.hostProcesses
        for record in stopped.values {
            _ = kill(record.pid, SIGKILL)
            if record.group == record.pid, !host.contains(record.pid) { _ = kill(-record.pid, SIGKILL) }
        }
        // The root's original group is the root's whether or not the root still leads it.
        _ = kill(-root, SIGKILL)
        _ = kill(root, SIGKILL)
        return Set(stopped.values.map(\.identity))
    }

    /// This process, its group and its session: never a member, whatever a table says.
    private static var hostProcesses: Set<pid_t> { [getpid(), getpgrp(), getsid(0)] }
}
