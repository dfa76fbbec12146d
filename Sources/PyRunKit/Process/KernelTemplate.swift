import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a template could not start or fork; the kernel then starts the ordinary way.
struct TemplateFailure: Error, Sendable, CustomStringConvertible {
    let description: String
}

/// How a kernel's template process ended: told for a kernel whose own end only the template,
/// its parent, could have reported.
struct TemplateDeath: Sendable, Hashable {
    /// The template's pid.
    var processID: pid_t
    /// The template's exit code or signal.
    var status: TerminationStatus
}

/// A prepared interpreter (runner imported, working directory entered, preloads imported,
/// prelude loaded) that forks kernels on request: a kernel starts in milliseconds, without an
/// interpreter start or a prelude of its own (Linux). The wire is docs/protocol.md, "Templates".
///
/// The template holds each child it forked as a zombie after the child exits, until the host
/// `release`s it: the host signals the child, its group and session by pid exactly as it does
/// a process it spawned, with the same guarantee that no pid it signals has been reused.
final class KernelTemplate: Sendable {
    /// What a template is prepared with: two kernels may fork from the same template only
    /// when these are equal.
    struct Key: Sendable, Hashable {
        /// The interpreter binary.
        var executable: String
        /// The runner's environment before the options that each kernel sets for itself
        /// (limits, host functions): it holds the working directory and the prelude.
        var environment: [String: String]
        /// Modules imported before the prelude.
        var preload: [String]
    }

    let pid: pid_t
    let key: Key
    private let control: ControlSocket

    private struct State {
        var isGone = false
        var forkCounter = 0
        var forks: [String: ReplySlot] = [:]
        /// Children whose end the template has reported, and their status.
        var exits: [pid_t: TerminationStatus] = [:]
        /// Children forked and not yet reported ended.
        var running: Set<pid_t> = []
        var exitWaiters: [pid_t: ReplySlot] = [:]
        /// Forks promised to callers that `KernelTemplates` handed the template to, and not yet
        /// begun: until they are, the template is not idle.
        var reservations = 0
        /// Why the template is gone, once it is.
        var goneReason: String?
    }

    private let state = Mutex(State())
    /// True once the control socket is closed. Sends hold this lock (never `state`'s, which
    /// the reader needs to take what the template says while a send waits), so the reader
    /// cannot close the descriptor, and its number be reused, under a send.
    private let controlClosed = Mutex(false)
    private let ready = DispatchSemaphore(value: 0)
    private let readyMessage = Mutex<JSONValue?>(nil)
    /// Left once the reader has reaped the template, with `endStatus` set.
    private let ended = DispatchGroup()
    private let endStatus = Mutex<TerminationStatus?>(nil)

    /// The runner options each forked kernel gets for itself; every other variable of the
    /// runner's environment belongs to the template's key.
    /// `TEMPLATE_PER_KERNEL_OPTIONS` of runner.py: a template is shared by kernels whose
    /// working and temporary directories differ (a test run gives every file its own).
    static let perKernelOptions = ["PYRUN_LIMITS", "PYRUN_HOST_FUNCTIONS", "PYRUN_CWD", "TMPDIR"]

    /// How long a fork may take to be answered before the kernel starts the ordinary way.
    static let forkTimeout: Double = 10

    /// Starts a template and waits (up to `timeout`) until it is prepared.
    init(key: Key, command: LaunchCommand, logger: Logger, timeout: Double) throws(TemplateFailure) {
        #if os(Linux)
        let pair = Spawn.spawnLock.withLock { _ in ControlSocket.pair() }
        guard let (hostEnd, templateEnd) = pair else {
            throw TemplateFailure(description: "no control socket: \(String(cString: strerror(errno)))")
        }
        var environment = key.environment
        environment[KernelProcess.hostPIDVariable] = String(getpid())
        environment["PYRUN_PRELOAD"] = key.preload.joined(separator: ",")
        let child: SpawnedChild
        do {
            child = try Spawn.start(command, environment: environment, standardInput: templateEnd.fd)
        } catch {
            hostEnd.close()
            templateEnd.close()
            throw TemplateFailure(description: error.description)
        }
        templateEnd.close()
        self.pid = child.pid
        self.key = key
        self.control = hostEnd
        var templateLogger = logger
        templateLogger[metadataKey: "template.pid"] = "\(child.pid)"
        Self.logLines(of: child.stdout, name: "pyrun.template.out.\(child.pid)", logger: templateLogger)
        Self.logLines(of: child.stderr, name: "pyrun.template.err.\(child.pid)", logger: templateLogger)
        ended.enter()
        let reader = Thread { [self] in readMessages() }
        reader.name = "pyrun.template.\(child.pid)"
        reader.stackSize = 1 << 20
        reader.start()
        guard ready.wait(timeout: .now() + timeout) == .success, readyMessage.withLock({ $0 }) != nil else {
            terminate()
            let reason = state.withLock { $0.goneReason } ?? "it was not ready within \(Int(timeout)) s"
            throw TemplateFailure(description: "the template did not start: \(reason)")
        }
        // A preload that failed is skipped (the kernel's own import says why); say which.
        for failure in readyMessage.withLock({ $0 })?["preloadErrors"]?.arrayValue ?? [] {
            let module = failure["module"]?.stringValue ?? "?"
            let why = [failure["ename"]?.stringValue, failure["evalue"]?.stringValue].compactMap { $0 }
            templateLogger.warning("preload \(module) was skipped: \(why.joined(separator: ": "))")
        }
        #else
        throw TemplateFailure(description: "kernel templates need Linux")
        #endif
    }

