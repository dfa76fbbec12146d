import Foundation
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading what /proc and /sys say about processes, and deciding from a process table what
/// belongs to a kernel: the pure parts of the process layer's accounting, on fixed inputs.
@Suite struct ProcessTableTests {
    private static let linuxProc = ProcessTable.isAvailable

    // MARK: - Parsing what /proc and /sys say

    @Test func aStatLineIsReadPastACommandNameWithSpacesAndParentheses() throws {
        let line = "4242 (my (odd) name) S 4200 4242 4100 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 3 0 987654 1 2 3\n"
        let record = try #require(parseStat(line))
        #expect(record.pid == 4242)
        #expect(record.parent == 4200)
        #expect(record.group == 4242)
        #expect(record.session == 4100)
        #expect(record.startTime == 987654)
        #expect(!record.isGone)
        #expect(!record.isExiting)
        let exiting = "7 (x) Z 1 7 7 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n"
        let zombie = try #require(parseStat(exiting))
        #expect(zombie.isGone)
        #expect(zombie.isExiting)
        #expect(parseStat("12 (truncated) S 1 2") == nil)
    }

    @Test(.enabled(if: linuxProc)) func theTableShowsThisProcess() throws {
        let me = try #require(ProcessTable.record(of: getpid()))
        #expect(me.parent == getppid())
        #expect(me.group == getpgrp())
        #expect(me.session == getsid(0))
        #expect(ProcessTable.snapshot()[getpid()] == me)
    }

    @Test func residentMemoryIsReadFromTheStatusLines() throws {
        let status =
            "Name:\tpython3\nVmPeak:\t  30000 kB\nVmHWM:\t   12000 kB\nVmRSS:\t    9000 kB\nRssAnon:\t 100 kB\n"
        let memory = try #require(ResidentMemory(status: Array(status.utf8)))
        #expect(memory.current == 9000 * 1024)
        #expect(memory.peak == 12000 * 1024)
        #expect(ResidentMemory(status: Array("Name:\tkthreadd\nState:\tS\n".utf8)) == nil)
    }

    @Test func theOutOfMemoryCounterIsFoundOnCgroupV2() throws {
        let counter = OutOfMemoryCounter.locate(
            cgroups: "0::/user.slice/user-1000.slice/session-3.scope\n",
            mountInfo: """
                24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
                35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
                """,
            isReadable: { _ in true })
        #expect(counter?.path == "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/memory.events")
    }

    @Test func theOutOfMemoryCounterFallsBackToCgroupV1OnAHybridHierarchy() throws {
        // This machine's layout: v2 mounted without the memory controller, memory on v1.
        let cgroups = "9:name=systemd:/\n4:memory:/process_api/3fae\n0::/\n"
        let mounts = """
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        let v1 = "/sys/fs/cgroup/memory/process_api/3fae/memory.oom_control"
        let counter = OutOfMemoryCounter.locate(cgroups: cgroups, mountInfo: mounts) { $0 == v1 }
        #expect(counter?.path == v1)
        // Where v2 does have the memory controller, it wins.
        let both = OutOfMemoryCounter.locate(cgroups: cgroups, mountInfo: mounts) { _ in true }
        #expect(both?.path == "/sys/fs/cgroup/unified/memory.events")
    }

    @Test func theOutOfMemoryCounterFollowsAMountOfPartOfTheHierarchy() throws {
        // Inside a container the mount may show only the container's own subtree.
        let mounts = "50 40 0:40 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
        let inside = OutOfMemoryCounter.locate(
            cgroups: "0::/kubepods/pod1/app\n", mountInfo: mounts, isReadable: { _ in true })
        #expect(inside?.path == "/sys/fs/cgroup/app/memory.events")
        let elsewhere = OutOfMemoryCounter.locate(
            cgroups: "0::/kubepods/pod2\n", mountInfo: mounts, isReadable: { _ in true })
        #expect(elsewhere == nil)
        let escaped = OutOfMemoryCounter.locate(
            cgroups: "0::/a\n", mountInfo: "1 0 0:1 / /mnt/cg\\040root rw - cgroup2 none rw\n",
            isReadable: { _ in true })
        #expect(escaped?.path == "/mnt/cg root/a/memory.events")
    }

    @Test func theOutOfMemoryCountIsTheOomKillLine() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
        #expect(OutOfMemoryCounter.count(in: Array(events.utf8)) == 2)
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"
        #expect(OutOfMemoryCounter.count(in: Array(v1.utf8)) == 7)
        #expect(OutOfMemoryCounter.count(in: Array("oom 1\n".utf8)) == nil)
    }

    // MARK: - Family membership

    private func record(
        _ pid: pid_t, parent: pid_t, group: pid_t, session: pid_t, start: UInt64 = 100, gone: Bool = false
    )
        -> ProcessRecord
    {
        let state = gone ? "Z" : "S"
        let line = "\(pid) (p) \(state) \(parent) \(group) \(session) 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 \(start) 0 0"
        return parseStat(line)!
    }

    @Test func theFamilyIsDescendantsSessionsAndGroupsOfMembers() {
        let root: pid_t = 1000
        let table = Dictionary(
            uniqueKeysWithValues: [
                record(1, parent: 0, group: 1, session: 1),
                record(root, parent: getpid(), group: root, session: root),
                record(1001, parent: root, group: root, session: root),  // a plain child
                record(1002, parent: root, group: 1002, session: 1002),  // a child in a new session
                record(1003, parent: 1, group: 1003, session: root),  // orphan still in the root's session
                record(1004, parent: 1, group: 1002, session: 1002),  // orphan in the new session's group
                record(1005, parent: 1004, group: 1005, session: 1002),  // its child
                record(1006, parent: 1, group: 1006, session: 1006),  // a stranger
                record(1007, parent: 1, group: 1007, session: 1007, start: 555),  // remembered
                record(1008, parent: 1, group: 1008, session: 1008, start: 999),  // remembered, but pid reused
                record(1009, parent: 1001, group: root, session: root, gone: true),  // a zombie
            ].map { ($0.pid, $0) })
        let remembered: Set = [ProcessIdentity(pid: 1007, startTime: 555), ProcessIdentity(pid: 1008, startTime: 111)]
        let members = Set(ProcessFamily(root: root).members(in: table, remembered: remembered).map(\.pid))
        #expect(members == [1001, 1002, 1003, 1004, 1005, 1007])
    }

    @Test func theHostIsNeverAMember() {
        let root: pid_t = 1000
        let me = getpid()
        // A table that claims the host sits in the root's session (it cannot): still excluded.
        let table = Dictionary(
            uniqueKeysWithValues: [
                record(root, parent: me, group: root, session: root),
                record(me, parent: getppid(), group: getpgrp(), session: root),
            ].map { ($0.pid, $0) })
        #expect(ProcessFamily(root: root).members(in: table).isEmpty)
    }
}

/// Parses a stat line given as text.
func parseStat(_ line: String) -> ProcessRecord? {
    Array(line.utf8).withUnsafeBufferPointer { ProcessRecord(stat: $0) }
}
