#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A process's resident memory now and at its highest, from `/proc/<pid>/status` (Linux).
struct ResidentMemory: Sendable, Hashable {
    /// VmRSS, bytes.
    var current: Int
    /// VmHWM: the highest resident size of the program the process runs now, bytes. Unlike
    /// `ru_maxrss` it starts at zero with the program (see `KernelProcess` on why that
    /// matters).
    var peak: Int

    /// Reads `pid`'s memory; nil once it has exited (a zombie has none), or where there is
    /// no `/proc`.
    static func sample(_ pid: pid_t) -> ResidentMemory? {
        #if os(Linux)
        return SystemFile.withContents(of: "/proc/\(pid)/status") { ResidentMemory(status: $0) }
        #else
        return nil
        #endif
    }

    /// This process's own memory.
    static func sampleHost() -> ResidentMemory? {
        #if os(Linux)
        return SystemFile.withContents(of: "/proc/self/status") { ResidentMemory(status: $0) }
        #else
        return nil
        #endif
    }

    /// Parses the `VmHWM:` and `VmRSS:` lines (`VmRSS:\t  1764 kB`).
    init?(status: some Collection<UInt8>) {
        var current: Int?
        var peak: Int?
        for line in status.split(separator: UInt8(ascii: "\n")) {
            if line.starts(with: Self.residentKey) {
                current = Self.kibibytes(line.dropFirst(Self.residentKey.count))
            } else if line.starts(with: Self.peakKey) {
                peak = Self.kibibytes(line.dropFirst(Self.peakKey.count))
            }
            if current != nil, peak != nil { break }
        }
        guard let current, let peak else { return nil }
        self.current = current * 1024
        self.peak = peak * 1024
    }

    private static let residentKey = Array("VmRSS:".utf8)
    private static let peakKey = Array("VmHWM:".utf8)

    private static func kibibytes(_ field: some Collection<UInt8>) -> Int? {
        let digits = field.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            .prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return Int(String(decoding: digits, as: UTF8.self))
    }
}
