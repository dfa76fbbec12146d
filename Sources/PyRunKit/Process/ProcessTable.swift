#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A process named so that a later process given the same pid is not mistaken for it: the
/// pid with the time the process started.
struct ProcessIdentity: Sendable, Hashable {
    let pid: pid_t
    /// Clock ticks after boot (`/proc/<pid>/stat` field 22).
    let startTime: UInt64
}

/// What `/proc/<pid>/stat` says of one process.
struct ProcessRecord: Sendable, Hashable {
    let pid: pid_t
    let parent: pid_t
    let group: pid_t
    let session: pid_t
    let startTime: UInt64
    /// Zombie or dead: it runs nothing and holds no descriptors.
    let isGone: Bool
    /// `PF_EXITING`: it is in the kernel's exit path and has, or will have, closed its files.
    let isExiting: Bool

    var identity: ProcessIdentity { ProcessIdentity(pid: pid, startTime: startTime) }

    /// Parses the text of `/proc/<pid>/stat`: `pid (comm) state ppid pgrp session … starttime …`.
    /// The command name may hold spaces and parentheses, so fields are counted after the last
    /// `)`. Every process is parsed at each look, so this scans the bytes once, by pointer,
    /// and makes no strings.
    init?(stat bytes: UnsafeBufferPointer<UInt8>) {
        guard let start = bytes.baseAddress, let nameEnd = bytes.lastIndex(of: UInt8(ascii: ")")) else {
            return nil
        }
        let end = start + bytes.count
        guard let pid = Self.number(at: start, end: end) else { return nil }
        // Fields after the name, by proc(5) number: 3 state, 4 ppid, 5 pgrp, 6 session,
        // 9 flags, 22 starttime.
        var field = 2
        var state: UInt8 = 0
        var parent: UInt64?
        var group: UInt64?
        var session: UInt64?
        var flags: UInt64?
        var startTime: UInt64?
        var cursor = start + nameEnd + 1
        while cursor < end, field < 22 {
            guard cursor.pointee == UInt8(ascii: " ") else {
                cursor += 1
                continue
            }
            field += 1
            cursor += 1
            switch field {
            case 3: state = cursor < end ? cursor.pointee : 0
            case 4: parent = Self.number(at: cursor, end: end)
            case 5: group = Self.number(at: cursor, end: end)
            case 6: session = Self.number(at: cursor, end: end)
            case 9: flags = Self.number(at: cursor, end: end)
            case 22: startTime = Self.number(at: cursor, end: end)
            default: break
            }
        }
        guard let parent, let group, let session, let flags, let startTime else { return nil }
        self.pid = pid_t(truncatingIfNeeded: pid)
        self.parent = pid_t(truncatingIfNeeded: parent)
        self.group = pid_t(truncatingIfNeeded: group)
        self.session = pid_t(truncatingIfNeeded: session)
        self.startTime = startTime
        isGone = state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") || state == UInt8(ascii: "x")
        isExiting = flags & Self.exitingFlag != 0
    }

    /// `PF_EXITING` from the Linux kernel's sched.h.
    private static let exitingFlag: UInt64 = 0x4

    /// The decimal number at `cursor` (nil if none); the fields read here are never negative.
    private static func number(at cursor: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        var digit = cursor
        while digit < end, digit.pointee >= UInt8(ascii: "0"), digit.pointee <= UInt8(ascii: "9") {
            value = value &* 10 &+ UInt64(digit.pointee - UInt8(ascii: "0"))
            digit += 1
        }
        return digit > cursor ? value : nil
    }
}

/// The processes of this machine as `/proc` shows them (Linux). Elsewhere every query answers
/// nil or empty: there is no `/proc` to read.
enum ProcessTable {
    /// True where `/proc/<pid>/stat` can be read.
    static let isAvailable: Bool = {
        #if os(Linux)
        return access("/proc/self/stat", R_OK) == 0
        #else
        return false
        #endif
    }()

    /// One process, or nil when it does not exist (or cannot be read).
    static func record(of pid: pid_t) -> ProcessRecord? {
        guard isAvailable else { return nil }
        return readStat("/proc/\(pid)/stat")
    }

    /// True where `/proc/<pid>/task/<tid>/children` exists (CONFIG_PROC_CHILDREN).
    static let listsChildren: Bool = {
        #if os(Linux)
        return access("/proc/thread-self/children", R_OK) == 0
        #else
        return false
        #endif
    }()

    /// The children of `pid` (of all its threads), from `/proc/<pid>/task/*/children`; nil
    /// where those files do not exist. A few small reads: far cheaper than `snapshot()`.
    static func children(of pid: pid_t) -> [pid_t]? {
        guard listsChildren else { return nil }
        guard let tasks = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(tasks) }
        var children: [pid_t] = []
        while let entry = readdir(tasks) {
            let name = entryName(entry)
            guard name.first?.isNumber == true else { continue }
            let listed = SystemFile.withContents(of: "/proc/\(pid)/task/\(name)/children", capacity: 1 << 16) { bytes in
                bytes.split(separator: UInt8(ascii: " ")).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
            }
            children += listed ?? []
        }
        return children
    }

    /// Every process that can be read, by pid.
    ///
    /// One pass over `/proc`. `/proc/<pid>/task/<tid>/children` would name children without
    /// it, but it exists only with CONFIG_PROC_CHILDREN (absent from some kernels in use), and
    /// finding processes by session or group needs the whole table anyway.
    static func snapshot() -> [pid_t: ProcessRecord] {
        guard isAvailable, let directory = opendir("/proc") else { return [:] }
        defer { closedir(directory) }
        var records: [pid_t: ProcessRecord] = [:]
        while let entry = readdir(directory) {
            let name = entryName(entry)
            guard let first = name.utf8.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9"),
                let record = readStat("/proc/\(name)/stat")
            else { continue }
            records[record.pid] = record
        }
        return records
    }

    private static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func readStat(_ path: String) -> ProcessRecord? {
        // A stat line is a few hundred bytes; the command name is at most 64.
        SystemFile.withContents(of: path, capacity: 1024) { ProcessRecord(stat: $0) }
    }
}
