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
        let pipes = try ChildPipes(for: command.executable)
        var pid: pid_t = 0
        let result = withCArguments(command, environment: environment) { argv, envp in
            pyrun_spawn_tied(
                command.executable, argv, envp, pipes.childInput, pipes.childOutput, pipes.childErrors, SIGKILL, &pid)
        }
        return try pipes.handOver(pid: pid, result: result, executable: command.executable)
    }
}
