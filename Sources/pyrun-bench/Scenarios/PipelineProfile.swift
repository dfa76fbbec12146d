import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where PyRunKit's share of a warm round trip goes: runner.py driven through models of the
/// library's own hops, one added at a time, alternating with `PythonKernel.run`:
///   1. a blocking client on the calling thread (no hops);
///   2. a reader thread yielding decoded frames into an AsyncStream the caller awaits;
///   3. as 2, with a task that routes each frame into an actor, which resumes the caller's
///      continuation at `done` (PythonKernel's path: reader thread → stream → actor →
///      one-shot → awaiting task).
enum PipelineProfileScenario {
    static func run(_ context: BenchContext, into report: inout Report) async throws {
        guard let runnerDirectory = context.runnerDirectory else { return }
        let kernel = try await context.warmKernel()
        let blocking = try DirectPeer.runner(python: context.python, directory: runnerDirectory)
        let streamed = try ThreadedRunner(python: context.python, runnerDirectory: runnerDirectory)
        let routed = try ThreadedRunner(python: context.python, runnerDirectory: runnerDirectory)
        let router = FrameRouter(inputDescriptor: routed.inputDescriptor)
        routed.routeFrames(to: router)
        defer {
            blocking.close()
            streamed.shutDown()
            routed.shutDown()
        }
        for _ in 0..<50 {
            try blocking.execute("1+1")
            try await streamed.executeAwaitingStream("1+1")
            try await routed.executeThroughRouter("1+1", router: router)
        }
        let batch = context.plan.roundTripBatch
        var blockingTimes: [Double] = []
        var streamTimes: [Double] = []
        var routedTimes: [Double] = []
        var kernelTimes: [Double] = []
        var unwrappedTimes: [Double] = []
        /// This process's CPU seconds per round trip, per variant (user + system, all threads).
        var hostCPU: [String: [Double]] = [:]
        func perRoundTrip(_ variant: String, _ cpuBefore: Double) {
            hostCPU[variant, default: []].append((processCPUSeconds() - cpuBefore) / Double(batch))
        }
        var cpu = 0.0
        for _ in 0..<max(1, context.plan.roundTrips / batch) {
            cpu = processCPUSeconds()
            for _ in 0..<batch {
                let stopwatch = Stopwatch()
                try blocking.execute("1+1")
                blockingTimes.append(stopwatch.seconds)
            }
            perRoundTrip("blocking", cpu)
            cpu = processCPUSeconds()
            for _ in 0..<batch {
                let stopwatch = Stopwatch()
                try await streamed.executeAwaitingStream("1+1")
                streamTimes.append(stopwatch.seconds)
            }
            perRoundTrip("stream", cpu)
            cpu = processCPUSeconds()
            for _ in 0..<batch {
                let stopwatch = Stopwatch()
                try await routed.executeThroughRouter("1+1", router: router)
                routedTimes.append(stopwatch.seconds)
            }
            perRoundTrip("routed", cpu)
            cpu = processCPUSeconds()
            for _ in 0..<batch {
                let stopwatch = Stopwatch()
                try expectTwo(await kernel.run("1+1"))
                kernelTimes.append(stopwatch.seconds)
            }
            perRoundTrip("run", cpu)
            cpu = processCPUSeconds()
            for _ in 0..<batch {
                let stopwatch = Stopwatch()
                try expectTwo(await kernel.execute("1+1").result())
                unwrappedTimes.append(stopwatch.seconds)
            }
            perRoundTrip("execute", cpu)
        }
        await kernel.shutdown()
        let figure = "warm 1+1, PyRunKit's hops"
        addProfile(&report, figure, "runner.py, blocking client on the calling thread", blockingTimes)
        addProfile(&report, figure, "+ reader thread → AsyncStream → awaiting task", streamTimes)
        addProfile(&report, figure, "+ routing task → actor → continuation resumed at `done`", routedTimes)
        addProfile(&report, figure, "PythonKernel `execute(\"1+1\").result()` from outside the actor", unwrappedTimes)
        addProfile(
            &report, figure, "PythonKernel `run(\"1+1\")` (actor-isolated wrapper of the line above)", kernelTimes)
        let cpuFigure = "host CPU per warm 1+1"
        for (variant, label) in [
            ("blocking", "blocking client"), ("stream", "reader thread + AsyncStream"),
            ("routed", "+ routing task and actor"), ("execute", "PythonKernel `execute().result()`"),
            ("run", "PythonKernel `run`"),
        ] {
            addProfile(
                &report, cpuFigure, "\(label): this process's CPU (all threads) per round trip", hostCPU[variant] ?? [])
        }
    }
}

