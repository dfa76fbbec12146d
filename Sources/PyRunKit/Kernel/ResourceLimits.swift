/// Limits applied to the runner with `setrlimit` (docs/protocol.md, §7 `PYRUN_LIMITS`).
public struct ResourceLimits: Sendable, Hashable, CustomStringConvertible {
    /// Address-space limit (`RLIMIT_AS`); an allocation past it is a `MemoryError`.
    public var memoryBytes: Int?
    /// CPU time limit (`RLIMIT_CPU`); the kernel is killed with SIGXCPU past it.
    public var cpuSeconds: Int?
    /// Maximum open file descriptors (`RLIMIT_NOFILE`).
    public var openFiles: Int?
    /// Largest file the kernel may write (`RLIMIT_FSIZE`).
    public var fileSizeBytes: Int?

    /// Limits; each nil one is left as the host's.
    public init(memoryBytes: Int? = nil, cpuSeconds: Int? = nil, openFiles: Int? = nil, fileSizeBytes: Int? = nil) {
        self.memoryBytes = memoryBytes
        self.cpuSeconds = cpuSeconds
        self.openFiles = openFiles
        self.fileSizeBytes = fileSizeBytes
    }

    public var description: String {
        let parts = [
            memoryBytes.map { "memory \(ByteFormat.text($0))" },
            cpuSeconds.map { "CPU \($0) s" },
            openFiles.map { "\($0) open files" },
            fileSizeBytes.map { "file size \(ByteFormat.text($0))" },
        ].compactMap { $0 }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    /// No limits at all.
    public static let none = ResourceLimits()

    /// The `PYRUN_LIMITS` value, or nil when no limit is set.
    var environmentValue: String? {
        var object: [String: JSONValue] = [:]
        if let memoryBytes { object["memoryBytes"] = .number(Double(memoryBytes)) }
        if let cpuSeconds { object["cpuSeconds"] = .number(Double(cpuSeconds)) }
        if let openFiles { object["openFiles"] = .number(Double(openFiles)) }
        if let fileSizeBytes { object["fileSizeBytes"] = .number(Double(fileSizeBytes)) }
        return object.isEmpty ? nil : JSONValue.object(object).serialized()
    }
}
