import Foundation
import Logging
import PyRunKit
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 9's soak: minutes of mixed executions, interrupts, timeouts and crashes over 20 keys
/// of one pool, each key driven by its own task. It reports executions per second, the host's
/// resident memory at start and end, and the processes left once the pool is shut down; it
/// fails (exit 1) when an execution ends otherwise than its kind must, or a process is left.
enum Soak {
    static let keyCount = 20

    /// One kind of execution and the status it must end with.
    enum Kind: String, CaseIterable {
        case print, raise, interrupt, timeout, crash, child

        /// Out of 100: mostly ordinary work, a steady share of every fault.
        static func pick() -> Kind {
            switch Int.random(in: 0..<100) {
            case 0..<60: return .print
            case 60..<70: return .raise
            case 70..<80: return .interrupt
            case 80..<88: return .timeout
            case 88..<94: return .crash
            default: return .child
            }
        }
    }

    /// Counts shared by the key tasks and the sampler.
    final class Tally: Sendable {
        let executions = Atomic<Int>(0)
        let wrong = Mutex<[String]>([])
        let byKind = Mutex<[String: Int]>([:])
        /// pid → start time (clock ticks since boot): with it a pid names one process, not
        /// whichever reuses the number later.
        let processes = Mutex<[Int32: UInt64]>([:])
        let peakHostBytes = Atomic<Int>(0)
        /// The host's resident bytes at the end of each whole minute, to tell growth from a plateau.
        let bytesByMinute = Mutex<[Int]>([])

        func count(_ kind: Kind) {
            executions.add(1, ordering: .relaxed)
            byKind.withLock { $0[kind.rawValue, default: 0] += 1 }
        }

        func wrong(_ what: String) {
            wrong.withLock { if $0.count < 20 { $0.append(what) } }
        }

        func remember(_ pid: Int32) {
            guard let process = ProcInfo(pid: pid) else { return }
            processes.withLock { $0[pid] = process.startTime }
        }
    }

    static func run(minutes: Double, configuration: KernelConfiguration) async -> Int32 {
        // The pool logs each death as a warning: hundreds a minute here, all expected.
        var logger = Logger(label: "pyrun.soak")
        logger.logLevel = .error
        let pool = KernelPool(
            configuration: PoolConfiguration(defaultConfiguration: configuration, maximumLiveKernels: keyCount),
            logger: logger)
        let tally = Tally()
        // Warm every key first, so that the starting RSS includes twenty kernels' bookkeeping.
        for index in 0..<keyCount { _ = try? await pool.run("1", key: "soak-\(index)") }
        let startBytes = hostResidentBytes()
        let stopwatch = Stopwatch()
        let deadline = Stopwatch.now() + minutes * 60
        FileHandle.standardError.write(Data("pyrun-bench: soak of \(minutes) min over \(keyCount) keys…\n".utf8))
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<keyCount {
                group.addTask { await drive(key: "soak-\(index)", pool: pool, tally: tally, until: deadline) }
            }
            group.addTask { await sample(pool: pool, tally: tally, until: deadline) }
        }
        let seconds = stopwatch.seconds
        let endBytes = hostResidentBytes()
        let shutdownStart = ProcInfo.ticksSinceBoot()
        await pool.shutdownAll()
        let watched = tally.processes.withLock { $0 }
        let left = await processesLeft(of: watched, startedBefore: shutdownStart)