/// runner.py with frames read and decoded on a thread of their own, as KernelProcess does.
final class ThreadedRunner {
    private let process: PipedProcess
    private let frames: AsyncStream<Frame>
    private var iterator: AsyncStream<Frame>.Iterator
    private var requestCounter = 0
    private var router: Task<Void, Never>?

    init(python: String, runnerDirectory: String) throws {
        let loader =
            "__import__('sys').path.insert(0,\(pythonStringLiteral(runnerDirectory)));__import__('runner').main()"
        // The PipedProcess keeps the request side; the thread below owns the frame side.
        process = try PipedProcess(
            executable: python, arguments: ["-u", "-c", loader], unsetVariables: ["PYTHONDONTWRITEBYTECODE"])
        let (stream, continuation) = AsyncStream<Frame>.makeStream()
        frames = stream
        iterator = stream.makeAsyncIterator()
        let output = process.takeOutputDescriptor()
        let thread = Thread {
            let lines = LineReader()
            try? lines.readLines(from: output) { line in
                if let frame = try? Frame.decode(line: Array(line)) { continuation.yield(frame) }
                return false
            }
            close(output)
            continuation.finish()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Sends `code`; the caller awaits the stream itself until `done`.
    func executeAwaitingStream(_ code: String) async throws {
        let id = try send(code)
        while let frame = await iterator.next() {
            if case .done(let frameID, _) = frame, frameID == id { return }
        }
        throw PeerError("the runner's frames ended")
    }

    /// The request pipe's write end, for a router that writes from its actor.
    var inputDescriptor: Int32 { process.inputDescriptorForWriting }

    /// Sends `code` from `router`'s actor; a routing task feeds every frame to the router,
    /// which resumes this caller at `done`.
    func executeThroughRouter(_ code: String, router: FrameRouter) async throws {
        requestCounter += 1
        let id = "r\(requestCounter)"
        let request = "{\"type\":\"execute\",\"id\":\"\(id)\",\"code\":\(jsonStringLiteral(code))}\n"
        try await router.execute(Array(request.utf8), id: id)
    }

    /// Starts the task that hands each frame to `router`, as PythonKernel's event task does.
    func routeFrames(to router: FrameRouter) {
        let frames = self.frames
        self.router = Task {
            for await frame in frames { await router.route(frame) }
        }
    }

    private func send(_ code: String) throws -> String {
        requestCounter += 1
        let id = "s\(requestCounter)"
        try process.writeLine("{\"type\":\"execute\",\"id\":\"\(id)\",\"code\":\(jsonStringLiteral(code))}")
        return id
    }

    /// Closes stdin and reaps the runner.
    func shutDown() {
        router?.cancel()
        process.closeInput()
        process.waitForExit()
    }
}

/// Writes requests and matches `done` frames to waiting callers, as PythonKernel's actor does.
actor FrameRouter {
    private let inputDescriptor: Int32
    private var waiters: [String: CheckedContinuation<Void, any Error>] = [:]

    init(inputDescriptor: Int32) {
        self.inputDescriptor = inputDescriptor
    }

    /// Registers the caller for `id`, writes `request`, and returns when `done` for `id` arrives.
    func execute(_ request: [UInt8], id: String) async throws {
        try await withCheckedThrowingContinuation { continuation in
            waiters[id] = continuation
            var offset = 0
            while offset < request.count {
                let written = request.withUnsafeBytes {
                    write(inputDescriptor, $0.baseAddress! + offset, $0.count - offset)
                }
                if written > 0 {
                    offset += written
                } else if !(written < 0 && errno == EINTR) {
                    waiters.removeValue(forKey: id)
                    continuation.resume(throwing: PeerError("the runner stopped reading"))
                    return
                }
            }
        }
    }

    func route(_ frame: Frame) {
        if case .done(let id, _) = frame, let waiter = waiters.removeValue(forKey: id) {
            waiter.resume()
        }
    }
}

/// User plus system CPU seconds of this process so far, all threads.
func processCPUSeconds() -> Double {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}
