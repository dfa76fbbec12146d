#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three pipes of a child about to be spawned: their child ends become its 0, 1 and 2,
/// and the host keeps the other ends. Every end is close-on-exec (`Spawn.makePipe`).
struct ChildPipes {
    private var input: [Int32] = [-1, -1]
    private var output: [Int32] = [-1, -1]
    private var errors: [Int32] = [-1, -1]

    /// The ends the child reads and writes: its stdin, stdout and stderr.
    var childInput: Int32 { input[0] }
    var childOutput: Int32 { output[1] }
    var childErrors: Int32 { errors[1] }

    /// - Throws: `SpawnError` for `executable` when a pipe cannot be made (none is left open).
    init(for executable: String) throws(SpawnError) {
        guard Spawn.makePipe(&input), Spawn.makePipe(&output), Spawn.makePipe(&errors) else {
            let error = errno
            for fd in input + output + errors where fd >= 0 { close(fd) }
            throw SpawnError(executable: executable, errorNumber: error)
        }
    }

    /// After the spawn: closes the child's ends in the host and returns the host's, or, when
    /// the spawn failed (`result` is its error number), closes them too and throws.
    func handOver(pid: pid_t, result: Int32, executable: String) throws(SpawnError) -> SpawnedChild {
        close(input[0])
        close(output[1])
        close(errors[1])
        guard result == 0 else {
            close(input[1])
            close(output[0])
            close(errors[0])
            throw SpawnError(executable: executable, errorNumber: result)
        }
        return SpawnedChild(pid: pid, stdin: input[1], stdout: output[0], stderr: errors[0])
    }
}
