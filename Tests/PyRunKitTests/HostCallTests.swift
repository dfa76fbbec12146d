// swift-format-ignore-file
// (Its snippet slices are copied verbatim into README.md and the DocC articles.)
import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@testable import PyRunKit

/// What the handlers of a test saw: calls, and cancellations.
private actor HandlerLog {
    private(set) var calls: [HostCall] = []
    private(set) var cancellations = 0
    private var gate: (count: Int, waiting: [CheckedContinuation<Void, Never>])?

    func record(_ call: HostCall) { calls.append(call) }
    func recordCancellation() { cancellations += 1 }

    /// Returns once `count` handlers arrived here: only handlers that run at the same time
    /// can all get through.
    func arrive(expecting count: Int) async {
        var current = gate ?? (count, [])
        if current.waiting.count + 1 == count {
            for waiter in current.waiting { waiter.resume() }
            gate = nil
            return
        }
        await withCheckedContinuation { continuation in
            current.waiting.append(continuation)
            gate = current
        }
    }
}

/// A handler that records the call and waits until it is cancelled.
private func waitsForCancellation(_ log: HandlerLog) -> HostFunction.Handler {
    { call in
        await log.record(call)
        do {
            try await Task.sleep(for: .seconds(600))
        } catch {
            await log.recordCancellation()
            throw error
        }
        return .null
    }
}

private let readSchema: JSONValue = .object([
    "type": .string("object"),
    "properties": .object([
        "path": .object(["type": .string("string"), "description": .string("relative to the workspace")]),
        "limit": .object(["type": .string("integer")]),
    ]),
    "required": .array([.string("path")]),
])

@Suite struct HostCallTests {
    private func configuration(_ functions: HostFunction...) -> KernelConfiguration {
        KernelConfiguration(interruptGrace: .seconds(10), hostFunctions: functions)
    }

    /// Starts `code` and returns its iterator once a host call started.
    private func untilHostCall(_ kernel: PythonKernel, _ code: String, options: ExecutionOptions = .init()) async
        -> (Execution, [ExecutionEvent])
    {
        let execution = await kernel.execute(code, options: options)
        var seen: [ExecutionEvent] = []
        var iterator = execution.makeAsyncIterator()
        while let event = await iterator.next() {
            seen.append(event)
            if case .hostCallStarted = event { break }
            if case .finished = event { break }
        }
        return (execution, seen)
    }

    // MARK: - Answers

    @Test func aHandlerThatAwaitsReturnsPythonValuesAndTheEventsShowTheCall() async throws {
        let log = HandlerLog()
        let read = HostFunction(name: "read", summary: "Read a file.", parameters: readSchema) { call in
            await log.record(call)
            try await Task.sleep(for: .milliseconds(50))
            return .object(["text": .string("x = 1"), "path": call["path"] ?? .null, "lines": .array([.number(1), .null])])
        }
        try await withKernel(configuration: configuration(read)) { kernel throws in
            let execution = await kernel.execute("print('before')\nr = host.read('a.py', limit=2)\nprint(r['text'], r['lines'])\nr['path']")
            var events: [ExecutionEvent] = []
            for await event in execution { events.append(event) }
            guard case .finished(let outcome) = events.last else { Issue.record("no finished"); return }
            #expect(outcome.status == .ok)
            let started = events.compactMap { event -> HostCallStart? in
                if case .hostCallStarted(let start) = event { return start }
                return nil
            }
            let ended = events.compactMap { event -> HostCallReport? in
                if case .hostCallEnded(let report) = event { return report }
                return nil
            }
            #expect(started.map(\.function) == ["read"])
            #expect(started.first?.arguments == .object(["path": .string("a.py"), "limit": .number(2)]))
            #expect(ended.count == 1)
            #expect(ended.first?.callID == started.first?.callID)
            #expect(ended.first?.outcome == .returned)
            #expect(ended.first.map { $0.duration >= .milliseconds(50) } == true)
            let stdout = events.compactMap { event -> String? in
                if case .stdout(let text) = event { return text }
                return nil
            }.joined()
            #expect(stdout == "before\nx = 1 [1, None]\n")
            let calls = await log.calls
            #expect(calls.count == 1)
            #expect(calls.first?.executionID == execution.id)
            #expect(calls.first?.kernelKey == nil)
            // The collected form lists the calls too.
            let result = try await kernel.run("host.read(path='b.py')['path']")
            #expect(result.resultText == "'b.py'")
            #expect(result.hostCalls.map(\.outcome) == [.returned])
        }
    }

