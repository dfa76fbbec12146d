import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the built `pyrun` is: `$PYRUN_CLI_PATH`, else the newest `debug/pyrun` (or
/// `release/pyrun`) under any `.build*` scratch directory of this package, so the tests run
/// the binary that `swift build` just made whichever scratch path it used.
let pyrunExecutable: String = {
    if let given = ProcessInfo.processInfo.environment["PYRUN_CLI_PATH"], !given.isEmpty { return given }
    let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let fileManager = FileManager.default
    let scratchDirectories = ((try? fileManager.contentsOfDirectory(atPath: packageRoot.path)) ?? [])
        .filter { $0.hasPrefix(".build") }
    var newest: (path: String, modified: Date)?
    for scratch in scratchDirectories {
        for configuration in ["debug", "release"] {
            let candidate = packageRoot.appendingPathComponent("\(scratch)/\(configuration)/pyrun").path
            guard fileManager.isExecutableFile(atPath: candidate),
                let modified = try? fileManager.attributesOfItem(atPath: candidate)[.modificationDate] as? Date
            else { continue }
            if newest == nil || modified > newest!.modified { newest = (candidate, modified) }
        }
    }
    return newest?.path ?? packageRoot.appendingPathComponent(".build/debug/pyrun").path
}()

/// What a finished `pyrun` left.
struct PyrunOutcome {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A running `pyrun`, driven as a user would drive it: arguments, standard input, signals,
/// and its output read as it comes.
final class PyrunProcess: Sendable {
    private let process: Process
    private let stdinPipe = Pipe()
    private let stdoutBytes = ByteCollector()
    private let stderrBytes = ByteCollector()
    private let readersDone = DispatchGroup()

    /// Starts `pyrun arguments`.
    /// - Parameter environment: variables added to (or replacing) the test's own.
    /// - Parameter executable: another program to run instead of pyrun (a driver of it).
    init(
        _ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
        executable: String = pyrunExecutable
    ) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        for (pipe, sink) in [(stdoutPipe, stdoutBytes), (stderrPipe, stderrBytes)] {
            let fd = pipe.fileHandleForReading.fileDescriptor
            readersDone.enter()
            Thread { [readersDone] in
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count < 0, errno == EINTR { continue }
                    guard count > 0 else { break }
                    sink.bytes.withLock { $0.append(contentsOf: chunk[0..<count]) }
                }
                readersDone.leave()
            }.start()
        }
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { stdoutBytes.text }

    /// The bytes of stdout from `offset` on (for a reader that parses as it goes).
    func stdoutBytes(from offset: Int) -> [UInt8] {
        stdoutBytes.bytes.withLock { Array($0[min(offset, $0.count)...]) }
    }
    var stderr: String { stderrBytes.text }

    /// Writes to pyrun's standard input.
    func write(_ text: String) {
        stdinPipe.fileHandleForWriting.write(Data(text.utf8))
    }

    /// Ends pyrun's standard input (Ctrl-D).
    func closeInput() {
        try? stdinPipe.fileHandleForWriting.close()
    }

    func send(signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits until stdout contains `text`; false if it did not within `seconds` (a liveness
    /// bound, not a timing assertion).
    func waitForStdout(containing text: String, seconds: Double = 30) async -> Bool {
        await poll(seconds: seconds) { self.stdout.contains(text) }
    }

    /// Waits for pyrun to exit and its output to end; kills it past `seconds`.
    func finish(seconds: Double = 60) async -> PyrunOutcome {
        closeInput()
        let exited = await poll(seconds: seconds) { !self.process.isRunning }
        if !exited {
            Issue.record("pyrun did not exit within \(seconds) s; killing it")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        // Polled rather than waited for: a blocking wait would hold one of the few threads
        // of Swift's cooperative pool, which every other test running in parallel needs.
        _ = await poll(seconds: 10) { self.readersDone.wait(timeout: .now()) == .success }
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return PyrunOutcome(status: status, stdout: stdout, stderr: stderr)
    }
}

/// Output of one stream, appended by its reader thread and read by the test.
final class ByteCollector: Sendable {
    let bytes = Mutex<[UInt8]>([])

    var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
}

/// Runs `pyrun arguments` to the end with `input` on its standard input.
func runPyrun(
    _ arguments: [String], input: String = "", environment: [String: String] = [:], workingDirectory: String? = nil
) async throws -> PyrunOutcome {
    let process = try PyrunProcess(arguments, environment: environment, workingDirectory: workingDirectory)
    if !input.isEmpty { process.write(input) }
    return await process.finish()
}

/// Polls `condition` every 20 ms for at most `seconds`.
func poll(seconds: Double, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// The interpreter `pyrun` picks by default here, as the kernel reports it.
let defaultInterpreter: String = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { return "python3" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}()

/// Another Python 3.9+ on this machine, for switching kernels, if there is one.
let alternativeInterpreter: String? = {
    let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
    let pyenvVersions = "\(home)/.pyenv/versions"
    // pyenv's versions named 3.9 or newer; older ones cannot run a kernel.
    let supported = ((try? FileManager.default.contentsOfDirectory(atPath: pyenvVersions)) ?? []).filter { name in
        let parts = name.split(separator: ".").compactMap { Int($0) }
        return parts.count >= 2 && parts[0] == 3 && parts[1] >= 9
    }
    let candidates =
        ["/usr/bin/python3", "/usr/local/bin/python3"]
        + supported.sorted().map { "\(pyenvVersions)/\($0)/bin/python3" }
    let defaultReal = URL(fileURLWithPath: defaultInterpreter).resolvingSymlinksInPath().path
    return candidates.first { candidate in
        FileManager.default.isExecutableFile(atPath: candidate)
            && URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path != defaultReal
    }
}()