        let executions = tally.executions.load(ordering: .relaxed)
        let kinds = tally.byKind.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let wrong = tally.wrong.withLock { $0 }
        print(
            """
            # pyrun-bench soak
            \(String(format: "%.1f", seconds)) s over \(keyCount) keys: \(executions) executions, \
            \(String(format: "%.1f", Double(executions) / seconds)) per second (\(kinds.joined(separator: ", ")))
            host resident memory: \(mebibytes(startBytes)) at start, \(mebibytes(endBytes)) at end, \
            \(mebibytes(tally.peakHostBytes.load(ordering: .relaxed))) at most; at each minute: \
            \(tally.bytesByMinute.withLock { $0 }.map(mebibytes).joined(separator: ", "))
            processes watched: \(watched.count) (kernels, their sessions, the code's children); left after shutdown: \(left.count)\(left.isEmpty ? "" : " \(left.sorted())")
            executions that ended wrongly: \(wrong.count)\(wrong.isEmpty ? "" : "\n  " + wrong.joined(separator: "\n  "))
            """)
        return wrong.isEmpty && left.isEmpty ? 0 : 1
    }

    /// One key's loop: an execution of a random kind after another, each checked.
    private static func drive(key: String, pool: KernelPool, tally: Tally, until deadline: Double) async {
        var serial = 0
        while Stopwatch.now() < deadline {
            serial += 1
            let kind = Kind.pick()
            tally.count(kind)
            switch kind {
            case .print:
                let result = try? await pool.run("print(\(serial))\n\(serial) * 2", key: key)
                if result?.status != .ok || result?.stdout != "\(serial)\n" || result?.resultText != "\(serial * 2)" {
                    tally.wrong("\(key) print: \(describe(result))")
                }
            case .raise:
                let result = try? await pool.run("1 / 0", key: key)
                if result?.status != .error { tally.wrong("\(key) raise: \(describe(result))") }
            case .interrupt:
                let execution = await pool.execute(
                    "import time\nprint('sleeping', flush=True)\ntime.sleep(60)", key: key)
                var status: ExecutionStatus?
                for await event in execution {
                    switch event {
                    case .stdout: await pool.interrupt(key)
                    case .finished(let outcome): status = outcome.status
                    default: break
                    }
                }
                if status != .cancelled { tally.wrong("\(key) interrupt: \(String(describing: status))") }
            case .timeout:
                var options = ExecutionOptions()
                options.timeout = .milliseconds(300)
                let result = try? await pool.run("while True:\n    pass", key: key, options: options)
                if result?.status != .timedOut { tally.wrong("\(key) timeout: \(describe(result))") }
            case .crash:
                let result = try? await pool.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", key: key)
                if result?.status != .kernelDied { tally.wrong("\(key) crash: \(describe(result))") }
            case .child:
                let result = try? await pool.run(
                    "import os, subprocess\nprint(os.getpid(), subprocess.Popen(['sleep', '600']).pid)", key: key)
                let pids = (result?.stdout ?? "").split(separator: " ").compactMap {
                    Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                if pids.count == 2 {
                    pids.forEach(tally.remember)
                } else {
                    tally.wrong("\(key) child: \(describe(result))")
                }
            }
        }
    }

    /// Every second: the host's memory, and the pid of every key's kernel (its session is
    /// checked at the end).
    private static func sample(pool: KernelPool, tally: Tally, until deadline: Double) async {
        let stopwatch = Stopwatch()
        while Stopwatch.now() < deadline {
            let bytes = hostResidentBytes()
            tally.peakHostBytes.store(max(bytes, tally.peakHostBytes.load(ordering: .relaxed)), ordering: .relaxed)
            tally.bytesByMinute.withLock { if Int(stopwatch.seconds / 60) > $0.count { $0.append(bytes) } }
            for listing in await pool.list() { if let pid = listing.pid { tally.remember(pid) } }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The watched processes still alive, and every live member of a session a watched
    /// kernel led (its watchdog, the code's children) that started while the kernel lived and
    /// before the shutdown, after up to ten seconds.
    private static func processesLeft(of watched: [Int32: UInt64], startedBefore shutdown: UInt64) async -> Set<Int32> {
        let stopwatch = Stopwatch()
        while true {
            var left = Set<Int32>()
            for process in ProcInfo.all() {
                if watched[process.pid] == process.startTime {
                    left.insert(process.pid)
                } else if let leaderStart = watched[process.session], process.startTime >= leaderStart,
                    process.startTime <= shutdown
                {
                    left.insert(process.pid)
                }
            }
            if left.isEmpty || stopwatch.seconds > 10 { return left }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private static func hostResidentBytes() -> Int { residentBytes(of: getpid()) }

    private static func mebibytes(_ bytes: Int) -> String {
        String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }

    private static func describe(_ result: ExecutionResult?) -> String {
        guard let result else { return "no result (start failed)" }
        return "\(result.status) stdout \(result.stdout.debugDescription) result \(result.resultText ?? "none")"
    }
}

/// A live (not zombie) process as /proc/PID/stat shows it.
struct ProcInfo {
    let pid: Int32
    let session: Int32
    /// Clock ticks after boot.
    let startTime: UInt64

    init?(pid: Int32) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the command's closing parenthesis: state is field 3, session 6, starttime 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X", let session = Int32(fields[3]),
            let startTime = UInt64(fields[19])
        else { return nil }
        self.pid = pid
        self.session = session
        self.startTime = startTime
    }

    static func all() -> [ProcInfo] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap {
            Int32($0).flatMap(ProcInfo.init(pid:))
        }
    }

    /// Now, in the unit of `startTime`.
    static func ticksSinceBoot() -> UInt64 {
        let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first
        return UInt64((Double(uptime ?? "0") ?? 0) * Double(sysconf(Int32(_SC_CLK_TCK))))
    }
}
