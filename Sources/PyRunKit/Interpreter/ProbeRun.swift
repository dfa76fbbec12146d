#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Collects what a short-lived child (the interpreter probe) writes, until it exits.
///
/// It does not wait for end of file on the pipes: another process spawned by the host at the
/// same moment (by code that is not pyrun's) can inherit a copy of a pipe's write end and keep
/// it open long after the child is gone. So both pipes are drained while the child runs, and
/// once it has exited, what is left in them is taken and the rest is not waited for.
enum ProbeRun {
    /// How much of stderr is kept (its tail).
    static let stderrLimit = 64 * 1024

    /// Drains `child`'s stdout and stderr, reaps it, and closes both descriptors.
    static func collect(_ child: SpawnedChild) -> (status: TerminationStatus, stdout: [UInt8], stderr: [UInt8]) {
        var output: [UInt8] = []
        var errors: [UInt8] = []
        var open = [true, true]
        var status: TerminationStatus?
        var chunk = [UInt8](repeating: 0, count: 65536)
        defer {
            close(child.stdout)
            close(child.stderr)
        }
        while open[0] || open[1] {
            if status == nil { status = exitStatusIfExited(child.pid) }
            var polled: [pollfd] = []
            if open[0] { polled.append(pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0)) }
            if open[1] { polled.append(pollfd(fd: child.stderr, events: Int16(POLLIN), revents: 0)) }
            // While it runs, wake now and then to see whether it exited; once it has, only
            // take what is already there.
            let ready = poll(&polled, nfds_t(polled.count), status == nil ? 50 : 0)
            if ready < 0, errno == EINTR { continue }
            if ready <= 0 {
                if status != nil { break }
                continue
            }
            for entry in polled where entry.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR || errno == EAGAIN { continue }
                let isOutput = entry.fd == child.stdout
                if count <= 0 {
                    open[isOutput ? 0 : 1] = false
                } else if isOutput {
                    output.append(contentsOf: chunk[0..<count])
                } else {
                    errors.append(contentsOf: chunk[0..<count])
                    if errors.count > stderrLimit { errors.removeFirst(errors.count - stderrLimit) }
                }
            }
        }
        return (status ?? Spawn.reap(child.pid), output, errors)
    }

    /// The status of `pid` if it has exited (and reaps it); nil while it runs.
    private static func exitStatusIfExited(_ pid: pid_t) -> TerminationStatus? {
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid { return TerminationStatus(waitStatus: raw) }
            if result < 0, errno == EINTR { continue }
            return result < 0 ? .exited(-1) : nil
        }
    }
}
