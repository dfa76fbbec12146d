import Foundation
import MCP
import Testing

@testable import PyRunMCP

@Suite struct ToolCatalogTests {
    private let tools = ToolCatalog.tools()

    // MARK: - Definitions

    @Test func theFiveToolsAreListedOnceEachWithTheirSchemas() throws {
        #expect(tools.map(\.name) == ["python", "python_wait", "python_interrupt", "python_sessions", "python_output"])
        for tool in tools {
            let input = try #require(tool.inputSchema.objectValue, "\(tool.name)")
            #expect(input["type"] == "object")
            let properties = try #require(input["properties"]?.objectValue, "\(tool.name)")
            for required in input["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                #expect(properties[required] != nil, "\(tool.name).\(required)")
            }
            for (name, property) in properties {
                #expect(property.objectValue?["description"]?.stringValue?.isEmpty == false, "\(tool.name).\(name)")
            }
            #expect(tool.outputSchema?.objectValue?["type"] == "object", "\(tool.name)")
            #expect((tool.description ?? "").count > 80, "\(tool.name)")
        }
    }

    @Test func theServerLimitsReachTheSchemasAndTheDescription() throws {
        var limits = ToolCatalog.Limits()
        limits.maximumTimeoutSeconds = 900
        limits.outputCharacters = 12_345
        let python = ToolCatalog.tools(limits)[0]
        let timeout = python.inputSchema.objectValue?["properties"]?.objectValue?["timeout_s"]?.objectValue
        #expect(timeout?["maximum"] == .double(900))
        #expect(python.description?.contains("12,345 characters") == true)
        #expect(ServerInstructions.text(limits).contains("12,345 characters"))
    }

    @Test func theInstructionsExplainSessionsRunningCallsAndTruncation() {
        let text = ServerInstructions.text()
        for phrase in [
            "\"main\"", "busy", "python_wait(run_id)", "python_interrupt", "state_lost", "python_output",
            "[redacted]", "timeout_s", "wait_s",
        ] {
            #expect(text.contains(phrase), "\(phrase)")
        }
    }

    // MARK: - Results against their schemas

    private func violations(_ report: some Encodable, _ schema: Value) throws -> [String] {
        let data = try JSONEncoder().encode(report)
        return schemaViolations(of: try JSONDecoder().decode(Value.self, from: data), against: schema)
    }

    private func report(_ status: ExecutionReport.Status) -> ExecutionReport {
        ExecutionReport(status: status, session: "main", runID: "r1", generation: 1, durationSeconds: 0.5)
    }

    @Test func everyStatusEncodesToTheDeclaredSchema() throws {
        for status in ExecutionReport.Status.allCases {
            #expect(try violations(report(status), ExecutionReport.outputSchema) == [], "\(status)")
        }
    }

    @Test func aReportWithEveryFieldEncodesToTheDeclaredSchema() throws {
        let full = ExecutionReport(
            status: .error, session: "analysis", runID: "r42", generation: 3, executionCount: 7, durationSeconds: 1.25,
            cpuSeconds: 1.1, peakRSSBytes: 52_428_800, stdout: "out\n", stderr: "err\n", result: "None",
            error: .init(type: "ValueError", message: "bad", traceback: ["Traceback…", "ValueError: bad"]),
            images: [
                .init(mimeType: "image/png", bytes: 2048, inline: true),
                .init(mimeType: "image/jpeg", bytes: 9_000_000, inline: false, path: "/tmp/r/img-1.jpg"),
            ],
            truncation: .init(
                stdout: .init(elidedCharacters: 100, firstLine: 10, lastLine: 20, squashedLines: 3),
                fullOutputPath: "/tmp/r/r42.txt", imagesNotInline: 1),
            notices: [.init(kind: "restarted", stateLost: true, message: "the kernel was restarted")])
        #expect(try violations(full, ExecutionReport.outputSchema) == [])
        let interrupt = InterruptReport(
            session: "main", outcome: .restarted, stateKept: false, runID: "r1", message: "m")
        #expect(try violations(interrupt, InterruptReport.outputSchema) == [])
        let sessions = SessionsReport(
            action: .list,
            sessions: [
                .init(
                    session: "main", status: .busy, pid: 42, interpreter: "/usr/bin/python3", pythonVersion: "3.11.7",
                    cwd: "/tmp", generation: 1, executionCount: 3, memoryBytes: 1 << 25, idleSeconds: 0,
                    runningRunID: "r1"),
                .init(session: "b", status: .idle, generation: 2, executionCount: 0, idleSeconds: 12.5),
            ])
        #expect(try violations(sessions, SessionsReport.outputSchema) == [])
        let page = OutputPage(
            runID: "r1", running: false, offset: 0, lines: [.init(number: 1, text: "x")], totalLines: 1,
            matchingLines: 1, nextOffset: nil, shortenedLines: [], path: "/tmp/r/r1.txt")
        #expect(try violations(page, OutputPage.outputSchema) == [])
    }

