import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a benchmark peer process could not be driven.
struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A process the bench drives directly over pipes (a floor loop, `runner.py` without PyRunKit,
/// the Jupyter driver). It is spawned the way PyRunKit spawns kernels (posix_spawn, a new
/// process group, pipes for stdin and stdout) and read in 256 KiB chunks, so that a floor
/// measured with it differs from the library only by what the library adds on top.
/// Reads block the calling thread: the bench measures one side at a time.
final class PipedProcess {
    let pid: pid_t
    private var inputDescriptor: Int32
    private var outputDescriptor: Int32
    private let lines = LineReader()
    private var reaped = false

    /// Spawns `executable` with `arguments` and this process's environment less
    /// `unsetVariables`; stderr is inherited unless `silenceErrors`.
    init(executable: String, arguments: [String], unsetVariables: [String] = [], silenceErrors: Bool = false) throws {
        var requestPipe: [Int32] = [-1, -1]
        var framePipe: [Int32] = [-1, -1]
        guard pipe(&requestPipe) == 0, pipe(&framePipe) == 0 else {
            throw PeerError("pipe failed: errno \(errno)")
        }
        // The other peers the bench keeps open must not inherit these ends.
        for descriptor in requestPipe + framePipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        pid = try Self.spawn(
            executable: executable, arguments: arguments, standardInput: requestPipe[0],
            standardOutput: framePipe[1], unsetVariables: unsetVariables, silenceErrors: silenceErrors)
        close(requestPipe[0])
        close(framePipe[1])
        inputDescriptor = requestPipe[1]
        outputDescriptor = framePipe[0]
    }

    deinit {
        if inputDescriptor >= 0 { close(inputDescriptor) }
        if outputDescriptor >= 0 { close(outputDescriptor) }
        if !reaped {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Writes `text` and a newline, whole.
    func writeLine(_ text: String) throws {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        try writeAll(bytes)
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        guard inputDescriptor >= 0 else { throw PeerError("stdin of \(pid) is closed") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(inputDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                throw PeerError("process \(pid) stopped reading its stdin")
            }
        }
    }

    /// Reads lines until `body` returns true for one.
    /// - Throws: `PeerError` at end of output.
    func readLines(until body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        try lines.readLines(from: outputDescriptor, until: body)
    }

    /// The next whole line, without its newline.
    func readLine() throws -> [UInt8] {
        var result: [UInt8] = []
        try readLines { line in
            result = Array(line)
            return true
        }
        return result
    }

    /// The stdin write end, for a writer that is not this object (-1 once closed).
    var inputDescriptorForWriting: Int32 { inputDescriptor }

    /// Hands the stdout read end to a caller that reads it elsewhere (a reader thread);
    /// the caller closes it.
    func takeOutputDescriptor() -> Int32 {
        let descriptor = outputDescriptor
        outputDescriptor = -1
        return descriptor
    }

    /// Closes stdin: the loops here (and the runner) exit at end of input.
    func closeInput() {
        if inputDescriptor >= 0 {
            close(inputDescriptor)
            inputDescriptor = -1
        }
    }

    /// Sends `signal` to the whole process group.
    func signalGroup(_ signal: Int32) {
        if !reaped { kill(-pid, signal) }
    }

    /// Waits for the process to exit and reaps it.
    func waitForExit() {
        guard !reaped else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
    }

    /// Spawns in a new process group with default signal dispositions, as PyRunKit does.
    static func spawn(
        executable: String, arguments: [String], standardInput: Int32?, standardOutput: Int32?,
        unsetVariables: [String] = [], silenceErrors: Bool
    ) throws -> pid_t {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        var attributes: posix_spawnattr_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput { posix_spawn_file_actions_adddup2(&actions, standardInput, 0) }
        if let standardOutput { posix_spawn_file_actions_adddup2(&actions, standardOutput, 1) }
        if silenceErrors { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }

        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environment =
            ProcessInfo.processInfo.environment
            .filter { !unsetVariables.contains($0.key) }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in environment { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environment)
        guard result == 0 else { throw PeerError("cannot spawn \(executable): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Runs `executable` to completion with stdin empty and stdout and stderr discarded;
    /// returns its wall time in seconds, spawn to reaped.
    static func timeToCompletion(executable: String, arguments: [String]) throws -> Double {
        try costOfCompletion(executable: executable, arguments: arguments).wallSeconds
    }

    /// Runs `executable` as `timeToCompletion` does; returns its wall time and the CPU time
    /// (user + system) of it and every child it waited for, in seconds.
    static func costOfCompletion(executable: String, arguments: [String]) throws -> (
        wallSeconds: Double, cpuSeconds: Double
    ) {
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let stopwatch = Stopwatch()
        let pid = try spawn(
            executable: executable, arguments: arguments, standardInput: devNull, standardOutput: devNull,
            silenceErrors: true)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let elapsed = stopwatch.seconds
        guard status == 0 else {
            throw PeerError("\(executable) \(arguments.joined(separator: " ")) exited with wait status \(status)")
        }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return (elapsed, seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }
}

/// Splits a byte stream into lines without copying each line out of the read buffer. The
/// buffer is raw memory grown by doubling, so a 50 MB line costs the same in a debug build.
final class LineReader {
    private var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private var start = 0
    private var end = 0
    /// Bytes before this index (from `start`) hold no newline.
    private var scanned = 0

    deinit {
        storage.deallocate()
    }

    /// Reads `descriptor` and hands each line (without its newline) to `body` until it
    /// returns true; the bytes are valid only during the call.
    /// - Throws: `PeerError` at end of input, or what `body` throws.
    func readLines(from descriptor: Int32, until body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        let base = storage.baseAddress!
        while true {
            while scanned < end {
                guard let found = memchr(base + scanned, 0x0A, end - scanned) else {
                    scanned = end
                    break
                }
                let newline = base.distance(to: UnsafeMutableRawPointer(found))
                let line = UnsafeRawBufferPointer(start: base + start, count: newline - start)
                start = newline + 1
                scanned = start
                if try body(line) { return }
            }
            if start > 0 {
                let pending = end - start
                if pending > 0 { base.copyMemory(from: base + start, byteCount: pending) }
                end = pending
                scanned -= start
                start = 0
            }
            if end == storage.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
                larger.baseAddress!.copyMemory(from: base, byteCount: end)
                storage.deallocate()
                storage = larger
                return try readLines(from: descriptor, until: body)
            }
            let count = read(descriptor, base + end, storage.count - end)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw PeerError("the process closed its output") }
            end += count
        }
    }
}

/// Elapsed wall time on the monotonic clock.
struct Stopwatch {
    private let started = Stopwatch.now()

    var seconds: Double { Stopwatch.now() - started }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// The resident set size of `pid` from /proc (0 where there is no /proc).
func residentBytes(of pid: pid_t) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kibibytes = Int(fields[1]) { return kibibytes * 1024 }
    }
    return 0
}
