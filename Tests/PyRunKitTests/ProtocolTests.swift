import Testing

@testable import PyRunKit

@Suite struct ProtocolTests {
    // MARK: JSON

    @Test func intValueIsExactUpToTwoToThe53EitherSide() {
        #expect(JSONValue.number(9_007_199_254_740_992).intValue == 9_007_199_254_740_992)
        #expect(JSONValue.number(-9_007_199_254_740_992).intValue == -9_007_199_254_740_992)
        #expect(JSONValue.number(18_014_398_509_481_984).intValue == nil)
        #expect(JSONValue.number(2.5).intValue == nil)
        #expect(JSONValue.string("3").intValue == nil)
    }

    @Test func parsesStrictJSONWithEscapesAndSurrogatePairs() throws {
        let value = try JSONValue.parse(Array(#"{"a":[1,-2.5e3,true,false,null],"s":"x\n\"\u00e9\ud83d\ude00"}"#.utf8))
        #expect(value["a"] == .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        #expect(value["s"]?.stringValue == "x\n\"é😀")
    }

    @Test func rejectsNaNTrailingGarbageAndRawControlCharacters() {
        for bad in [#"{"a":NaN}"#, #"{"a":1} x"#, "{\"a\":\"\u{01}\"}", #"{"a":01}"#, #"{"a":"#, "Infinity"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }

    @Test func loneSurrogateBecomesReplacementCharacter() throws {
        let value = try JSONValue.parse(Array(#""a\ud800b""#.utf8))
        #expect(value.stringValue == "a\u{FFFD}b")
    }

    @Test func serializationRoundTripsAndStaysOnOneLine() throws {
        let original = JSONValue.object([
            "text": .string("line1\nline2\t\"q\" \\ \u{7} é 😀"), "n": .number(3), "f": .number(0.5),
            "list": .array([.null, .bool(true)]),
        ])
        let line = original.serialized()
        #expect(!line.contains("\n"))
        #expect(try JSONValue.parse(Array(line.utf8)) == original)
    }

    // MARK: Frames

    @Test func decodesKnownFrames() throws {
        let done = try Frame.decode(
            line: Array(
                #"{"type":"done","id":"e1","status":"error","executionCount":4,"cancelled":true,"durationMs":1.5,"cpuMs":1,"peakRssBytes":10,"droppedBytes":7}"#
                    .utf8))
        guard case .done(let id, let report) = done else {
            Issue.record("not a done frame: \(done)")
            return
        }
        #expect(id == "e1")
        #expect(report.ok == false && report.cancelled && report.executionCount == 4 && report.droppedBytes == 7)

        let output = try Frame.decode(line: Array(#"{"type":"stderr","id":"e2","data":"oops"}"#.utf8))
        #expect(output == .output(id: "e2", stream: .stderr, text: "oops"))
    }

    @Test func unknownFrameTypesAreKeptNotRejected() throws {
        let frame = try Frame.decode(line: Array(#"{"type":"progress","id":"e1","percent":50}"#.utf8))
        guard case .unknown(let raw) = frame else {
            Issue.record("expected unknown, got \(frame)")
            return
        }
        #expect(raw["percent"]?.intValue == 50)
    }

    @Test func aFrameThatIsNotAnObjectIsAnError() {
        #expect(throws: JSONParseError.self) { try Frame.decode(line: Array("[1,2]".utf8)) }
        #expect(throws: JSONParseError.self) { try Frame.decode(line: Array("not json".utf8)) }
    }

    @Test func helloCarriesEachPreludeFailureWithItsFileAndLine() throws {
        let line =
            #"{"type":"hello","protocol":1,"pid":7,"python":"3.12.1","executable":"/p","cwd":"/w","preludeErrors":[{"file":"/t/a.py","line":5,"ename":"ValueError","evalue":"bad","traceback":["tb"]},{"file":null,"line":null,"ename":"ValueError","evalue":"PYRUN_PRELUDE: not a list","traceback":[]}],"preludeError":{"file":"/t/a.py","line":5,"ename":"ValueError","evalue":"bad","traceback":["tb"]}}"#
        guard case .hello(let hello) = try Frame.decode(line: Array(line.utf8)) else {
            Issue.record("not a hello")
            return
        }
        #expect(hello.preludeFailures.map(\.file) == ["/t/a.py", nil])
        #expect(hello.preludeFailures.first?.line == 5)
        #expect(hello.preludeError == PythonError(name: "ValueError", value: "bad", traceback: ["tb"]))
        #expect(hello.preludeFailures.first?.description == "the prelude /t/a.py raised at line 5: ValueError: bad")

        // A runner from before prelude lists sends preludeError alone.
        let old =
            #"{"type":"hello","protocol":1,"pid":7,"python":"3.12.1","executable":"/p","cwd":"/w","preludeError":{"ename":"KeyError","evalue":"'x'","traceback":[]}}"#
        guard case .hello(let oldHello) = try Frame.decode(line: Array(old.utf8)) else {
            Issue.record("not a hello")
            return
        }
        #expect(
            oldHello.preludeFailures == [
                PreludeFailure(file: nil, line: nil, error: PythonError(name: "KeyError", value: "'x'", traceback: []))
            ])
    }

    @Test func aStatusDisplayDecodesIntoAHelperStatus() {
        let bundle = MIMEBundle([
            HelperStatus.mimeType: .object(["op": .string("read"), "path": .string("a.txt"), "lines": .number(2)]),
            "text/plain": .string("read a.txt: lines 1-2 of 2"),
        ])
        let status = HelperStatus(bundle)
        #expect(status?.op == "read")
        #expect(status?.path == "a.txt")
        #expect(status?["lines"]?.intValue == 2)
        #expect(status?.text == "read a.txt: lines 1-2 of 2")
        #expect(ExecutionEvent.display(bundle, metadata: nil).helperStatus == status)
        #expect(ExecutionEvent.stdout("x").helperStatus == nil)
        // A payload that is text (a runner before +json values) or has no op is no status.
        #expect(HelperStatus(MIMEBundle([HelperStatus.mimeType: .string("{'op': 'read'}")])) == nil)
        #expect(HelperStatus(MIMEBundle([HelperStatus.mimeType: .object(["path": .string("a")])])) == nil)
        #expect(HelperStatus(MIMEBundle(["text/plain": .string("x")])) == nil)
    }

    @Test func everyFrameEncodesToTheLineItIsDecodedFrom() throws {
        let error = PythonError(name: "ValueError", value: "bad", traceback: ["line 1", "ValueError: bad"])
        let frames: [Frame] = [
            .hello(
                KernelHello(
                    protocolVersion: 1, pid: 42, pythonVersion: "3.12.1", executable: "/usr/bin/python3",
                    workingDirectory: "/w",
                    preludeFailures: [
                        PreludeFailure(file: "/p/tools.py", line: 5, error: error),
                        PreludeFailure(file: nil, line: nil, error: error),
                    ],
                    limitsIgnored: ["cpuSeconds"],
                    hostFunctionsError: "host function 'a' is declared twice; the first is kept")),
            .started(id: "e1", executionCount: 3),
            .output(id: "e1", stream: .stdout, text: "out\n"),
            .output(id: "e1", stream: .stderr, text: "err\u{0}é😀"),
            .display(id: "e1", bundle: MIMEBundle(["text/plain": .string("x")]), metadata: .object(["w": .number(2)])),
            .display(id: "e1", bundle: MIMEBundle(["text/plain": .string("y")]), metadata: nil),
            .result(id: "e1", bundle: MIMEBundle(["text/plain": .string("42")]), executionCount: 3),
            .error(id: "e1", error),
            .inputRequest(id: "e1", prompt: "name? ", password: true),
            .done(
                id: "e1",
                DoneReport(
                    ok: false, executionCount: 3, cancelled: true, durationMs: 1.5, cpuMs: 0.25, peakRssBytes: 1000,
                    droppedBytes: 7)),
            .completeReply(id: "q1", CompletionResult(matches: ["alpha", "beta"], cursorStart: 1, cursorEnd: 3)),
            .isCompleteReply(id: "q2", .incomplete(indent: "    ")),
            .isCompleteReply(id: "q3", .invalid),
            .infoReply(
                id: "q4",
                RunnerInfo(
                    protocolVersion: 1, pid: 42, pythonVersion: "3.12.1", executable: "/p", workingDirectory: "/w",
                    executionCount: 9,
                    busy: true)),
            .errorReply(id: nil, message: "execute needs a string id"),
            .errorReply(id: "q5", message: "unknown request type x"),
            .selfSignal(id: "e1", signal: 9),
            .selfSignal(id: nil, signal: 6),
            .call(id: "e1", callID: "c1", name: "read", arguments: .object(["path": .string("a.py")])),
            .callCancel(id: "e1", callID: "c1"),
            .unknown(.object(["type": .string("progress"), "id": .string("e1"), "percent": .number(50)])),
        ]
        for frame in frames {
            let line = frame.encodedLine()
            #expect(line.last == 0x0A)
            #expect(try Frame.decode(line: Array(line.dropLast())) == frame, "\(frame)")
        }
    }

    @Test func selfSignalFramesAreDecodedWithOrWithoutAnID() throws {
        #expect(
            try Frame.decode(line: Array(#"{"type":"self_signal","id":"e3","signal":9}"#.utf8))
                == .selfSignal(id: "e3", signal: 9))
        #expect(
            try Frame.decode(line: Array(#"{"type":"self_signal","id":null,"signal":6}"#.utf8))
                == .selfSignal(id: nil, signal: 6))
        // Without a signal number it is not a frame this host knows: kept whole.
        guard case .unknown = try Frame.decode(line: Array(#"{"type":"self_signal","id":"e3"}"#.utf8)) else {
            Issue.record("a self_signal without a signal was decoded")
            return
        }
    }

    @Test func executeRequestCarriesOnlyNonDefaultFlags() throws {
        let line = Request.execute(id: "e1", code: "1+1", options: .init(silent: true, maxOutputBytes: 10))
            .encodedLine()
        #expect(line.last == 0x0A)
        let json = try JSONValue.parse(Array(line.dropLast()))
        #expect(json["type"]?.stringValue == "execute")
        #expect(json["silent"]?.boolValue == true)
        #expect(json["storeHistory"] == nil)  // defaults to !silent on the runner side
        #expect(json["maxOutputBytes"]?.intValue == 10)
        #expect(json["allowStdin"] == nil)
    }

    @Test func callFramesAndRepliesUseTheWireNames() throws {
        #expect(
            try Frame.decode(
                line: Array(#"{"type":"call","id":"e2","callId":"c7","name":"read","args":{"path":"a.py"}}"#.utf8))
                == .call(id: "e2", callID: "c7", name: "read", arguments: .object(["path": .string("a.py")])))
        #expect(
            try Frame.decode(line: Array(#"{"type":"call_cancel","id":"e2","callId":"c7"}"#.utf8))
                == .callCancel(id: "e2", callID: "c7"))
        let value = Request.callReply(callID: "c7", answer: .success(.array([.number(1)]))).json
        #expect(
            value == .object(["type": .string("call_reply"), "callId": .string("c7"), "value": .array([.number(1)])]))
        let failure = Request.callReply(callID: "c7", answer: .failure(HostCallError(type: "Timeout", message: "slow")))
            .json
        #expect(
            failure
                == .object([
                    "type": .string("call_reply"), "callId": .string("c7"),
                    "error": .object(["type": .string("Timeout"), "message": .string("slow")]),
                ]))
    }

    // MARK: Lines

    @Test func lineBufferJoinsPartialLinesAcrossChunks() {
        var buffer = LineBuffer()
        func feed(_ text: String) -> [String] {
            Array(text.utf8).withUnsafeBytes { buffer.append($0) }.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(feed("ab") == [])
        #expect(feed("c\nde") == ["abc"])
        #expect(feed("\n\nf") == ["de", ""])
        #expect(String(decoding: buffer.remainder, as: UTF8.self) == "f")
    }

    @Test func lineBufferHandlesAHugeLineInManyChunks() {
        var buffer = LineBuffer()
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
        for _ in 0..<100 {
            #expect(chunk.withUnsafeBytes { buffer.append($0) }.isEmpty)
        }
        let lines = [UInt8(0x0A)].withUnsafeBytes { buffer.append($0) }
        #expect(lines.count == 1)
        #expect(lines.first?.count == 6_553_600)
    }
}
