import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `pid` names a live process. A zombie counts as gone: it runs nothing, and the
/// init of a container may never reap it.
public func processIsAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    #if os(Linux)
    if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let nameEnd = stat.lastIndex(of: ")")
    {
        let state = stat[stat.index(nameEnd, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
    #endif
    return true
}

/// Polls until `pid` is gone, at most `seconds`: a liveness bound for "nothing was left
/// running", not a timing assertion.
public func waitUntilGone(_ pid: Int32, seconds: Double = 10) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if !processIsAlive(pid) { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return !processIsAlive(pid)
}

/// Runs `body` with a fresh scratch directory, removed afterwards whatever happened.
public func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("pyrun-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