    @Test func theSchemaCheckRejectsWhatTheSchemaForbids() throws {
        var object = try #require(
            try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(report(.ok))).objectValue)
        object["status"] = "finished"
        #expect(schemaViolations(of: .object(object), against: ExecutionReport.outputSchema).count == 1)
        object["status"] = "ok"
        object["extra"] = 1
        #expect(schemaViolations(of: .object(object), against: ExecutionReport.outputSchema).count == 1)
        object["extra"] = nil
        object["stdout"] = nil
        #expect(schemaViolations(of: .object(object), against: ExecutionReport.outputSchema).count == 1)
    }

    @Test func onlyOkAndRunningAreNotErrors() {
        let nonErrors = ExecutionReport.Status.allCases.filter { !$0.isError }
        #expect(nonErrors == [.ok, .running])
    }

    // MARK: - Summary lines

    @Test func theSummaryLineSaysStatusSessionCountAndDuration() {
        var ok = report(.ok)
        ok.executionCount = 3
        ok.durationSeconds = 0.0123
        #expect(ok.summaryLine == "ok: session \"main\", In [3], 12 ms")
        var failed = report(.error)
        failed.error = .init(type: "ZeroDivisionError", message: "division by zero", traceback: [])
        failed.durationSeconds = 2.5
        #expect(failed.summaryLine == "error: ZeroDivisionError: division by zero (session \"main\", 2.5 s)")
        var lost = report(.ok)
        lost.notices = [.init(kind: "died", stateLost: true, message: "…")]
        #expect(lost.summaryLine.contains("earlier state of the session is gone"))
    }

    @Test func runningAndBusySayWhatToCallNext() {
        #expect(report(.running).summaryLine.contains("python_wait(run_id: \"r1\")"))
        #expect(report(.busy).summaryLine.contains("is still running r1; nothing was run"))
        #expect(report(.died).summaryLine.contains("its state is gone"))
    }

    // MARK: - Over the wire

    @Test func theSDKSendsOutputSchemasAndAnnotationsInToolsList() async throws {
        let input = PipePair()
        let output = PipePair()
        let server = Server(
            name: "pyrun", version: "0", instructions: ServerInstructions.text(), capabilities: .init(tools: .init()))
        let tools = self.tools
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools) }
        try await server.start(transport: LineTransport(input: input.readEnd, output: output.writeEnd))
        input.write(#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"# + "\n")
        let reply = await output.readLines(1)
        let object = try JSONSerialization.jsonObject(with: Data(reply[0].utf8)) as? [String: Any]
        let listed = try #require((object?["result"] as? [String: Any])?["tools"] as? [[String: Any]])
        #expect(listed.count == 5)
        for tool in listed {
            #expect(tool["outputSchema"] is [String: Any], "\(tool["name"] ?? "?")")
            #expect(tool["inputSchema"] is [String: Any])
            #expect(tool["annotations"] is [String: Any])
        }
        input.closeWriteEnd()
        await server.waitUntilCompleted()
        await server.stop()
    }
}

/// The schemas checked by the reference validator (Python's `jsonschema`), where it is installed.
@Suite struct ToolSchemaValidityTests {
    /// Whether `python3` on PATH can import `jsonschema`.
    static let hasJSONSchema: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import jsonschema"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test(.enabled(if: hasJSONSchema, "python3 with jsonschema is not installed"))
    func everySchemaIsValidDraft2020AndTheReportsValidateAgainstIt() throws {
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator
            data = json.load(sys.stdin)
            for tool in data["tools"]:
                Draft202012Validator.check_schema(tool["inputSchema"])
                Draft202012Validator.check_schema(tool["outputSchema"])
            for name, sample in data["samples"]:
                schema = next(t["outputSchema"] for t in data["tools"] if t["name"] == name)
                Draft202012Validator(schema).validate(sample)
            print("valid")
            """
        let encoder = JSONEncoder()
        let samples: [(String, Data)] = [
            (
                "python",
                try encoder.encode(
                    ExecutionReport(
                        status: .ok, session: "main", runID: "r1", generation: 1,
                        executionCount: 1, durationSeconds: 0.1, result: "2"))
            ),
            (
                "python_wait",
                try encoder.encode(
                    ExecutionReport(
                        status: .running, session: "s", runID: "r2", generation: 2,
                        durationSeconds: 30))
            ),
            (
                "python_interrupt",
                try encoder.encode(
                    InterruptReport(
                        session: "main", outcome: .interrupted, stateKept: true,
                        message: "stopped"))
            ),
            ("python_sessions", try encoder.encode(SessionsReport(action: .list, sessions: []))),
            (
                "python_output",
                try encoder.encode(
                    OutputPage(
                        runID: "r1", running: false, offset: 0, lines: [], totalLines: 0,
                        path: "/tmp/r1.txt"))
            ),
        ]
        let tools = try encoder.encode(ToolCatalog.tools())
        let payload =
            "{\"tools\":\(String(decoding: tools, as: UTF8.self)),\"samples\":["
            + samples.map { "[\"\($0.0)\",\(String(decoding: $0.1, as: UTF8.self))]" }.joined(separator: ",") + "]}"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(payload.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text == "valid\n")
    }
}
