import Foundation
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `pid` names a live process; a zombie counts as gone, since it runs nothing and
/// this machine's init may never reap it.
func processIsAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    #if os(Linux)
    if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    {
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
    #endif
    return true
}

/// Polls until `pid` is gone, at most `seconds`: a liveness bound, not a timing assertion.
func waitUntilGone(_ pid: Int32, seconds: Double = 10) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if !processIsAlive(pid) { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return !processIsAlive(pid)
}

/// A kernel for one test, shut down when the body returns, whatever happened. The default
/// interrupt grace is long so a loaded CI machine never turns an interrupt into a kill.
func withKernel<T>(
    _ configuration: KernelConfiguration = KernelConfiguration(interruptGrace: .seconds(10)),
    _ body: (PythonKernel) async throws -> T
) async throws -> T {
    let kernel = PythonKernel(configuration: configuration)
    do {
        let value = try await body(kernel)
        await kernel.shutdown(grace: .seconds(1))
        return value
    } catch {
        await kernel.shutdown(grace: .seconds(1))
        throw error
    }
}

/// A scratch directory removed at the end of the test.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("pyrun-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Writes an executable shell script.
func writeScript(_ path: String, _ text: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
}

/// Reads the pid a Python snippet printed on its last stdout line.
func lastInteger(in text: String) -> Int32? {
    text.split(separator: "\n").last.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
}
