import Foundation
import PyRunKit

/// Issue 12: a `1+1` `tools/call` through `pyrun mcp` over its stdio, next to the library's
/// own round trip (`PythonKernel.run("1+1")`), the sides taking turns in batches. The ratio
/// says what the server adds: the JSON-RPC decoding and encoding of the MCP SDK, our
/// transport, the run registry and the reply.
enum MCPToolCallScenario {
    static let figureName = "`1+1` `tools/call` through `pyrun mcp`"

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        guard let tool = context.commandLineTool else {
            report.figures.append(
                Figure(
                    section: 9, name: figureName, unit: .seconds, pyrun: nil, floorName: "PythonKernel `run(\"1+1\")`",
                    floor: nil, jupyter: nil, target: 0.001,
                    note:
                        "not measured (pyrun CLI not built: `swift build -c release` builds it next to the bench, or pass `--pyrun PATH`)"
                ))
            return
        }
        let plan = context.plan
        let kernel = try await context.warmKernel()
        let server = try MCPBenchClient(pyrun: tool, python: context.python)
        defer { server.close() }
        try server.initialize()
        for _ in 0..<50 {
            try server.callOnePlusOne()
            try server.ping()
        }

        var samples = SideSamples()
        var pings: [Double] = []
        let batches = max(1, plan.roundTrips / plan.roundTripBatch)
        for _ in 0..<batches {
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try server.callOnePlusOne()
                samples.pyrun.append(stopwatch.seconds)
            }
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try expectTwo(await kernel.run("1+1"))
                samples.floor.append(stopwatch.seconds)
            }
            for _ in 0..<plan.roundTripBatch / 4 {
                let stopwatch = Stopwatch()
                try server.ping()
                pings.append(stopwatch.seconds)
            }
        }
        await kernel.shutdown()
        let ratio = Summary(samples.pyrun).flatMap { mcp in Summary(samples.floor).map { mcp.median / $0.median } }
        report.figures.append(
            Figure(
                section: 9, name: figureName, unit: .seconds, pyrun: Summary(samples.pyrun),
                floorName: "PythonKernel `run(\"1+1\")`", floor: Summary(samples.floor), jupyter: nil, target: 0.001,
                note:
                    "request written → response read by a client on the server's stdio; ×floor = \(ratio.map { String(format: "%.1f", $0) } ?? "—")× the library's round trip"
            ))
        addProfile(&report, figureName, "PythonKernel `run(\"1+1\")` in process", samples.floor)
        addProfile(&report, figureName, "`ping` through `pyrun mcp` (transport + SDK, no kernel)", pings)
        addProfile(&report, figureName, "`tools/call` `python` `1+1` through `pyrun mcp`", samples.pyrun)
    }
}

/// `pyrun mcp` driven over its stdin and stdout by a blocking client, one request at a time.
private final class MCPBenchClient {
    private let process: PipedProcess
    private var nextID = 0

    init(pyrun: String, python: String) throws {
        process = try PipedProcess(executable: pyrun, arguments: ["mcp", "--python", python], silenceErrors: true)
    }

    func initialize() throws {
        _ = try request(
            #""method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"pyrun-bench","version":"1"}}"#
        )
        try process.writeLine(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
    }

    /// One `tools/call`; checks that the reply is ok with the value 2.
    func callOnePlusOne() throws {
        let response = try request(#""method":"tools/call","params":{"name":"python","arguments":{"code":"1+1"}}"#)
        let structured = response["result"]?["structuredContent"]
        guard structured?["status"]?.stringValue == "ok", structured?["result"]?.stringValue == "2" else {
            throw PeerError("pyrun mcp answered 1+1 with \(response)")
        }
    }

    func ping() throws {
        _ = try request(#""method":"ping""#)
    }

    /// Sends `{"jsonrpc":"2.0","id":N,<body>}` and reads lines until the response to N.
    private func request(_ body: String) throws -> JSONValue {
        nextID += 1
        let id = nextID
        try process.writeLine(#"{"jsonrpc":"2.0","id":\#(id),\#(body)}"#)
        var response: JSONValue?
        try process.readLines { line in
            let message = try JSONValue.parse(Array(line))
            guard message["id"]?.intValue == id else { return false }
            response = message
            return true
        }
        guard let response, response["error"] == nil else {
            throw PeerError("pyrun mcp failed request \(id): \(response.map { "\($0)" } ?? "no response")")
        }
        return response
    }

    /// Ends the server's input: it shuts its kernels down and exits.
    func close() {
        process.closeInput()
        process.waitForExit()
    }
}
