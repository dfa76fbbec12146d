import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HostFunction {
    /// A host function served by a shell command: each call runs `/bin/sh -c command` with
    /// the arguments as one JSON object on its standard input (and `PYRUN_HOST_FUNCTION` set
    /// to `name`), and its standard output, read as JSON, is the value (empty output is
    /// `None`). A non-zero exit fails the call with a `HostCallError` of type
    /// `CommandFailed` whose message carries the end of its standard error; output that is
    /// not JSON fails it with type `InvalidOutput`. A cancelled call (an interrupt, the
    /// timeout) kills the command's process group.
    ///
    /// What `pyrun --host-fn NAME=COMMAND` declares.
    /// - Parameters:
    ///   - name: the Python name.
    ///   - command: a shell command line.
    ///   - summary: one line for `help(host)`; by default it names the command.
    ///   - parameters: the JSON Schema of the arguments; by default any keyword arguments.
    ///   - timeout: the bound of one call.
    public static func command(
        name: String, command: String, summary: String? = nil, parameters: JSONValue = HostFunction.anyArguments,
        timeout: Duration = HostFunction.defaultTimeout
    ) -> HostFunction {
        HostFunction(
            name: name,
            summary: summary ?? "Runs `\(command)`: the arguments as JSON on its stdin, its stdout as JSON.",
            parameters: parameters, timeout: timeout
        ) { call in
            var environment = ProcessInfo.processInfo.environment
            environment["PYRUN_HOST_FUNCTION"] = name
            let input = Array(call.arguments.serialized().utf8) + [0x0A]
            let finished = try await CommandRun.run(
                LaunchCommand(executable: "/bin/sh", arguments: ["-c", command]), input: input, environment: environment
            )
            return try finished.answer(of: command)
        }
    }
}

/// One run of a command for a host call: input in, output and status out, on threads of its
/// own (reading and waiting block, and must not hold up Swift's cooperative threads).
struct CommandRun: Sendable {
    var status: TerminationStatus
    var stdout: [UInt8]
    var stderr: [UInt8]
    /// Standard output went past `outputLimit` and was cut there.
    var stdoutTruncated: Bool

    /// How much standard output a call may return.
    static let outputLimit = 64 << 20
    /// How much of standard error explains a failure.
    static let errorTailLimit = 4096

    /// Runs `command` with `input` on its stdin until it exits; cancelling the calling task
    /// kills its process group.
    /// - Throws: `HostCallError` when it cannot start; `CancellationError` when cancelled.
    static func run(_ command: LaunchCommand, input: [UInt8], environment: [String: String]) async throws -> CommandRun
    {
        let child: SpawnedChild
        do {
            child = try Spawn.start(command, environment: environment)
        } catch {
            throw HostCallError(type: "CommandFailed", message: error.description)
        }
        let watch = ChildWatch(pid: child.pid)
        let finished: CommandRun = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    continuation.resume(returning: collect(child, input: input, watch: watch))
                }
                thread.name = "pyrun.host-command.\(child.pid)"
                thread.start()
            }
        } onCancel: {
            watch.killGroup()
        }
        try Task.checkCancellation()
        return finished
    }

    /// Feeds stdin, drains stdout and stderr, and reaps the child (on the calling thread).
    private static func collect(_ child: SpawnedChild, input: [UInt8], watch: ChildWatch) -> CommandRun {
        let stdout = Mutex((bytes: [UInt8](), truncated: false))
        let stderr = Mutex([UInt8]())
        let stdoutReader = PipeReader(fd: child.stdout, name: "pyrun.host-command.out") { chunk in
            stdout.withLock { collected in
                let room = outputLimit - collected.bytes.count
                if chunk.count > room { collected.truncated = true }
                collected.bytes.append(contentsOf: chunk.prefix(max(0, room)))
            }
        }
        let stderrReader = PipeReader(fd: child.stderr, name: "pyrun.host-command.err") { chunk in
            stderr.withLock { tail in
                tail.append(contentsOf: chunk)
                if tail.count > errorTailLimit { tail.removeFirst(tail.count - errorTailLimit) }
            }
        }
        let writer = Thread {
            // A command that does not read its input ends the write with EPIPE (SIGPIPE is
            // ignored by the spawner); either way the pipe is closed.
            var offset = 0
            while offset < input.count {
                let written = input.withUnsafeBytes { write(child.stdin, $0.baseAddress! + offset, $0.count - offset) }
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(child.stdin)
        }
        writer.start()
        Spawn.waitForExitWithoutReaping(child.pid)
        // The shell is gone; what it left in its group (a `sleep &`) goes too, so the pipes
        // reach their end.
        watch.killGroup()
        stdoutReader.finish(waitingAtMost: 2)
        stderrReader.finish(waitingAtMost: 0.5)
        let status = watch.reap()
        let out = stdout.withLock { $0 }
        return CommandRun(
            status: status, stdout: out.bytes, stderr: stderr.withLock { $0 }, stdoutTruncated: out.truncated)
    }

    /// The call's value: stdout as JSON after a clean exit, else the error Python gets.
    func answer(of command: String) throws(HostCallError) -> JSONValue {
        guard status == .exited(0) else {
            let said = String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw HostCallError(
                type: "CommandFailed", message: "`\(command)` \(status)\(said.isEmpty ? "" : ": \(said)")")
        }
        guard !stdoutTruncated else {
            throw HostCallError(
                type: "InvalidOutput",
                message: "`\(command)` wrote more than \(ByteFormat.text(Self.outputLimit)) to stdout")
        }
        let text = String(decoding: stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return .null }
        do {
            return try JSONValue.parse(Array(text.utf8))
        } catch {
            let start = text.count > 200 ? String(text.prefix(200)) + "…" : text
            throw HostCallError(
                type: "InvalidOutput", message: "`\(command)` wrote output that is not JSON (\(error)): \(start)")
        }
    }
}

/// The child's process group, signalled only until the child is reaped (after that its id
/// may belong to a stranger).
private final class ChildWatch: Sendable {
    let pid: pid_t
    private let reaped = Mutex(false)

    init(pid: pid_t) {
        self.pid = pid
    }

    func killGroup() {
        reaped.withLock { isReaped in
            if !isReaped { _ = kill(-pid, SIGKILL) }
        }
    }

    func reap() -> TerminationStatus {
        reaped.withLock { isReaped in
            let status = Spawn.reap(pid)
            isReaped = true
            return status
        }
    }
}
