#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The count of OOM kills in a process's memory cgroup (Linux): `oom_kill` in cgroup v2's
/// `memory.events`, or in cgroup v1's `memory.oom_control` where the memory controller is
/// still on v1 (hybrid hierarchies). Read before and after a kernel's life, its difference is
/// evidence that the kernel (or a neighbour in its cgroup) was killed for memory.
struct OutOfMemoryCounter: Sendable, Hashable {
    /// The file that holds the `oom_kill` line.
    let path: String

    /// The current count; nil when the file cannot be read or has no `oom_kill` line.
    func read() -> Int? {
        SystemFile.withContents(of: path) { Self.count(in: $0) }
    }

    /// The counter of the memory cgroup `pid` is in, from `/proc/<pid>/cgroup` and this
    /// process's mount table; nil where there is none (macOS, no memory controller, a cgroup
    /// file system that is not mounted here).
    static func forProcess(_ pid: pid_t) -> OutOfMemoryCounter? {
        #if os(Linux)
        guard let cgroups = SystemFile.withContents(of: "/proc/\(pid)/cgroup", capacity: 1 << 14, Self.text),
            let mounts = SystemFile.withContents(of: "/proc/self/mountinfo", capacity: 1 << 20, Self.text)
        else { return nil }
        return locate(cgroups: cgroups, mountInfo: mounts) { access($0, R_OK) == 0 }
        #else
        return nil
        #endif
    }

    /// Finds the counter file from the texts of `/proc/<pid>/cgroup` and
    /// `/proc/self/mountinfo`; `isReadable` says whether a candidate file exists. cgroup v2 is
    /// preferred: its `memory.events` exists only where the memory controller is on v2.
    static func locate(cgroups: String, mountInfo: String, isReadable: (String) -> Bool) -> OutOfMemoryCounter? {
        var unifiedPath: String?
        var memoryPath: String?
        for line in cgroups.split(separator: "\n") {
            // hierarchy-id:controllers:path — the path may itself hold colons.
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0", parts[1].isEmpty {
                unifiedPath = String(parts[2])
            } else if parts[1].split(separator: ",").contains("memory") {
                memoryPath = String(parts[2])
            }
        }
        var candidates: [String] = []
        for line in mountInfo.split(separator: "\n") {
            // id parent major:minor root mount-point options [optional…] - type source super-options
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count > separator + 3 else {
                continue
            }
            let root = unescape(fields[3])
            let mountPoint = unescape(fields[4])
            let type = fields[separator + 1]
            let superOptions = fields[separator + 3].split(separator: ",")
            if type == "cgroup2", let unifiedPath, let relative = relativePath(unifiedPath, under: root) {
                candidates.insert(mountPoint + relative + "/memory.events", at: 0)
            } else if type == "cgroup", superOptions.contains("memory"), let memoryPath,
                let relative = relativePath(memoryPath, under: root)
            {
                candidates.append(mountPoint + relative + "/memory.oom_control")
            }
        }
        return candidates.first(where: isReadable).map(OutOfMemoryCounter.init(path:))
    }

    /// The part of a cgroup path below a mount's root ("" for the root itself), or nil when
    /// the mount shows another part of the hierarchy.
    private static func relativePath(_ path: String, under root: String) -> String? {
        if root == "/" { return path == "/" ? "" : path }
        if path == root { return "" }
        return path.hasPrefix(root + "/") ? String(path.dropFirst(root.count)) : nil
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    private static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The number on the `oom_kill` line.
    static func count(in contents: some Collection<UInt8>) -> Int? {
        for line in contents.split(separator: UInt8(ascii: "\n")) {
            let parts = line.split(separator: UInt8(ascii: " "))
            if parts.count == 2, parts[0].elementsEqual("oom_kill".utf8) {
                return Int(String(decoding: parts[1], as: UTF8.self))
            }
        }
        return nil
    }

    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        String(decoding: bytes, as: UTF8.self)
    }
}
