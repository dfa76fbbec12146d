import Foundation
import PyRunKit
import Testing

@testable import PyRunMCP

/// Reading a call's arguments and writing its reply.
@Suite struct ToolCallTests {
    // MARK: - Arguments

    private func arguments(_ values: [String: JSONValue]) throws -> ToolArguments {
        try ToolArguments(values, tool: "python", allowed: ["code", "session", "timeout_s", "offset", "reset"])
    }

    private func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as ToolCallError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func argumentsAreReadWithTheChecksTheSchemaStates() throws {
        let given = try arguments([
            "code": .string("1"), "session": .string("data-2.x"), "timeout_s": .number(2), "offset": .number(3),
            "reset": .bool(true),
        ])
        #expect(try given.requiredString("code") == "1")
        #expect(try given.session() == "data-2.x")
        #expect(try given.number("timeout_s", in: 0...10, excludingLowerBound: true) == 2)
        #expect(try given.integer("offset", in: 0...10) == 3)
        #expect(try given.bool("reset") == true)
        #expect(try arguments([:]).session() == "main")
        #expect(try arguments(["session": .null]).session() == "main")
    }

    @Test func badArgumentsSayWhatIsWrong() throws {
        #expect(
            message { _ = try arguments(["cod": .string("1")]) }?.hasPrefix(
                "python has no argument cod; it takes code, ")
                == true)
        #expect(message { _ = try arguments([:]).requiredString("code") } == "python needs the argument code")
        #expect(
            message { _ = try arguments(["code": .number(1)]).requiredString("code") } == "code must be a string; got 1"
        )
        #expect(
            message {
                _ = try arguments(["timeout_s": .number(0)]).number("timeout_s", in: 0...10, excludingLowerBound: true)
            }
                == "timeout_s must be more than 0 and at most 10; got 0")
        #expect(
            message { _ = try arguments(["timeout_s": .number(11.5)]).number("timeout_s", in: 0...10) }
                == "timeout_s must be at least 0 and at most 10; got 11.5")
        #expect(
            message { _ = try arguments(["offset": .number(1.5)]).integer("offset", in: 0...10) }?
                .hasPrefix("offset must be a whole number") == true)
        #expect(
            message { _ = try arguments(["session": .string("../etc")]).session() }?
                .hasPrefix("session must be 1 to 64 letters") == true)
        #expect(message { _ = try arguments(["session": .string("")]).session() } != nil)
        #expect(
            message { _ = try arguments(["reset": .string("yes")]).bool("reset") }
                == "reset must be true or false; got \"yes\"")
    }

    // MARK: - Replies

    @Test func theTextStartsWithTheSummaryAndEndsWithTheErrorOrTheValue() {
        var report = ExecutionReport(
            status: .error, session: "main", runID: "r4", generation: 2, executionCount: 5, durationSeconds: 0.012,
            stdout: "loading\n", stderr: "warning: slow\n",
            error: .init(
                type: "KeyError", message: "'x'", traceback: ["Traceback (most recent call last):", "KeyError: 'x'"]),
            notices: [.init(kind: "reset", stateLost: true, message: "session \"main\" was reset")])
        #expect(
            ToolReply.text(of: report) == """
                error: KeyError: 'x' (session "main", In [5], 12 ms); earlier state of the session is gone (see notices)
                [pyrun notice: session "main" was reset]
                loading
                [stderr]
                warning: slow
                Traceback (most recent call last):
                KeyError: 'x'
                """)
        report.status = .ok
        report.error = nil
        report.notices = []
        report.stderr = ""
        report.result = "42"
        #expect(ToolReply.text(of: report) == "ok: session \"main\", In [5], 12 ms\nloading\nOut[5]: 42")
    }

    @Test func theResultIsTheResponsesResultMember() {
        let result = ToolResult(
            content: [ToolResult.text("hi")], structuredContent: .object(["a": .number(1)]), isError: true)
        #expect(
            result.json.serialized()
                == #"{"content":[{"text":"hi","type":"text"}],"isError":true,"structuredContent":{"a":1}}"#)
        #expect(
            ToolReply.failure("no").json.serialized() == #"{"content":[{"text":"no","type":"text"}],"isError":true}"#)
    }

    @Test func reportsEncodeStraightToJSONAsTheirCodingKeysSay() throws {
        let report = ExecutionReport(
            status: .ok, session: "main", runID: "r1", generation: 1, executionCount: 2, durationSeconds: 0.5,
            peakRSSBytes: 1 << 20, result: "2")
        let direct = try JSONValueEncoder.encode(report)
        let viaFoundation = try JSONValue.parse(Array(JSONEncoder().encode(report)))
        #expect(direct == viaFoundation)
        #expect(direct["peak_rss_bytes"]?.intValue == 1 << 20)
        #expect(direct["error"] == nil)
    }

    @Test func repliesAreErrorsForEveryStatusButOkAndRunning() throws {
        for status in ExecutionReport.Status.allCases {
            let report = ExecutionReport(
                status: status, session: "main", runID: "r1", generation: 1, durationSeconds: 1)
            let reply = try ToolReply.execution(RunSnapshot(report: report, inlineImages: []))
            #expect(reply.isError == (status != .ok && status != .running), "\(status)")
            #expect(reply.structuredContent?["status"]?.stringValue == status.rawValue)
        }
        let running = ExecutionReport(
            status: .running, session: "main", runID: "r9", generation: 1, durationSeconds: 30)
        #expect(ToolReply.text(of: running).hasSuffix("\n(no new output)"))
    }

    @Test func imagesFollowTheTextAsImageContent() throws {
        let report = ExecutionReport(
            status: .ok, session: "main", runID: "r1", generation: 1, durationSeconds: 0.1,
            images: [.init(mimeType: "image/png", bytes: 3, inline: true)])
        let reply = try ToolReply.execution(
            RunSnapshot(report: report, inlineImages: [InlineImage(mimeType: "image/png", base64: "AAEC")]))
        #expect(reply.content.count == 2)
        #expect(reply.content.last == ToolResult.image(base64: "AAEC", mimeType: "image/png"))
        #expect(reply.content.last?["type"]?.stringValue == "image")
        #expect(reply.content.last?["mimeType"]?.stringValue == "image/png")
    }

    @Test func aPageSaysWhereItIsAndHowToGoOn() throws {
        let page = OutputPage(
            runID: "r3", running: false, offset: 10,
            lines: [.init(number: 11, text: "a"), .init(number: 12, text: "b")],
            totalLines: 1500, nextOffset: 12, path: "/tmp/r3.txt")
        let text = try ToolReply.output(page).text
        #expect(
            text
                == "run r3: 1,500 lines; showing 11–12; next page: python_output(run_id: \"r3\", offset: 12)\n11: a\n12: b"
        )
    }
}