    /// True once the template has exited (or its control channel broke).
    var isGone: Bool { state.withLock { $0.isGone } }

    /// True while a kernel it forked runs (or a fork is under way).
    var hasKernels: Bool { state.withLock { !$0.running.isEmpty || !$0.forks.isEmpty } }

    /// Keeps the template from counting as idle (`terminateIfIdle`) until the caller's next
    /// `fork` begins; false when it is gone.
    func reserveFork() -> Bool {
        state.withLock { state in
            guard !state.isGone else { return false }
            state.reservations += 1
            return true
        }
    }

    /// Forks a kernel with its own channels: the host makes the pipes and hands the child's
    /// ends over the control socket. `options` are the `PYRUN_*` variables each kernel sets
    /// for itself (`PYRUN_LIMITS`, `PYRUN_HOST_FUNCTIONS`). Returns the child's pid and the
    /// host's ends of its channels.
    func fork(options: [String: String]) throws(TemplateFailure) -> SpawnedChild {
        // The fork under way (or its failure) replaces the caller's reservation.
        defer { state.withLock { $0.reservations = max(0, $0.reservations - 1) } }
        let pipes: ChildPipes
        do {
            pipes = try Spawn.spawnLock.withLock { _ throws(SpawnError) in try ChildPipes(for: key.executable) }
        } catch {
            throw TemplateFailure(description: "no pipes for a forked kernel: \(error)")
        }
        func closeAll() {
            pipes.closeChildEnds()
            pipes.closeHostEnds()
        }
        let slot = ReplySlot()
        let id: String? = state.withLock { state in
            guard !state.isGone else { return nil }
            state.forkCounter += 1
            let id = "f\(state.forkCounter)"
            state.forks[id] = slot
            return id
        }
        guard let id else {
            closeAll()
            throw TemplateFailure(description: "the template is gone")
        }
        var request: [String: JSONValue] = ["type": .string("fork"), "id": .string(id)]
        for (name, value) in options { request[name] = .string(value) }
        let error = send(
            Array(JSONValue.object(request).serialized().utf8),
            descriptors: [pipes.childInput, pipes.childOutput, pipes.childErrors])
        // The template holds copies now (or never will): the host keeps only its own ends.
        pipes.closeChildEnds()
        guard error == 0 else {
            _ = state.withLock { $0.forks.removeValue(forKey: id) }
            pipes.closeHostEnds()
            throw TemplateFailure(
                description: "the template's control channel broke: \(String(cString: strerror(error)))")
        }
        guard let reply = slot.wait(seconds: Self.forkTimeout) else {
            _ = state.withLock { $0.forks.removeValue(forKey: id) }
            pipes.closeHostEnds()
            throw TemplateFailure(description: "the template did not answer a fork within \(Int(Self.forkTimeout)) s")
        }
        guard case .forked(let pid) = reply else {
            pipes.closeHostEnds()
            if case .failed(let message) = reply { throw TemplateFailure(description: message) }
            throw TemplateFailure(description: "the template gave no pid")
        }
        return pipes.hostEnds(of: pid)
    }

    /// Blocks until the template reports that `child` exited (it is then a zombie the template
    /// holds), and returns its status; nil when the template went away first, so nobody holds
    /// the child and its pid may be reused as soon as it exits.
    func waitForExit(of child: pid_t) -> TerminationStatus? {
        let slot: ReplySlot? = state.withLock { state in
            if state.exits[child] != nil || state.isGone { return nil }
            let slot = ReplySlot()
            state.exitWaiters[child] = slot
            return slot
        }
        if let slot, case .exited(let status) = slot.wait(seconds: nil) { return status }
        return state.withLock { $0.exits[child] }
    }

    /// Blocks until the template process has ended and been reaped, and returns how it ended.
    func waitForEnd() -> TerminationStatus {
        ended.wait()
        return endStatus.withLock { $0 } ?? .exited(-1)
    }

