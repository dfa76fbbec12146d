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
    ///
    /// With `standardInput`, the child's stdin is that descriptor (a template's control
    /// socket) instead of a fresh pipe, and `SpawnedChild.stdin` is -1.
    static func start(
        _ command: LaunchCommand, environment: [String: String], standardInput: Int32? = nil
    ) throws(SpawnError) -> SpawnedChild {
        _ = ignoreBrokenPipes
        return try SpawnThread.shared.run { () throws(SpawnError) -> SpawnedChild in
            // Where pipes cannot be made close-on-exec atomically (no pipe2), this lock
            // across pipe and spawn keeps the other spawns of this function (the interpreter
            // probe, another kernel) from inheriting the ends; a Foundation `Process` started
            // elsewhere in the host is only kept out by `pipe2`.
            try spawnLock.withLock { _ throws(SpawnError) in
                try startLocked(command, environment: environment, standardInput: standardInput)
            }
        }
    }

    /// Held across every spawn, and wherever descriptors are made without `pipe2` (pipe,
    /// then fcntl): no child of this host inherits another's ends in between.
    static let spawnLock = Mutex(())

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

    private static func startLocked(
        _ command: LaunchCommand, environment: [String: String], standardInput: Int32?
    ) throws(SpawnError) -> SpawnedChild {
        // Close-on-exec on every end, so one kernel's pipes never leak into another kernel;
        // dup2 in the child clears it on 0, 1 and 2.
        let pipes = try ChildPipes(for: command.executable, standardInput: standardInput)

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
        posix_spawn_file_actions_adddup2(&actions, pipes.childInput, 0)
        posix_spawn_file_actions_adddup2(&actions, pipes.childOutput, 1)
        posix_spawn_file_actions_adddup2(&actions, pipes.childErrors, 2)
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

        var pid: pid_t = 0
        func spawn(flags: Int32) -> Int32 {
            posix_spawnattr_setflags(&attributes, Int16(commonFlags | flags))
            return withCArguments(command, environment: environment) { argv, envp in
                posix_spawn(&pid, command.executable, &actions, &attributes, argv, envp)
            }
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
        return try pipes.handOver(pid: pid, result: result, executable: command.executable)
    }

    #if canImport(Glibc)
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32

    /// `pipe2` (glibc 2.9+, so every Linux pyrun runs on), which Swift's Glibc module does not
    /// export; looked up at run time like `addCloseFrom`.
    private static let pipe2: Pipe2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2") else { return nil }
        return unsafeBitCast(symbol, to: Pipe2.self)
    }()
    #endif

    /// A pipe whose two ends are close-on-exec from the moment they exist. With `pipe()` and
    /// then `fcntl` there is a window in which a process the host starts elsewhere (a
    /// Foundation `Process`, a library's `fork`) inherits the ends, and a kernel whose stdin
    /// a stranger holds open never sees end of file.
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        #if canImport(Glibc)
        if let pipe2 {
            return fds.withUnsafeMutableBufferPointer { pipe2($0.baseAddress!, O_CLOEXEC) } == 0
        }
        #endif
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

extension Spawn {
    /// Runs `body` with `argv` and `envp` as C arrays (each ending in nil), freed afterwards.
    static func withCArguments<Result>(
        _ command: LaunchCommand, environment: [String: String],
        _ body: ([UnsafeMutablePointer<CChar>?], [UnsafeMutablePointer<CChar>?]) -> Result
    ) -> Result {
        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        return body(argv, envp)
    }
}
