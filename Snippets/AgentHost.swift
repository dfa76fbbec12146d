// swift-format-ignore-file
// (Its snippet slices are copied verbatim into README.md and the DocC articles.)
// An agent host: one isolated Python kernel per agent, driven through a pool. Every part of
// the guide "Running Python from an agent host" (README and DocC) is a slice of this file,
// and a test runs it and checks that it prints each `// →` line, in order.
// Run it: swift run AgentHost
// snippet.logging
import Foundation
import Logging  // swift-log, which PyRunKit logs through
import PyRunKit

// The library logs through swift-log and never bootstraps it. Unless the host bootstraps a
// logging system, kernel deaths and escalations are written to stderr as warnings. Hand the
// pool a logger at the level you want (or bootstrap your own handler once at start).
var logger = Logger(label: "agent-host.pyrun")
logger.logLevel = .error
// snippet.end

/// What the host does with its pool; each slice is one section of the guide.
func serve(_ pool: KernelPool) async throws {
    // snippet.run-and-stream
    // A collected run: output, result, error and notices in one value.
    let answer = try await pool.run("x = 41\nx + 1", key: "agent-7")
    print("result:", answer.resultText ?? "none")  // → result: 42

    // A stream: events as they happen, the key's notices first, `finished` last.
    let code = "import sys\nfor i in range(3): print(i)\nprint('done', file=sys.stderr)\nx * 2"
    for await event in await pool.execute(code, key: "agent-7") {
        switch event {
        case .notice(let notice): print("notice:", notice)  // why the key's state was lost
        case .started(let executionCount): print("started:", executionCount)
        case .stdout(let text): print("stdout:", text, terminator: "")
        case .stderr(let text): print("stderr:", text, terminator: "")  // → stderr: done
        case .display(let bundle, _): print("display:", bundle.mimeTypes)  // display(...) in Python
        case .result(let bundle, _): print("result:", bundle.plainText ?? "")  // → result: 82
        case .error(let error): print("error:", error)  // a Python exception, with its traceback
        case .inputRequest(let prompt, _): print("input asked:", prompt)  // answered by stdinHandler
        case .hostCallStarted(let call): print("host call:", call)  // host.NAME(...) in Python
        case .hostCallEnded(let report): print("host call ended:", report)  // its duration and outcome
        case .unknown: break  // a frame of a newer runner
        case .finished(let outcome): print("finished:", outcome.status)  // → finished: ok
        }
    }
    // snippet.end

    // snippet.keys
    // Keys are isolated from each other and run in parallel; one key runs in order.
    async let first = pool.run("import os; os.getpid()", key: "agent-1")
    async let second = pool.run("import os; os.getpid()", key: "agent-2")
    let pids = try await [first.resultText, second.resultText]
    print("separate processes:", pids[0] != pids[1])  // → separate processes: true
    let isolated = try await pool.run("'x' in globals()", key: "agent-1")
    print("x in agent-1:", isolated.resultText ?? "")  // → x in agent-1: False
    // snippet.end

    // snippet.outcomes
    // A Python exception is an outcome, not a thrown Swift error.
    let failed = try await pool.run("1 / 0", key: "agent-7")
    print("status:", failed.status, "-", failed.error?.description ?? "")
    // → status: error - ZeroDivisionError: division by zero

    // A timeout interrupts the code (KeyboardInterrupt); the kernel and its state live on.
    let slow = try await pool.run(
        "import time; time.sleep(30)", key: "agent-7", options: ExecutionOptions(timeout: .seconds(1)))
    let kept = try await pool.run("x", key: "agent-7")
    print("status:", slow.status, "- x is still", kept.resultText ?? "")  // → status: timedOut - x is still 41
    // snippet.end

    // snippet.interrupt
    // Interrupt a streaming execution from elsewhere, as Ctrl-C would; cancelling the task
    // that iterates it does the same.
    let loop = await pool.execute(
        "import time\nwhile True: time.sleep(0.05)", key: "agent-7")
    Task {
        try await Task.sleep(for: .milliseconds(300))
        await pool.interrupt("agent-7")
    }
    print("interrupted:", await loop.outcome().status)  // → interrupted: cancelled
    // snippet.end

    // snippet.deaths
    // When the process dies, the execution says who ended it, and the key's next execution
    // starts with a notice that its state is gone.
    let crash = try await pool.run("import os; os._exit(3)", key: "agent-7")
    print("death:", crash.death.map { "\($0.cause)" } ?? "none")  // → death: the kernel exited with status 3
    let next = try await pool.run("'x' in globals()", key: "agent-7")
    for notice in next.notices where notice.stateLost {
        if case .died(let death) = notice.kind {
            print("notice:", death.cause)  // → notice: the kernel exited with status 3
        }
    }
    print("x survived:", next.resultText ?? "")  // → x survived: False
    // snippet.end

    // snippet.stdin
    // input() is answered by the host's handler; without one it raises EOFError at once.
    let greeting = try await pool.run(
        "name = input('name? ')\nf'hello {name}'", key: "agent-7",
        options: ExecutionOptions(stdinHandler: { prompt in
            print("asked:", prompt.prompt)  // → asked: name?
            return "Ada"
        }))
    print("result:", greeting.resultText ?? "")  // → result: 'hello Ada'
    // snippet.end

    // snippet.display
    // display() and objects with _repr_*_ methods give MIME bundles.
    let shown = try await pool.run(
        """
        class Card:
            def _repr_html_(self): return '<b>card</b>'
        display(Card())
        """, key: "agent-7")
    if let bundle = shown.displays.first?.bundle {
        print("display:", bundle.mimeTypes, bundle["text/html"]?.stringValue ?? "")
        // → display: ["text/html", "text/plain"] <b>card</b>
    }
    // snippet.end

    // snippet.completion
    // Completion and completeness are answered even while code runs on the key, and never
    // run the user's code: modules are completed from what the code imports.
    let completion = try await pool.complete(code: "import math; math.sq", key: "agent-7")
    print("completions:", completion.matches)  // → completions: ["math.sqrt"]
    let completeness = try await pool.isComplete(code: "def f():", key: "agent-7")
    print("def f():", completeness)  // → def f(): incomplete (next line indented by 4)
    // snippet.end

    // snippet.limits
    // The memory limit (RLIMIT_AS on Linux) turns a runaway allocation into a MemoryError;
    // maxOutputBytes drops what an execution sends past it, and says so.
    let big = try await pool.run("b = bytearray(2 << 30)", key: "agent-7")
    print("allocation:", big.error?.name ?? "ok")  // → allocation: MemoryError
    let chatty = try await pool.run(
        "print('x' * 100_000)", key: "agent-7", options: ExecutionOptions(maxOutputBytes: 1000))
    print("dropped bytes:", chatty.droppedBytes)  // → dropped bytes: 99001
    // snippet.end

    // snippet.events
    // Every start, death, restart, eviction, cull and shutdown is a PoolEvent.
    let events = pool.events
    let watcher = Task {
        for await event in events { print("event:", event) }
    }
    try await pool.reset("agent-7")
    for listing in await pool.list() { print("live:", listing.key, listing.executionCount) }
    // snippet.end
    try await Task.sleep(for: .milliseconds(100))
    watcher.cancel()
}

// snippet.configuration
let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("agent-workspace").path
try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)

let configuration = PoolConfiguration(
    defaultConfiguration: KernelConfiguration(
        workingDirectory: workspace,  // the kernel's cwd, and first on sys.path
        environment: .clean(),  // only PATH, HOME, LANG and the like: no host secrets
        limits: ResourceLimits(memoryBytes: 1 << 30, cpuSeconds: 600)),
    idleTimeout: .seconds(600),  // shut a kernel down after 10 idle minutes
    maximumLiveKernels: 8)  // past 8 keys, the least recently used idle kernel goes

try await withPool(configuration: configuration, logger: logger) { pool in
    // On SIGINT or SIGTERM, shut every kernel down, then let the signal end the host.
    let termination = pool.shutdownAllOnTermination()
    defer { termination.cancel() }
    try await serve(pool)  // the host's work: serve(_:) in Snippets/AgentHost.swift
}
// Here every kernel of the pool, and every process they started, is gone.
// snippet.end
print("done")  // → done