    /// Waits until the template process has ended and been reaped, and returns how it ended.
    func waitForEnd() async -> TerminationStatus {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            ended.notify(queue: .global()) { continuation.resume() }
        }
        return endStatus.withLock { $0 } ?? .exited(-1)
    }

    /// Tells the template to reap `child`: after this its pid may name another process.
    func release(_ child: pid_t) {
        let known = state.withLock { $0.exits.removeValue(forKey: child) != nil }
        guard known else { return }
        let message: JSONValue = .object(["type": .string("release"), "pid": .number(Double(child))])
        _ = send(Array(message.serialized().utf8))
    }

    /// Ends the template if no kernel of its runs and no fork is under way; true if it did
    /// (or it was gone already).
    func terminateIfIdle() -> Bool {
        state.withLock { state in
            guard !state.isGone else { return true }
            guard state.running.isEmpty, state.forks.isEmpty, state.reservations == 0 else { return false }
            _ = kill(pid, SIGKILL)
            return true
        }
    }

    /// Ends the template (its kernels then die as kernels do when their host dies).
    func terminate() {
        // Under the lock: the reader marks the template gone under it before reaping, so
        // while it reads "not gone" the pid is still the template's.
        state.withLock { state in
            if !state.isGone { _ = kill(pid, SIGKILL) }
        }
    }

    /// Sends one control message; EPIPE once the socket is closed.
    private func send(_ message: [UInt8], descriptors: [Int32] = []) -> Int32 {
        controlClosed.withLock { closed in
            closed ? EPIPE : control.send(message, descriptors: descriptors)
        }
    }

    // MARK: - Reading the template's messages

    private func readMessages() {
        while let bytes = control.receive() {
            guard let message = try? JSONValue.parse(bytes),
                let object = message.objectValue, let type = object["type"]?.stringValue
            else { continue }
            switch type {
            case "template_ready":
                readyMessage.withLock { $0 = message }
                ready.signal()
            case "template_failed":
                let reason = object["message"]?.stringValue ?? "it could not prepare"
                state.withLock { $0.goneReason = reason }
            case "forked", "fork_failed":
                guard let id = object["id"]?.stringValue,
                    let slot = state.withLock({ $0.forks.removeValue(forKey: id) })
                else { continue }
                if type == "forked", let pid = object["pid"]?.intValue, pid > 0 {
                    _ = state.withLock { $0.running.insert(pid_t(pid)) }
                    slot.fill(.forked(pid_t(pid)))
                } else {
                    slot.fill(.failed(object["message"]?.stringValue ?? "the template could not fork"))
                }
            case "exited":
                guard let pid = object["pid"]?.intValue.map({ pid_t($0) }) else { continue }
                let status: TerminationStatus =
                    if let signal = object["signal"]?.intValue {
                        .signaled(Int32(signal))
                    } else {
                        .exited(Int32(object["exitCode"]?.intValue ?? -1))
                    }
                let waiter = state.withLock { state in
                    state.exits[pid] = status
                    state.running.remove(pid)
                    return state.exitWaiters.removeValue(forKey: pid)
                }
                waiter?.fill(.exited(status))
            default:
                continue
            }
        }
        // End of file: the template exited or was killed. Nobody holds its children now.
        let (forks, waiters) = state.withLock { state in
            state.isGone = true
            state.goneReason = state.goneReason ?? "its control channel closed"
            defer {
                state.forks = [:]
                state.exitWaiters = [:]
            }
            return (Array(state.forks.values), Array(state.exitWaiters.values))
        }
        ready.signal()
        for slot in forks { slot.fill(.failed("the template is gone")) }
        for slot in waiters { slot.fill(.gone) }
        controlClosed.withLock { closed in
            control.close()
            closed = true
        }
        // End of file means the template is exiting; a channel that broke while it lives would
        // leave a template nobody can use, and its reaping (which its kernels' ends wait for)
        // hanging. Still unreaped, the pid is surely the template's; an exit under way keeps
        // its status.
        _ = kill(pid, SIGKILL)
        let status = Spawn.reap(pid)
        endStatus.withLock { $0 = status }
        ended.leave()
    }

    /// Logs each line a template writes (its prelude's output, its own diagnostics).
    private static func logLines(of fd: Int32, name: String, logger: Logger) {
        let lines = Mutex(LineBuffer())
        _ = PipeReader(fd: fd, name: name) { chunk in
            let complete = lines.withLock { $0.append(chunk) }
            for line in complete { logger.info("template: \(String(decoding: line, as: UTF8.self))") }
        }
    }
}

/// One answer the reader thread hands to a waiting caller.
private final class ReplySlot: Sendable {
    enum Reply: Sendable {
        case forked(pid_t)
        case failed(String)
        case exited(TerminationStatus)
        case gone
    }

    private let value = Mutex<Reply?>(nil)
    private let filled = DispatchSemaphore(value: 0)

    func fill(_ reply: Reply) {
        value.withLock { $0 = reply }
        filled.signal()
    }

    /// The reply, or nil when `seconds` passed first (nil waits for ever).
    func wait(seconds: Double?) -> Reply? {
        if let seconds {
            guard filled.wait(timeout: .now() + seconds) == .success else { return nil }
        } else {
            filled.wait()
        }
        return value.withLock { $0 }
    }
}
