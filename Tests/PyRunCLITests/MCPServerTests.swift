import Foundation
import PyRunKit
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun mcp` driven over stdio with JSON-RPC, as an agent's client drives it (issue 12).
@Suite struct MCPServerTests {
    /// Checks a reply's `structuredContent` against the `outputSchema` the server listed.
    private func expectConforms(
        _ reply: ToolCallReply, to tool: String, in tools: [String: JSONValue],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let schema = tools[tool]?["outputSchema"] else {
            Issue.record("\(tool) lists no outputSchema", sourceLocation: sourceLocation)
            return
        }
        let problems = schemaViolations(of: reply.structured, against: schema)
        #expect(problems.isEmpty, "\(tool): \(problems)", sourceLocation: sourceLocation)
    }

    /// Polls the server with `python_sessions` until `condition` holds for the session's
    /// listing; nil if it did not within `seconds` (a liveness bound).
    private func waitForSession(
        _ client: MCPTestClient, _ name: String, seconds: Double = 30, _ condition: (JSONValue) -> Bool
    ) async throws -> JSONValue? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let list = try await client.call("python_sessions", [:])
            if let session = list.structured["sessions"]?.arrayValue?.first(where: {
                $0["session"]?.stringValue == name
            }),
                condition(session)
            {
                return session
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    // MARK: - Handshake and tools

    @Test func initializeGivesTheServerAndItsInstructionsAndTheToolsHaveSchemas() async throws {
        let client = try await MCPTestClient(initialize: false)
        let result = try await client.initialize()
        #expect(result["serverInfo"]?["name"]?.stringValue == "pyrun")
        #expect(result["protocolVersion"]?.stringValue?.isEmpty == false)
        #expect(result["capabilities"]?["tools"] != nil)
        let instructions = result["instructions"]?.stringValue ?? ""
        for phrase in ["session", "busy", "python_wait", "python_output", "state_lost", "[redacted]"] {
            #expect(instructions.contains(phrase), "\(phrase)")
        }
        let tools = try await client.tools()
        #expect(Set(tools.keys) == ["python", "python_wait", "python_interrupt", "python_sessions", "python_output"])
        for (name, tool) in tools {
            #expect(tool["inputSchema"]?["type"]?.stringValue == "object", "\(name)")
            #expect(tool["outputSchema"]?["type"]?.stringValue == "object", "\(name)")
            #expect((tool["description"]?.stringValue ?? "").count > 80, "\(name)")
        }
        #expect(tools["python"]?["inputSchema"]?["required"] == .array([.string("code")]))
        #expect(await client.process.finish().status == 0)
    }

    @Test func theServerMaximumTimeoutReachesTheSchemaAndIsEnforced() async throws {
        let client = try await MCPTestClient(["--max-timeout", "30"])
        let tools = try await client.tools()
        #expect(tools["python"]?["inputSchema"]?["properties"]?["timeout_s"]?["maximum"]?.doubleValue == 30)
        let tooLong = try await client.python("1", ["timeout_s": .number(31)])
        #expect(tooLong.isError)
        #expect(tooLong.text.contains("timeout_s must be"))
        let missing = try await client.call("python", [:])
        #expect(missing.isError)
        #expect(missing.text.contains("code"))
        let unknownTool = client.startCall("no_such_tool", [:])
        await #expect(throws: MCPTestError.self) { try await client.result(of: unknownTool) }
        #expect(await client.process.finish().status == 0)
    }

    // MARK: - Running code

    @Test func stateStaysInTheSessionAcrossCalls() async throws {
        let client = try await MCPTestClient()
        let tools = try await client.tools()
        let first = try await client.python("x = 41\nprint('set x')")
        #expect(first.status == "ok")
        #expect(!first.isError)
        #expect(first.text.hasPrefix("ok: session \"main\", In [1]"))
        #expect(first.text.contains("\nset x"))
        expectConforms(first, to: "python", in: tools)
        let second = try await client.python("x + 1")
        #expect(second.structured["result"]?.stringValue == "42")
        #expect(second.structured["execution_count"]?.intValue == 2)
        #expect(second.structured["generation"] == first.structured["generation"])
        #expect(second.text.hasSuffix("Out[2]: 42"))
        #expect(second.notices.isEmpty)
        expectConforms(second, to: "python", in: tools)
        #expect(await client.process.finish().status == 0)
    }

    @Test func twoSessionsAreIsolatedAndRunAtTheSameTime() async throws {
        try await withTemporaryDirectory { directory in
            let client = try await MCPTestClient()
            _ = try await client.python("owner = 'a'", ["session": .string("a")])
            let other = try await client.python("'owner' in globals()", ["session": .string("b")])
            #expect(other.structured["result"]?.stringValue == "False")

            // Each waits for a file the other writes: only sessions that run at once both finish.
            func meet(_ mine: String, _ theirs: String) -> String {
                """
                import os, time
                open(os.path.join(\(JSONValue.string(directory).serialized()), '\(mine)'), 'w').close()
                deadline = time.monotonic() + 30
                while not os.path.exists(os.path.join(\(JSONValue.string(directory).serialized()), '\(theirs)')):
                    assert time.monotonic() < deadline, 'the other session never ran'
                    time.sleep(0.01)
                'met'
                """
            }
            let callA = client.startCall("python", ["code": .string(meet("a", "b")), "session": .string("a")])
            let callB = client.startCall("python", ["code": .string(meet("b", "a")), "session": .string("b")])
            let replyA = ToolCallReply(result: try await client.result(of: callA))
            let replyB = ToolCallReply(result: try await client.result(of: callB))
            #expect(replyA.structured["result"]?.stringValue == "'met'", "\(replyA.text)")
            #expect(replyB.structured["result"]?.stringValue == "'met'", "\(replyB.text)")
            #expect(replyA.structured["session"]?.stringValue == "a")
            let owner = try await client.python("owner", ["session": .string("a")])
            #expect(owner.structured["result"]?.stringValue == "'a'")
            #expect(await client.process.finish().status == 0)
        }
    }

    @Test func anExceptionIsAnErrorWithItsTraceback() async throws {
        let client = try await MCPTestClient()
        let tools = try await client.tools()
        let reply = try await client.python("def f():\n    return 1 / 0\nprint('before')\nf()")
        #expect(reply.isError)
        #expect(reply.status == "error")
        #expect(reply.text.hasPrefix("error: ZeroDivisionError: division by zero"))
        #expect(reply.text.contains("before"))
        #expect(reply.text.hasSuffix("ZeroDivisionError: division by zero"))
        #expect(reply.structured["error"]?["type"]?.stringValue == "ZeroDivisionError")
        let traceback = reply.structured["error"]?["traceback"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(traceback.contains { $0.contains("in f") })
        expectConforms(reply, to: "python", in: tools)
        let after = try await client.python("'still here'")
        #expect(after.status == "ok")
        #expect(await client.process.finish().status == 0)
    }

    @Test func imagesComeBackAsImageContentWithinTheirBounds() async throws {
        let client = try await MCPTestClient()
        let tools = try await client.tools()
        let code = """
            import os, struct, zlib

            def png(width, height, rgb):
                rows = b''.join(b'\\x00' + bytes(rgb) * width for _ in range(height))
                def chunk(kind, data):
                    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
                header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
                return b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')

            class Picture:
                def __init__(self, data):
                    self.data = data
                def _repr_png_(self):
                    return self.data

            small = png(4, 3, (255, 0, 0))
            display(Picture(small))
            display(Picture(b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom(1_200_000)))
            for shade in range(5):
                display(Picture(png(2, 2, (shade, shade, shade))))
            print(small.hex())
            """
        let reply = try await client.python(code)
        #expect(reply.status == "ok", "\(reply.text)")
        let images = reply.content.filter { $0["type"]?.stringValue == "image" }
        // At most four inline per reply: the small one and three of the five shades.
        #expect(images.count == 4)
        let first = try #require(images.first)
        #expect(first["mimeType"]?.stringValue == "image/png")
        let decoded = Data(base64Encoded: first["data"]?.stringValue ?? "").map { Array($0) } ?? []
        let printed = reply.text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(decoded.map { String(format: "%02x", $0) }.joined() == printed)

        let listed = reply.structured["images"]?.arrayValue ?? []
        #expect(listed.count == 7)
        #expect(listed.filter { $0["inline"]?.boolValue == true }.count == 4)
        // The one over the size bound and the two over the count bound are saved to files.
        let large = try #require(listed.dropFirst().first)
        #expect(large["inline"]?.boolValue == false)
        #expect(large["bytes"]?.intValue == 1_200_008)
        let path = try #require(large["path"]?.stringValue)
        #expect((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == 1_200_008)
        #expect(reply.text.contains("saved to \(path)"))
        #expect(reply.structured["truncation"]?["images_not_inline"]?.intValue == 3)
        // Nothing like a base64 payload is in the text the model reads.
        #expect(reply.text.count < 5_000)
        expectConforms(reply, to: "python", in: tools)
        #expect(await client.process.finish().status == 0)
    }

    // MARK: - Output budget

    @Test func longOutputKeepsItsStartAndEndSaysWhatWasLeftOutAndPagesInFull() async throws {
        let client = try await MCPTestClient(["--max-output", "2000"])
        let tools = try await client.tools()
        let reply = try await client.python("for i in range(5000): print('line', i)")
        #expect(reply.status == "ok")
        let runID = try #require(reply.runID)
        #expect(reply.text.contains("\nline 0\n"))
        #expect(reply.text.hasSuffix("line 4999"))
        #expect(reply.text.contains("characters left out here"))
        #expect(reply.text.contains("python_output(run_id: \"\(runID)\""))
        #expect(reply.text.count < 4_000)
        let stdout = try #require(reply.structured["truncation"]?["stdout"])
        #expect((stdout["elided_characters"]?.intValue ?? 0) > 40_000)
        let file = try #require(reply.structured["truncation"]?["full_output_path"]?.stringValue)
        let whole = try String(contentsOfFile: file, encoding: .utf8)
        #expect(whole.split(separator: "\n").count == 5000)
        expectConforms(reply, to: "python", in: tools)

        let page = try await client.call(
            "python_output", ["run_id": .string(runID), "offset": .number(2500), "limit": .number(3)])
        #expect(!page.isError)
        let lines = page.structured["lines"]?.arrayValue ?? []
        #expect(lines.map { $0["number"]?.intValue } == [2501, 2502, 2503])
        #expect(lines.map { $0["text"]?.stringValue } == ["line 2500", "line 2501", "line 2502"])
        #expect(page.structured["next_offset"]?.intValue == 2503)
        #expect(page.structured["total_lines"]?.intValue == 5000)
        #expect(page.text.contains("2501: line 2500"))
        expectConforms(page, to: "python_output", in: tools)

        let matches = try await client.call(
            "python_output", ["run_id": .string(runID), "grep": .string("^line 49[0-9]{2}$")])
        #expect(matches.structured["matching_lines"]?.intValue == 100)
        #expect(matches.structured["lines"]?.arrayValue?.first?["number"]?.intValue == 4901)
        #expect(await client.process.finish().status == 0)
    }

    // MARK: - Long calls

    @Test func aBusySessionAnswersAtOnceNamingTheRunningRun() async throws {
        try await withTemporaryDirectory { directory in
            let client = try await MCPTestClient()
            let tools = try await client.tools()
            let release = "\(directory)/release"
            let code = """
                import os, time
                print('waiting', flush=True)
                while not os.path.exists(\(JSONValue.string(release).serialized())):
                    time.sleep(0.01)
                'released'
                """
            let running = try await client.python(code, ["wait_s": .number(0.2)])
            #expect(running.status == "running")
            #expect(!running.isError)
            let runID = try #require(running.runID)
            #expect(running.text.contains("python_wait(run_id: \"\(runID)\")"))
            expectConforms(running, to: "python", in: tools)

            let busy = try await client.python("1 + 1")
            #expect(busy.status == "busy")
            #expect(busy.isError)
            #expect(busy.runID == runID)
            #expect(busy.text.contains(runID))
            expectConforms(busy, to: "python", in: tools)

            #expect(FileManager.default.createFile(atPath: release, contents: nil))
            let finished = try await client.call("python_wait", ["run_id": .string(runID), "wait_s": .number(60)])
            #expect(finished.status == "ok")
            #expect(finished.structured["result"]?.stringValue == "'released'")
            // python_wait returns what came since the last look: the line shows once, in one of them.
            let shown =
                (running.structured["stdout"]?.stringValue ?? "") + (finished.structured["stdout"]?.stringValue ?? "")
            #expect(shown == "waiting\n")
            expectConforms(finished, to: "python_wait", in: tools)
            #expect(try await client.python("1 + 1").status == "ok")
            #expect(await client.process.finish().status == 0)
        }
    }

    @Test func aSlowStartIsBoundedByWaitSLikeTheCodeItself() async throws {
        try await withTemporaryDirectory { directory in
            // The prelude runs before the interpreter is ready, and does not end until released.
            let release = "\(directory)/release"
            let prelude = "\(directory)/prelude.py"
            try """
            import os, time
            while not os.path.exists(\(JSONValue.string(release).serialized())):
                time.sleep(0.01)
            """.write(toFile: prelude, atomically: true, encoding: .utf8)
            let client = try await MCPTestClient(["--prelude", prelude])
            let starting = try await client.python("1 + 1", ["wait_s": .number(0.5)])
            #expect(starting.status == "running", "\(starting.text)")
            #expect(starting.notices.contains { $0["kind"]?.stringValue == "starting" })
            let runID = try #require(starting.runID)
            let listed = try await client.call("python_sessions", [:])
            let main = listed.structured["sessions"]?.arrayValue?.first { $0["session"]?.stringValue == "main" }
            #expect(main?["status"]?.stringValue == "starting")
            #expect(main?["running_run_id"]?.stringValue == runID)
            #expect(try await client.python("2", ["wait_s": .number(0)]).status == "busy")

            #expect(FileManager.default.createFile(atPath: release, contents: nil))
            let finished = try await client.call("python_wait", ["run_id": .string(runID), "wait_s": .number(60)])
            #expect(finished.status == "ok", "\(finished.text)")
            #expect(finished.structured["result"]?.stringValue == "2")
            #expect(finished.structured["generation"]?.intValue == 1)
            #expect(!finished.notices.contains { $0["kind"]?.stringValue == "starting" })
            #expect(await client.process.finish().status == 0)
        }
    }

    @Test func progressNotificationsCarryTheElapsedTimeAndTheLastLine() async throws {
        try await withTemporaryDirectory { directory in
            let client = try await MCPTestClient()
            let release = "\(directory)/release"
            let code = """
                import os, time
                print('step one', flush=True)
                while not os.path.exists(\(JSONValue.string(release).serialized())):
                    time.sleep(0.01)
                """
            let id = client.startCall(
                "python", ["code": .string(code), "wait_s": .number(120)], progressToken: "progress-1")
            let sawProgress = await client.waitForMessage(seconds: 60) { message in
                message["method"]?.stringValue == "notifications/progress"
                    && message["params"]?["message"]?.stringValue?.contains("step one") == true
            }
            #expect(sawProgress)
            #expect(client.response(to: id) == nil)
            #expect(FileManager.default.createFile(atPath: release, contents: nil))
            let reply = ToolCallReply(result: try await client.result(of: id))
            #expect(reply.status == "ok")
            let progress = client.notifications("notifications/progress")
            #expect(progress.allSatisfy { $0["params"]?["progressToken"]?.stringValue == "progress-1" })
            let values = progress.compactMap { $0["params"]?["progress"]?.doubleValue }
            #expect(values.first.map { $0 > 0 } == true)
            #expect(values == values.sorted())
            // A call without a token gets none.
            let count = progress.count
            _ = try await client.python("1")
            #expect(client.notifications("notifications/progress").count == count)
            #expect(await client.process.finish().status == 0)
        }
    }

    @Test func aCancelledCallInterruptsTheCodeAndKeepsTheState() async throws {
        let client = try await MCPTestClient()
        _ = try await client.python("kept = 42")
        let sleeping = client.startCall(
            "python", ["code": .string("import time\ntime.sleep(300)"), "wait_s": .number(120)])
        let busy = try await waitForSession(client, "main") { $0["running_run_id"]?.stringValue != nil }
        let pid = try #require(busy?["pid"]?.intValue)
        client.cancel(sleeping)

        let clock = ContinuousClock()
        let started = clock.now
        let next = try await client.python("kept")
        // Answered once the interrupt landed, not after the 300 s sleep (a liveness bound).
        #expect(clock.now - started < .seconds(120))
        #expect(next.status == "ok", "\(next.text)")
        #expect(next.structured["result"]?.stringValue == "42")
        let notice = next.notices.first { $0["kind"]?.stringValue == "cancelled" }
        #expect(notice?["state_lost"]?.boolValue == false)
        #expect(notice?["message"]?.stringValue?.contains("KeyboardInterrupt") == true)
        // The kernel that slept is the one that answered, and the cancelled call got no reply.
        let after = try await waitForSession(client, "main") { _ in true }
        #expect(after?["pid"]?.intValue == pid)
        #expect(client.response(to: sleeping) == nil)
        #expect(await client.process.finish().status == 0)
    }

    @Test func aCancellationRightBehindItsCallStillReachesIt() async throws {
        let client = try await MCPTestClient()
        _ = try await client.python("kept = 'yes'")
        // Both messages leave in one write, so the server reads the cancellation at once.
        let id = 9_999
        let call = JSONValue.object([
            "jsonrpc": .string("2.0"), "id": .number(Double(id)), "method": .string("tools/call"),
            "params": .object([
                "name": .string("python"), "arguments": .object(["code": .string("import time\ntime.sleep(300)")]),
            ]),
        ])
        let cancel = JSONValue.object([
            "jsonrpc": .string("2.0"), "method": .string("notifications/cancelled"),
            "params": .object(["requestId": .number(Double(id))]),
        ])
        client.process.write(call.serialized() + "\n" + cancel.serialized() + "\n")
        let clock = ContinuousClock()
        let started = clock.now
        let next = try await client.python("kept")
        #expect(clock.now - started < .seconds(120))  // not after the 300 s sleep (a liveness bound)
        #expect(next.structured["result"]?.stringValue == "'yes'", "\(next.text)")
        #expect(client.response(to: id) == nil)
        #expect(await client.process.finish().status == 0)
    }

    @Test func theServerStopsCodeThatRunsPastItsTimeout() async throws {
        let client = try await MCPTestClient()
        _ = try await client.python("kept = 'yes'")
        let clock = ContinuousClock()
        let started = clock.now
        let reply = try await client.python(
            "import time\nprint('sleeping')\ntime.sleep(300)", ["timeout_s": .number(1)])
        #expect(clock.now - started < .seconds(120))  // not after the 300 s sleep (a liveness bound)
        #expect(reply.status == "timeout")
        #expect(reply.isError)
        #expect(reply.text.hasPrefix("timeout: stopped after"))
        #expect(reply.text.contains("sleeping"))
        #expect(reply.notices.contains { $0["kind"]?.stringValue == "timed_out" })
        let after = try await client.python("kept")
        #expect(after.structured["result"]?.stringValue == "'yes'")
        #expect(after.notices.isEmpty)
        #expect(await client.process.finish().status == 0)
    }

    @Test func interruptKeepsStateAndSaysWhenItHadToEndTheInterpreter() async throws {
        let client = try await MCPTestClient()
        let tools = try await client.tools()
        let first = try await client.python("kept = 1")
        let spinning = try await client.python("import time\nwhile True: time.sleep(0.01)", ["wait_s": .number(0.2)])
        #expect(spinning.status == "running")
        let interrupted = try await client.call("python_interrupt", [:])
        #expect(interrupted.structured["outcome"]?.stringValue == "interrupted")
        #expect(interrupted.structured["state_kept"]?.boolValue == true)
        #expect(interrupted.structured["run_id"]?.stringValue == spinning.runID)
        #expect(!interrupted.isError)
        expectConforms(interrupted, to: "python_interrupt", in: tools)
        let ended = try await client.call("python_wait", ["run_id": .string(spinning.runID ?? "")])
        #expect(ended.status == "interrupted")
        #expect(ended.isError)
        #expect(try await client.python("kept").structured["result"]?.stringValue == "1")

        let stubborn = """
            import signal, time
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True: time.sleep(0.01)
            """
        #expect(try await client.python(stubborn, ["wait_s": .number(0.2)]).status == "running")
        let escalated = try await client.call("python_interrupt", ["session": .string("main")])
        #expect(escalated.structured["outcome"]?.stringValue == "restarted")
        #expect(escalated.structured["state_kept"]?.boolValue == false)
        #expect(escalated.isError)
        let fresh = try await client.python("'kept' in globals()")
        #expect(fresh.structured["result"]?.stringValue == "False")
        let notice = fresh.notices.first { $0["kind"]?.stringValue == "killed_after_interrupt" }
        #expect(notice?["state_lost"]?.boolValue == true)
        #expect(fresh.text.contains("earlier state of the session is gone"))
        #expect((fresh.structured["generation"]?.intValue ?? 0) > (first.structured["generation"]?.intValue ?? 0))

        let idle = try await client.call("python_interrupt", [:])
        #expect(idle.structured["outcome"]?.stringValue == "nothing_running")
        #expect(await client.process.finish().status == 0)
    }

    // MARK: - Sessions

    @Test func sessionsAreListedResetAndClosed() async throws {
        let client = try await MCPTestClient()
        let tools = try await client.tools()
        _ = try await client.python("a = 1", ["session": .string("s1")])
        let list = try await client.call("python_sessions", ["action": .string("list")])
        expectConforms(list, to: "python_sessions", in: tools)
        let s1 = try #require(list.structured["sessions"]?.arrayValue?.first { $0["session"]?.stringValue == "s1" })
        #expect(s1["status"]?.stringValue == "idle")
        let pid = try #require(s1["pid"]?.intValue)
        #expect(client.descendantPIDs.contains(Int32(pid)))
        #expect(s1["interpreter"]?.stringValue?.isEmpty == false)
        #expect(s1["python_version"]?.stringValue?.hasPrefix("3.") == true)
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).resolvingSymlinksInPath().path
        #expect(s1["cwd"]?.stringValue.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == here)
        #expect(s1["execution_count"]?.intValue == 1)
        #expect((s1["memory_bytes"]?.intValue ?? 0) > 1 << 20)
        #expect((s1["idle_s"]?.doubleValue ?? -1) >= 0)
        #expect(s1["generation"]?.intValue == 1)

        let reset = try await client.call("python_sessions", ["action": .string("reset"), "session": .string("s1")])
        #expect(!reset.isError)
        let resetS1 = reset.structured["sessions"]?.arrayValue?.first { $0["session"]?.stringValue == "s1" }
        #expect(resetS1?["generation"]?.intValue == 2)
        #expect(resetS1?["pid"]?.intValue != pid)
        #expect(await waitUntilGone(Int32(pid)))
        let fresh = try await client.python("'a' in globals()", ["session": .string("s1")])
        #expect(fresh.structured["result"]?.stringValue == "False")
        #expect(fresh.notices.contains { $0["kind"]?.stringValue == "reset" && $0["state_lost"]?.boolValue == true })

        let closed = try await client.call("python_sessions", ["action": .string("close"), "session": .string("s1")])
        #expect(!closed.isError)
        #expect(closed.structured["sessions"]?.arrayValue?.contains { $0["session"]?.stringValue == "s1" } == false)
        let unknown = try await client.call(
            "python_sessions", ["action": .string("reset"), "session": .string("nope")])
        #expect(unknown.isError)
        #expect(unknown.text.contains("no session \"nope\""))
        #expect(await client.process.finish().status == 0)
    }

    // MARK: - Environment

    @Test func secretsOfTheServerComeBackRedacted() async throws {
        let secret = "s3cr3t-value-for-pyrun-mcp"
        let code = """
            import os, sys
            value = os.environ['PYRUN_MCP_TEST_TOKEN']
            print('whole:', value)
            sys.stdout.write('split: ' + value[:6]); sys.stdout.flush(); sys.stdout.write(value[6:] + '\\n')
            value
            """
        let client = try await MCPTestClient(
            ["--pass-env", "PYRUN_MCP_TEST_TOKEN"], environment: ["PYRUN_MCP_TEST_TOKEN": secret])
        let reply = try await client.python(code)
        #expect(reply.status == "ok", "\(reply.text)")
        #expect(reply.text.contains("whole: [redacted]"))
        #expect(reply.text.contains("split: [redacted]"))
        #expect(reply.structured["result"]?.stringValue == "'[redacted]'")
        let page = try await client.call("python_output", ["run_id": .string(reply.runID ?? "")])
        #expect(page.text.contains("[redacted]"))
        let file = try String(contentsOfFile: page.structured["path"]?.stringValue ?? "", encoding: .utf8)
        #expect(!file.contains(secret))
        #expect(await client.process.finish().status == 0)
        #expect(!client.process.stdout.contains(secret))

        let unredacted = try await MCPTestClient(
            ["--pass-env", "PYRUN_MCP_TEST_TOKEN", "--no-redact"], environment: ["PYRUN_MCP_TEST_TOKEN": secret])
        #expect(try await unredacted.python(code).text.contains("whole: \(secret)"))
        #expect(await unredacted.process.finish().status == 0)
    }

    @Test func interpretersSeeOnlyTheAllowListOfTheEnvironment() async throws {
        let environment = [
            "MCP_TEST_PLAIN": "plain", "MCP_TEST_API_KEY": "not-for-the-code-1234", "LC_MCP_TEST": "c",
            "PYTHONMCPTEST": "p",
        ]
        let code = "import os\nsorted(n for n in os.environ if 'MCP' in n or n in ('PATH', 'HOME'))"
        let client = try await MCPTestClient([], environment: environment)
        let names = try await client.python(code).structured["result"]?.stringValue
        #expect(names == "['HOME', 'LC_MCP_TEST', 'PATH', 'PYTHONMCPTEST']")
        #expect(await client.process.finish().status == 0)

        let passing = try await MCPTestClient(["--pass-env", "MCP_TEST_PLAIN"], environment: environment)
        let more = try await passing.python(code).structured["result"]?.stringValue
        #expect(more == "['HOME', 'LC_MCP_TEST', 'MCP_TEST_PLAIN', 'PATH', 'PYTHONMCPTEST']")
        #expect(await passing.process.finish().status == 0)
    }

    @Test func theInterpreterOptionsReachEverySession() async throws {
        try await withTemporaryDirectory { directory in
            let prelude = "\(directory)/prelude.py"
            try "from_prelude = 'ready'\n".write(toFile: prelude, atomically: true, encoding: .utf8)
            var arguments = [
                "--cwd", directory, "--prelude", prelude, "--memory-limit", "2G", "--cpu-limit", "600",
            ]
            if let alternativeInterpreter { arguments += ["--python", alternativeInterpreter] }
            let client = try await MCPTestClient(arguments)
            let code = """
                import os, resource, sys
                (from_prelude, os.path.realpath(os.getcwd()), resource.getrlimit(resource.RLIMIT_AS)[0],
                 resource.getrlimit(resource.RLIMIT_CPU)[0], os.path.realpath(sys.executable))
                """
            let expectedPython = URL(fileURLWithPath: alternativeInterpreter ?? defaultInterpreter)
                .resolvingSymlinksInPath().path
            let expected =
                "('ready', '\(URL(fileURLWithPath: directory).resolvingSymlinksInPath().path)', \(2 << 30), 600, '\(expectedPython)')"
            for session in ["main", "other"] {
                let reply = try await client.python(code, ["session": .string(session)])
                #expect(reply.structured["result"]?.stringValue == expected, "\(session): \(reply.text)")
            }
            #expect(await client.process.finish().status == 0)
        }
    }

    @Test func hostFunctionsReachEverySession() async throws {
        let client = try await MCPTestClient([
            "--host-fn", "shout=tr a-z A-Z", "--host-fn", "fail=echo nope >&2; exit 3",
        ])
        let code = """
            try:
                host.fail()
            except HostCallError as e:
                failed = e.type
            (host.shout(word="hi"), failed)
            """
        for session in ["main", "other"] {
            let reply = try await client.python(code, ["session": .string(session)])
            #expect(
                reply.structured["result"]?.stringValue == "({'WORD': 'HI'}, 'CommandFailed')",
                "\(session): \(reply.text)")
        }
        #expect(await client.process.finish().status == 0)
    }

    // MARK: - Shutdown

    @Test func closingStdinShutsEverySessionDownWithNothingLeftRunning() async throws {
        try await withTemporaryDirectory { directory in
            let client = try await MCPTestClient()
            _ = try await client.python("1", ["session": .string("idle")])
            let pidFile = "\(directory)/child.pid"
            let code = """
                import subprocess, time
                child = subprocess.Popen(['sleep', '300'])
                with open(\(JSONValue.string(pidFile).serialized()), 'w') as f:
                    f.write(str(child.pid))
                time.sleep(300)
                """
            let running = try await client.python(code, ["session": .string("busy"), "wait_s": .number(0.5)])
            #expect(running.status == "running")
            let grandchild = try #require(
                await pollValue(seconds: 30) {
                    (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0) }
                })
            let processes = client.descendantPIDs
            #expect(processes.contains(grandchild))
            #expect(processes.count >= 3)  // two sessions and the grandchild (and a warm spare)

            let outcome = await client.process.finish(seconds: 60)
            #expect(outcome.status == 0)
            for pid in processes { #expect(await waitUntilGone(pid), "pid \(pid) outlived the server") }
        }
    }

    @Test func callsSentBeforeStdinClosesAreAnsweredBeforeTheServerExits() async throws {
        // As `printf '<initialize>\n<call>\n' | pyrun mcp` does: the input ends while the
        // call runs, and the client still reads stdout.
        let client = try await MCPTestClient(initialize: false)
        let initialize = client.startInitialize()
        client.sendInitialized()
        let call = client.startCall(
            "python", ["code": .string("import os, time\ntime.sleep(1)\nprint('slept in', os.getpid())")])
        let outcome = await client.process.finish(seconds: 120)
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        #expect(client.response(to: initialize)?["result"]?["serverInfo"]?["name"]?.stringValue == "pyrun")
        let reply = try #require(
            client.response(to: call)?["result"].map { ToolCallReply(result: $0) },
            "no response to the call; stdout: \(outcome.stdout)")
        #expect(reply.status == "ok", "\(reply.text)")
        let printed = try #require(reply.structured["stdout"]?.stringValue)
        #expect(printed.hasPrefix("slept in "), "\(reply.text)")
        let interpreter = try #require(
            Int32(printed.dropFirst("slept in ".count).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await waitUntilGone(interpreter), "the session's interpreter outlived the server")
    }

    @Test func aSignalStopsTheWaitForCallsSentBeforeStdinClosed() async throws {
        try await withTemporaryDirectory { directory in
            let client = try await MCPTestClient(["--verbose"])
            let started = "\(directory)/started"
            let code = "import time\nopen(\(JSONValue.string(started).serialized()), 'w').close()\ntime.sleep(300)"
            let call = client.startCall("python", ["code": .string(code)])
            #expect(await poll(seconds: 60) { FileManager.default.fileExists(atPath: started) })
            let processes = client.descendantPIDs
            #expect(!processes.isEmpty)
            client.process.closeInput()
            #expect(await poll(seconds: 60) { client.process.stderr.contains("answering its open requests") })
            client.process.send(signal: SIGTERM)
            let outcome = await client.process.finish(seconds: 60)
            #expect(outcome.status == 128 + SIGTERM)
            #expect(client.response(to: call) == nil, "the call was answered after the signal")
            for pid in processes { #expect(await waitUntilGone(pid), "pid \(pid) outlived the server") }
        }
    }

    @Test func sigtermShutsEverySessionDownToo() async throws {
        let client = try await MCPTestClient()
        let running = try await client.python("import time\ntime.sleep(300)", ["wait_s": .number(0.5)])
        #expect(running.status == "running")
        let processes = client.descendantPIDs
        #expect(!processes.isEmpty)
        client.process.send(signal: SIGTERM)
        #expect(await poll(seconds: 60) { !processIsAlive(client.pid) })
        let outcome = await client.process.finish(seconds: 10)
        #expect(outcome.status == 128 + SIGTERM)
        for pid in processes { #expect(await waitUntilGone(pid), "pid \(pid) outlived the server") }
    }
}

/// Polls `value` every 20 ms until it is not nil, at most `seconds`.
private func pollValue<T: Sendable>(seconds: Double, _ value: @escaping @Sendable () -> T?) async -> T? {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if let found = value() { return found }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return value()
}
