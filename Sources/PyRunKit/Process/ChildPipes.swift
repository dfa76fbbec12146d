#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three pipes of a child about to be started: their child ends become its 0, 1 and 2,
/// and the host keeps the other ends. Every end is close-on-exec (`Spawn.makePipe`). The
/// child ends reach the child either through a spawn or, for a kernel forked from a
/// template, over the template's control socket (`KernelTemplate.fork`).
struct ChildPipes {
    private var input: [Int32] = [-1, -1]
    private var output: [Int32] = [-1, -1]
    private var errors: [Int32] = [-1, -1]
    /// False when the child's stdin is a descriptor the caller gave and still owns.
    private let ownsInput: Bool

    /// The ends the child reads and writes: its stdin, stdout and stderr.
    var childInput: Int32 { input[0] }
    var childOutput: Int32 { output[1] }
    var childErrors: Int32 { errors[1] }

    /// - Parameter standardInput: the child's stdin when it is not a fresh pipe (a template's
    ///   control socket); the caller keeps it, and the host then has no stdin end (-1).
    /// - Throws: `SpawnError` for `executable` when a pipe cannot be made (none is left open).
    init(for executable: String, standardInput: Int32? = nil) throws(SpawnError) {
        ownsInput = standardInput == nil
        if let standardInput { input[0] = standardInput }
        guard !ownsInput || Spawn.makePipe(&input), Spawn.makePipe(&output), Spawn.makePipe(&errors) else {
            let error = errno
            closeChildEnds()
            closeHostEnds()
            throw SpawnError(executable: executable, errorNumber: error)
        }
    }

    /// Closes the child's ends in the host, once the child has its copies (or never will).
    func closeChildEnds() {
        for fd in [ownsInput ? input[0] : -1, output[1], errors[1]] where fd >= 0 { close(fd) }
    }

    /// Closes the host's ends, when no child will use the pipes.
    func closeHostEnds() {
        for fd in [input[1], output[0], errors[0]] where fd >= 0 { close(fd) }
    }

    /// The host's ends, for the started child `pid`.
    func hostEnds(of pid: pid_t) -> SpawnedChild {
        SpawnedChild(pid: pid, stdin: input[1], stdout: output[0], stderr: errors[0])
    }

    /// After a spawn: closes the child's ends in the host and returns the host's, or, when
    /// the spawn failed (`result` is its error number), closes them too and throws.
    func handOver(pid: pid_t, result: Int32, executable: String) throws(SpawnError) -> SpawnedChild {
        closeChildEnds()
        guard result == 0 else {
            closeHostEnds()
            throw SpawnError(executable: executable, errorNumber: result)
        }
        return hostEnds(of: pid)
    }
}
