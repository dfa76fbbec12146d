import CPyRunSpawn
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Spawn {
    /// Starts `command` as `start(_:environment:)` does (three fresh pipes, a session of its
    /// own, default signals, no other descriptor), and ties it to the host's life: on Linux
    /// it receives SIGKILL when the host dies, however the host dies.
    ///
    /// For launchers (`ssh`, `kubectl exec`): a runner asks for its own parent-death signal,
    /// but a launcher is a program that does not, and one that outlived a host killed outright
    /// would keep its remote kernel running. Killing it drops the connection, which the far
    /// side's runner sees as the end of its request channel.
    static func startTied(_ command: LaunchCommand, environment: [String: String]) throws(SpawnError) -> SpawnedChild {
        _ = ignoreBrokenPipes
        return try SpawnThread.shared.run { () throws(SpawnError) -> SpawnedChild in
            try spawnLock.withLock { _ throws(SpawnError) in try startTiedLocked(command, environment: environment) }
        }
    }

    private static func startTiedLocked(_ command: LaunchCommand, environment: [String: String]) throws(SpawnError)
        -> SpawnedChild
    {
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard makePipe(&stdinPipe), makePipe(&stdoutPipe), makePipe(&stderrPipe) else {
            let error = errno
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
            throw SpawnError(executable: command.executable, errorNumber: error)
        }
        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = pyrun_spawn_tied(
            command.executable, argv, envp, stdinPipe[0], stdoutPipe[1], stderrPipe[1], SIGKILL, &pid)
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
}