    @Test func aThrownErrorBecomesHostCallErrorWithTypeAndMessage() async throws {
        struct DiskFull: Error, CustomStringConvertible {
            var description: String { "the disk is full" }
        }
        let read = HostFunction(name: "read", summary: "Read a file.", parameters: readSchema) { call in
            throw HostCallError(type: "FileNotFound", message: "no such file: \(call["path"]?.stringValue ?? "?")")
        }
        let write = HostFunction(name: "write", summary: "Write a file.") { _ in throw DiskFull() }
        try await withKernel(configuration: configuration(read, write)) { kernel throws in
            let result = try await kernel.run("host.read('missing.py')")
            #expect(result.status == .error)
            #expect(result.error?.name == "HostCallError")
            #expect(result.error?.value == "host.read: FileNotFound: no such file: missing.py")
            #expect(result.hostCalls.first?.outcome == .failed(HostCallError(type: "FileNotFound", message: "no such file: missing.py")))
            let caught = try await kernel.run(
                "try:\n    host.write(text='x')\nexcept HostCallError as e:\n    print(e.type, '|', e.message)")
            #expect(caught.stdout == "DiskFull | the disk is full\n")
        }
    }

    @Test func eightThreadsCallAtOnceAndTheHandlersRunConcurrently() async throws {
        let log = HandlerLog()
        let echo = HostFunction(name: "echo", summary: "Returns its arguments.", timeout: .seconds(60)) { call in
            await log.arrive(expecting: 8)  // none returns before all eight run
            return call.arguments
        }
        try await withKernel(configuration: configuration(echo)) { kernel throws in
            let code = """
                import threading
                results = {}
                def work(i):
                    results[i] = host.echo(n=i)['n']
                threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
                for t in threads: t.start()
                for t in threads: t.join()
                sorted(results.items())
                """
            let result = try await kernel.run(code)
            #expect(result.status == .ok)
            #expect(result.resultText == "[(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7)]")
            #expect(result.hostCalls.count == 8)
            #expect(Set(result.hostCalls.map(\.callID)).count == 8)
        }
    }

    // MARK: - Calls that end without an answer

