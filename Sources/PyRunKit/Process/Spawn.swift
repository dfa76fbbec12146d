import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a process could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    /// The program that could not be started.
    public let executable: String
    /// The `errno` that `posix_spawn` (or `pipe`) returned.
    public let errorNumber: Int32

    public var description: String {
        "cannot start \(executable): \(String(cString: strerror(errorNumber)))"
    }
}

/// A child started with pipes on its standard descriptors, as the parent's ends.
struct SpawnedChild: Sendable {
    let pid: pid_t
    /// Write end of the child's stdin.
    let stdin: Int32
    /// Read end of the child's stdout.
    let stdout: Int32
    /// Read end of the child's stderr.
    let stderr: Int32
}

/// How a reaped process ended and what it used.
struct ReapedProcess {
    var status: TerminationStatus
    /// `ru_maxrss` converted to bytes; nil where it is not reported.
    var maximumResidentBytes: Int?
}

enum Spawn {
    /// The host must survive writing to a kernel that just died: without this, SIGPIPE ends
    /// the whole host process instead of the write returning EPIPE.
    static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Starts `command` with three fresh pipes, with every signal at its default disposition
    /// and none blocked. On Linux the child leads a new session (and so its own process
    /// group); elsewhere a new process group.
    ///
    /// The spawn happens on `SpawnThread.shared`, a thread that lives as long as the host:
    /// a parent-death signal the child asks for fires when the thread that spawned it ends.
    static func start(_ command: LaunchCommand, environment: [String: String]) throws(SpawnError) -> SpawnedChild {
        _ = ignoreBrokenPipes
        return try SpawnThread.shared.run { () throws(SpawnError) -> SpawnedChild in
            // pipe2 is not visible from Swift's Glibc, so close-on-exec is set after pipe();
            // holding this lock across pipe and spawn keeps a concurrent spawn (the interpreter
            // probe, another thread of the host using this function) from inheriting the ends.
            try spawnLock.withLock { _ throws(SpawnError) in try startLocked(command, environment: environment) }
        }
    }

    private static let spawnLock = Mutex(())

    #if canImport(Glibc)
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc 2.34+ has `posix_spawn_file_actions_addclosefrom_np`, but Swift's Glibc module
    /// does not export it; look it up at run time and do without on older systems.
    static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// glibc's `POSIX_SPAWN_SETSID` (2.26+), hidden from Swift behind `_GNU_SOURCE`.
    private static let spawnNewSession: Int32 = 0x80

    /// Cleared once a spawn with a new session was refused (a C library older than glibc 2.26
    /// answers EINVAL): later spawns go straight to a process group.
    private static let newSessionsSupported = Atomic<Bool>(true)
    #endif

    private static func startLocked(_ command: LaunchCommand, environment: [String: String]) throws(SpawnError)
        -> SpawnedChild
    {
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        // Close-on-exec on every end, so one kernel's pipes never leak into another kernel;
        // dup2 in the child clears it on 0, 1 and 2.
        guard makePipe(&stdinPipe), makePipe(&stdoutPipe), makePipe(&stderrPipe) else {
            let error = errno
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
            throw SpawnError(executable: command.executable, errorNumber: error)
        }

        #if canImport(Glibc)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #else
        var actions: posix_spawn_file_actions_t?
        var attributes: posix_spawnattr_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        #if canImport(Glibc)
        // Whatever else the host has open (a file it is writing, a socket) is none of the
        // kernel's business, close-on-exec or not: an inherited write descriptor would also
        // make exec of that file fail with ETXTBSY elsewhere.
        if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }
        #endif

        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signalNumber in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP, SIGCHLD] {
            sigaddset(&defaultSignals, signalNumber)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        let commonFlags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)

        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        func spawn(flags: Int32) -> Int32 {
            posix_spawnattr_setflags(&attributes, Int16(commonFlags | flags))
            return posix_spawn(&pid, command.executable, &actions, &attributes, argv, envp)
        }
        var result: Int32
        #if canImport(Glibc)
        // A session of its own, not only a group: a session leader cannot change its group,
        // so user code cannot move the runner into the host's group (or any other), and
        // everything it starts without `setsid` still carries its session id after the
        // runner is gone. No controlling terminal either: a read of /dev/tty fails instead
        // of stopping the runner with SIGTTIN.
        if newSessionsSupported.load(ordering: .relaxed) {
            result = spawn(flags: spawnNewSession)
            if result == EINVAL {
                result = spawn(flags: Int32(POSIX_SPAWN_SETPGROUP))
                // EINVAL again would mean the command, not the flag, is at fault.
                if result != EINVAL { newSessionsSupported.store(false, ordering: .relaxed) }
            }
        } else {
            result = spawn(flags: Int32(POSIX_SPAWN_SETPGROUP))
        }
        #else
        result = spawn(flags: Int32(POSIX_SPAWN_SETPGROUP))
        #endif
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard result == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw SpawnError(executable: command.executable, errorNumber: result)
        }
        return SpawnedChild(pid: pid, stdin: stdinPipe[1], stdout: stdoutPipe[0], stderr: stderrPipe[0])
    }

    private static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    /// Reads a descriptor to its end.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                collected.append(contentsOf: chunk[0..<count])
            } else if count < 0, errno == EINTR {
                continue
            } else {
                return collected
            }
        }
    }

    /// Reaps `pid`, retrying on EINTR.
    static func reap(_ pid: pid_t) -> TerminationStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(-1) }
        }
        return TerminationStatus(waitStatus: status)
    }

    /// Reaps `pid`, retrying on EINTR, with its peak resident memory as the OS accounts it.
    static func reapWithUsage(_ pid: pid_t) -> ReapedProcess {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            if errno != EINTR { return ReapedProcess(status: .exited(-1), maximumResidentBytes: nil) }
        }
        #if os(Linux)
        let bytes = Int(usage.ru_maxrss) * 1024  // Linux counts KiB
        #else
        let bytes = Int(usage.ru_maxrss)  // macOS counts bytes
        #endif
        return ReapedProcess(
            status: TerminationStatus(waitStatus: status), maximumResidentBytes: bytes > 0 ? bytes : nil)
    }

    /// Blocks until `pid` has exited, without reaping it: while it is a zombie its process
    /// group id cannot be reused, so signalling the group stays safe.
    static func waitForExitWithoutReaping(_ pid: pid_t) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 {
            if errno != EINTR { return }
        }
    }
}