    @Test func interruptDuringASlowCallCancelsTheHandler() async throws {
        let log = HandlerLog()
        let slow = HostFunction(name: "slow", summary: "Takes its time.", handler: waitsForCancellation(log))
        try await withKernel(configuration: configuration(slow)) { kernel throws in
            let (execution, _) = await untilHostCall(kernel, "host.slow()")
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.error?.name == "KeyboardInterrupt")
            #expect(result.hostCalls.map(\.outcome) == [.cancelled])
            #expect(await eventually { await log.cancellations == 1 })
            #expect(try await kernel.run("1 + 1").resultText == "2")
        }
    }

    @Test func theKernelsDeathDuringACallCancelsTheHandler() async throws {
        let log = HandlerLog()
        let slow = HostFunction(name: "slow", summary: "Takes its time.", handler: waitsForCancellation(log))
        try await withKernel(configuration: configuration(slow)) { kernel throws in
            let (execution, _) = await untilHostCall(kernel, "host.slow()")
            let pid = try #require(await kernel.pid)
            kill(pid, SIGKILL)
            let result = try await execution.result()
            #expect(result.status == .kernelDied)
            #expect(result.hostCalls.map(\.outcome) == [.cancelled])
            #expect(await eventually { await log.cancellations == 1 })
        }
    }

    @Test func shutdownDuringACallEndsTheCallAndThenTheRunnerGracefully() async throws {
        let log = HandlerLog()
        let slow = HostFunction(name: "slow", summary: "Takes its time.", handler: waitsForCancellation(log))
        let kernel = PythonKernel(configuration: configuration(slow))
        let (execution, _) = await untilHostCall(kernel, "host.slow()")
        // The end of input tells the runner no answer can come: the call raises HostGone,
        // the code ends, and the runner exits without being signalled.
        #expect(await kernel.shutdown(grace: .seconds(20)) == .graceful)
        let result = try await execution.result()
        #expect(result.error?.name == "HostCallError")
        #expect(result.error?.value.contains("HostGone") == true)
        #expect(result.hostCalls.map(\.outcome) == [.cancelled])
        #expect(await eventually { await log.cancellations == 1 })
    }

    @Test func aCallStillWaitingWhenItsExecutionEndsIsCancelled() async throws {
        let log = HandlerLog()
        let slow = HostFunction(name: "slow", summary: "Takes its time.", handler: waitsForCancellation(log))
        try await withKernel(configuration: configuration(slow)) { kernel throws in
            let code = """
                import threading
                failure = []
                called = threading.Event()
                def work():
                    called.set()
                    try:
                        host.slow()
                    except HostCallError as e:
                        failure.append(e.type)
                worker = threading.Thread(target=work)
                worker.start()
                called.wait()
                """
            // The execution ends while its thread waits (or right before the thread's call:
            // then the call is refused and never reaches the handler).
            let first = try await kernel.run(code)
            #expect(first.status == .ok)
            let second = try await kernel.run("worker.join(); failure")
            let calls = await log.calls.count
            if calls == 1 {
                #expect(second.resultText == "['ExecutionEnded']")
                #expect(first.hostCalls.map(\.outcome) == [.cancelled])
                #expect(await eventually { await log.cancellations == 1 })
            } else {
                #expect(second.resultText == "['NoExecution']")
            }
        }
    }

    @Test func aCallFromAThreadAfterDoneFailsAtOnceWithoutTheHandler() async throws {
        let log = HandlerLog()
        let echo = HostFunction(name: "echo", summary: "Returns its arguments.") { call in
            await log.record(call)
            return call.arguments
        }
        try await withTemporaryDirectory { directory throws in
            let go = "\(directory)/go"
            let finished = "\(directory)/finished"
            #expect(mkfifo(go, 0o600) == 0 && mkfifo(finished, 0o600) == 0)
            try await withKernel(configuration: configuration(echo)) { kernel throws in
                let code = """
                    import threading
                    result = []
                    def later():
                        with open(\(JSONValue.string(go))) as f:
                            f.read()
                        try:
                            host.echo(n=1)
                        except HostCallError as e:
                            result.append(e.type)
                        with open(\(JSONValue.string(finished)), 'w') as f:
                            f.write('x')
                    worker = threading.Thread(target=later)
                    worker.start()
                    """
                #expect(try await kernel.run(code).status == .ok)
                // The kernel is idle: the thread calls now, and is answered without the host.
                await Task.detached {
                    // Opening a FIFO blocks until the other end is open: on a thread of its own.
                    let writer = open(go, O_WRONLY)
                    _ = write(writer, "x", 1)
                    close(writer)
                    let reader = open(finished, O_RDONLY)
                    var byte: UInt8 = 0
                    _ = read(reader, &byte, 1)
                    close(reader)
                }.value
                let result = try await kernel.run("worker.join(); result")
                #expect(result.resultText == "['NoExecution']")
                #expect(result.hostCalls.isEmpty)
                #expect(await log.calls.isEmpty)
            }
        }
    }

    @Test func argumentsThatDoNotFitTheSchemaAreRejectedInPython() async throws {
        let log = HandlerLog()
        let read = HostFunction(name: "read", summary: "Read a file.", parameters: readSchema) { call in
            await log.record(call)
            return .null
        }
        try await withKernel(configuration: configuration(read)) { kernel throws in
            let wrongType = try await kernel.run("host.read(1)")
            #expect(wrongType.error?.name == "TypeError")
            #expect(wrongType.error?.value == "host.read(): argument 'path' must be a string, not an integer")
            let unknown = try await kernel.run("host.read('a', lmit=1)")
            #expect(unknown.error?.name == "TypeError")
            #expect(unknown.error?.value.contains("lmit") == true)
            let missing = try await kernel.run("host.call('read')")
            #expect(missing.error?.name == "TypeError")
            #expect(wrongType.hostCalls.isEmpty && unknown.hostCalls.isEmpty && missing.hostCalls.isEmpty)
            #expect(await log.calls.isEmpty)
            let help = try await kernel.run("help(host.read)")
            #expect(help.stdout.contains("read(path, *, limit=None)"))
            #expect(help.stdout.contains("path: str (required) — relative to the workspace"))
        }
    }

    // MARK: - Timeouts

    @Test func theExecutionTimeoutDoesNotCountTimeInsideHostCalls() async throws {
        // Two calls of 2 s each in an execution allowed 3 s: only the time outside them counts.
        let slow = HostFunction(name: "slow", summary: "Takes 2 s.") { _ in
            try await Task.sleep(for: .seconds(2))
            return .string("done")
        }
        try await withKernel(configuration: configuration(slow)) { kernel throws in
            let options = ExecutionOptions(timeout: .seconds(3))
            let result = try await kernel.run("host.slow() + host.slow()", options: options)
            #expect(result.status == .ok)
            #expect(result.resultText == "'donedone'")
            // The code's own time still counts.
            let busy = try await kernel.run("host.slow()\nimport time\ntime.sleep(30)", options: options)
            #expect(busy.status == .timedOut)
        }
    }

    @Test func aCallPastItsOwnTimeoutFailsAndTheHandlerIsCancelled() async throws {
        let log = HandlerLog()
        let slow = HostFunction(
            name: "slow", summary: "Never answers in time.", timeout: .milliseconds(300), handler: waitsForCancellation(log))
        try await withKernel(configuration: configuration(slow)) { kernel throws in
            let result = try await kernel.run("try:\n    host.slow()\nexcept HostCallError as e:\n    print(e.type, '|', e.message)")
            #expect(result.stdout == "Timeout | host.slow did not answer within 0.3 s\n")
            #expect(result.hostCalls.map(\.outcome) == [.timedOut(after: .milliseconds(300))])
            #expect(await eventually { await log.cancellations == 1 })
        }
    }

    // MARK: - Configuration

    @Test func configurationsCompareHostFunctionsByDeclarationNotHandler() throws {
        let first = HostFunction(name: "read", summary: "Read.", parameters: readSchema) { _ in .null }
        let second = HostFunction(name: "read", summary: "Read.", parameters: readSchema) { _ in .bool(true) }
        var other = first
        other.summary = "Read a file."
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(first != other)
        #expect(configuration(first) == configuration(second))
        #expect(KernelConfiguration.differences(from: configuration(first), to: configuration()) == ["host functions read → (none)"])
        let environment = try configuration(first).runnerEnvironment(base: ["PYRUN_HOST_FUNCTIONS": "[]"])
        let declared = try? JSONValue.parse(Array((environment["PYRUN_HOST_FUNCTIONS"] ?? "").utf8))
        #expect(declared == .array([.object(["name": .string("read"), "description": .string("Read."), "parameters": readSchema])]))
        #expect(try configuration().runnerEnvironment(base: ["PYRUN_HOST_FUNCTIONS": "[]"])["PYRUN_HOST_FUNCTIONS"] == nil)
    }

    @Test func hostCallEventsComeBackFromTheirJSON() {
        let events: [ExecutionEvent] = [
            .hostCallStarted(HostCallStart(callID: "c1", function: "read", arguments: ["path": "a.py"])),
            .hostCallEnded(HostCallReport(callID: "c1", function: "read", duration: .milliseconds(12), outcome: .returned)),
            .hostCallEnded(
                HostCallReport(
                    callID: "c2", function: "read", duration: .milliseconds(3),
                    outcome: .failed(HostCallError(type: "FileNotFound", message: "no such file")))),
            .hostCallEnded(
                HostCallReport(callID: "c3", function: "slow", duration: .seconds(1), outcome: .timedOut(after: .seconds(1)))),
            .hostCallEnded(HostCallReport(callID: "c4", function: "slow", duration: .milliseconds(5), outcome: .cancelled)),
        ]
        for event in events {
            #expect(ExecutionEvent(json: event.json(executionID: "e1")) == event, "\(event)")
        }
        #expect(events[0].json(executionID: "e1")["type"] == "call")
        #expect(events[2].json(executionID: "e1")["error"] == ["type": "FileNotFound", "message": "no such file"])
    }

    @Test func twoFunctionsWithOneNameAreAConfigurationError() async throws {
        let one = HostFunction(name: "read", summary: "Read.") { _ in .null }
        await #expect(throws: KernelError.self) {
            try await withKernel(configuration: configuration(one, one)) { kernel throws in
                try await kernel.start()
            }
        }
        do {
            _ = try await withKernel(configuration: configuration(one, one)) { kernel throws in try await kernel.start() }
        } catch let error as KernelError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.isConfigurationError)
            #expect(error.message == "two host functions are named 'read'")
        }
    }

    @Test func thePoolNamesTheKeyAndServesLaterCallsWithTheNewestHandlers() async throws {
        func answering(_ text: String) -> KernelConfiguration {
            configuration(HostFunction(name: "who", summary: "Says who answers.") { call in
                .string("\(text) for \(call.kernelKey ?? "nobody")")
            })
        }
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: answering("default"))) { pool throws in
            let first = try await pool.run("import os\npid = os.getpid()\nhost.who()", key: "agent-7")
            #expect(first.resultText == "'default for agent-7'")
            let second = try await pool.run("assert os.getpid() == pid\nhost.who()", key: "agent-7", configuration: answering("newer"))
            #expect(second.resultText == "'newer for agent-7'")  // same process, state kept, new handler
            #expect(second.notices.isEmpty)
            let third = try await pool.run("host.who()", key: "agent-7")
            #expect(third.resultText == "'newer for agent-7'")
        }
    }

    // MARK: - The README's example

    @Test func theReadmesHostExposesTwoToolsToItsSnippets() async throws {
        // snippet.host-functions
        let workspace = ["notes.txt": "swift is fast\npython is handy\n", "todo.txt": "write swift tests\n"]
        let read = HostFunction(
            name: "read", summary: "Read a file of the workspace.",
            parameters: ["type": "object", "required": ["path"], "properties": ["path": ["type": "string"]]]
        ) { call in
            let path = call["path"]?.stringValue ?? ""
            guard let text = workspace[path] else {
                throw HostCallError(type: "FileNotFound", message: "no such file: \(path)")
            }
            return .string(text)
        }
        let grep = HostFunction(
            name: "grep", summary: "The lines of the workspace that contain a word.",
            parameters: ["type": "object", "required": ["word"], "properties": ["word": ["type": "string"]]],
            timeout: .seconds(10)
        ) { call in
            let word = call["word"]?.stringValue ?? ""
            let lines = workspace.flatMap { path, text in
                text.split(separator: "\n").filter { $0.contains(word) }.map { "\(path): \($0)" }
            }
            return .array(lines.sorted().map { .string($0) })
        }
        try await withKernel(configuration: KernelConfiguration(hostFunctions: [read, grep])) { kernel in
            let result = try await kernel.run(
                """
                from concurrent.futures import ThreadPoolExecutor
                words = ["swift", "python", "rust"]
                with ThreadPoolExecutor(3) as pool:    # calls from threads run at the same time
                    hits = dict(zip(words, pool.map(host.grep, words)))
                try:
                    host.read(path="missing.txt")
                except HostCallError as e:             # what the handler threw, type and message
                    print(e.type, e.message)
                {word: len(lines) for word, lines in hits.items()}
                """)
            print(result.stdout, terminator: "")  // → FileNotFound no such file: missing.txt
            print(result.resultText ?? "")  // → {'swift': 2, 'python': 1, 'rust': 0}
            print(result.hostCalls.map(\.function))  // → ["grep", "grep", "grep", "read"]
            // snippet.hide
            #expect(result.stdout == "FileNotFound no such file: missing.txt\n")
            #expect(result.resultText == "{'swift': 2, 'python': 1, 'rust': 0}")
            #expect(result.hostCalls.map(\.function) == ["grep", "grep", "grep", "read"])
            // snippet.show
        }
        // snippet.end
    }

    // MARK: - The protocol, against a scripted runner

    /// A runner that, after each execution's `done`, sends a `call` for that finished
    /// execution, and reports the reply it gets in the next execution's stdout.
    private static let lateCaller = #"""
        #!/usr/bin/env python3
        import json, os, sys
        if "-S" in sys.argv:
            print(json.dumps({"executable": os.path.abspath(sys.argv[0]), "version": [3, 11, 0]}))
            sys.exit(0)
        def send(obj):
            os.write(1, (json.dumps(obj) + "\n").encode())
        send({"type": "hello", "protocol": 1, "pid": os.getpid(), "python": "3.11.0",
              "executable": sys.executable, "cwd": os.getcwd()})
        replies = []
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("type") == "call_reply":
                replies.append(request)
                continue
            if request.get("type") != "execute":
                continue
            ident = request["id"]
            send({"type": "started", "id": ident, "executionCount": 1})
            send({"type": "stdout", "id": ident, "data": json.dumps(replies)})
            done = {"type": "done", "id": ident, "status": "ok", "executionCount": 1, "cancelled": False,
                    "durationMs": 1, "cpuMs": 1, "peakRssBytes": 1}
            late = {"type": "call", "id": ident, "callId": "late-" + ident, "name": "echo", "args": {}}
            # one write: the host reads the call with the done, before it sends the next code
            os.write(1, (json.dumps(done) + "\n" + json.dumps(late) + "\n").encode())
        """#

    @Test func aCallForAnExecutionThatIsNotRunningIsAnsweredWithAnErrorAtOnce() async throws {
        let log = HandlerLog()
        let echo = HostFunction(name: "echo", summary: "Returns its arguments.") { call in
            await log.record(call)
            return call.arguments
        }
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            try writeScript(fake, Self.lateCaller)
            var configuration = configuration(echo)
            configuration.interpreter = .path(fake)
            try await withKernel(configuration: configuration) { kernel throws in
                let first = try await kernel.run("anything")
                #expect(first.stdout == "[]")
                let replies = try await kernel.run("anything")
                let decoded = try JSONValue.parse(Array(replies.stdout.utf8))
                let reply = try #require(decoded.arrayValue?.first)
                #expect(reply["callId"] == .string("late-\(first.id)"))
                #expect(reply["error"]?["type"] == .string("NoExecution"))
                #expect(await log.calls.isEmpty)
            }
        }
    }
}
