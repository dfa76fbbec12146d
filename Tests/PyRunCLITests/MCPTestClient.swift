import Foundation
import PyRunKit
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `tools/call` reply, as a client reads it.
struct ToolCallReply {
    /// The whole `result`.
    var result: JSONValue

    var isError: Bool { result["isError"]?.boolValue ?? false }
    var content: [JSONValue] { result["content"]?.arrayValue ?? [] }
    /// The first text content: the summary line and the output.
    var text: String { content.first { $0["type"]?.stringValue == "text" }?["text"]?.stringValue ?? "" }
    var structured: JSONValue { result["structuredContent"] ?? .null }
    var status: String? { structured["status"]?.stringValue }
    var runID: String? { structured["run_id"]?.stringValue }
    var notices: [JSONValue] { structured["notices"]?.arrayValue ?? [] }
}

/// A JSON-RPC client of `pyrun mcp` that speaks the wire format as any MCP client does:
/// one JSON object per line on the server's stdin and stdout. It does not use the MCP SDK,
/// so the tests check what the server really sends.
final class MCPTestClient: Sendable {
    let process: PyrunProcess
    private let nextID = Mutex(100)
    /// How much of stdout was parsed into `received`.
    private let parsed = Mutex<(offset: Int, messages: [JSONValue])>((0, []))

    /// Starts `pyrun mcp arguments` and, unless told otherwise, initializes the session,
    /// declaring `capabilities` (none by default).
    init(
        _ arguments: [String] = [], environment: [String: String] = [:], initialize: Bool = true,
        capabilities: JSONValue = .object([:])
    ) async throws {
        process = try PyrunProcess(["mcp"] + arguments, environment: environment)
        if initialize { _ = try await self.initialize(capabilities: capabilities) }
    }

    var pid: Int32 { process.pid }

    /// `initialize`, then `notifications/initialized`; returns the initialize result.
    func initialize(capabilities: JSONValue = .object([:])) async throws -> JSONValue {
        let result = try await self.result(of: startInitialize(capabilities: capabilities))
        sendInitialized()
        return result
    }

    /// Sends the `initialize` request without waiting for its response; returns its id.
    @discardableResult
    func startInitialize(capabilities: JSONValue = .object([:])) -> Int {
        sendRequest(
            "initialize",
            .object([
                "protocolVersion": .string("2025-06-18"), "capabilities": capabilities,
                "clientInfo": .object(["name": .string("pyrun-tests"), "version": .string("1")]),
            ]))
    }

    /// Sends `notifications/initialized`.
    func sendInitialized() {
        send(.object(["jsonrpc": .string("2.0"), "method": .string("notifications/initialized")]))
    }

    // MARK: - Sending

    /// Writes one message and its newline.
    func send(_ message: JSONValue) {
        process.write(message.serialized() + "\n")
    }

    /// Sends a request and returns its id, without waiting for the response.
    @discardableResult
    func sendRequest(_ method: String, _ params: JSONValue) -> Int {
        let id = nextID.withLock { id in
            id += 1
            return id
        }
        send(
            .object([
                "jsonrpc": .string("2.0"), "id": .number(Double(id)), "method": .string(method), "params": params,
            ]))
        return id
    }

    /// Sends a request and waits for its result.
    /// - Throws: `MCPTestError` for an error response or no response within `seconds`.
    func request(_ method: String, _ params: JSONValue, seconds: Double = 60) async throws -> JSONValue {
        try await result(of: sendRequest(method, params), seconds: seconds)
    }

    /// Sends `tools/call` for `tool` and returns its id.
    @discardableResult
    func startCall(_ tool: String, _ arguments: [String: JSONValue], progressToken: String? = nil) -> Int {
        var params: [String: JSONValue] = ["name": .string(tool), "arguments": .object(arguments)]
        if let progressToken { params["_meta"] = .object(["progressToken": .string(progressToken)]) }
        return sendRequest("tools/call", .object(params))
    }

    /// Calls `tool` and waits for its reply.
    func call(
        _ tool: String, _ arguments: [String: JSONValue], progressToken: String? = nil, seconds: Double = 60
    ) async throws -> ToolCallReply {
        ToolCallReply(
            result: try await result(of: startCall(tool, arguments, progressToken: progressToken), seconds: seconds))
    }

    /// Runs `code` with the `python` tool; `extra` adds arguments (session, timeout_s, …).
    func python(_ code: String, _ extra: [String: JSONValue] = [:], seconds: Double = 60) async throws -> ToolCallReply
    {
        try await call("python", extra.merging(["code": .string(code)]) { _, new in new }, seconds: seconds)
    }

    /// Sends `notifications/cancelled` for a request.
    func cancel(_ id: Int) {
        send(
            .object([
                "jsonrpc": .string("2.0"), "method": .string("notifications/cancelled"),
                "params": .object(["requestId": .number(Double(id)), "reason": .string("the test cancels it")]),
            ]))
    }

    // MARK: - Receiving

    /// Every message the server sent so far, in order.
    var messages: [JSONValue] {
        parsed.withLock { state in
            let bytes = process.stdoutBytes(from: state.offset)
            var start = 0
            while let newline = bytes[start...].firstIndex(of: 0x0A) {
                let line = Array(bytes[start..<newline])
                // A line that is not JSON is kept as a string, so a test can see what broke the stream.
                state.messages.append((try? JSONValue.parse(line)) ?? .string(String(decoding: line, as: UTF8.self)))
                start = newline + 1
            }
            state.offset += start
            return state.messages
        }
    }

    /// The response to request `id`, if it came.
    func response(to id: Int) -> JSONValue? {
        messages.first { $0["id"]?.intValue == id && $0["method"] == nil }
    }

    /// Notifications of `method` sent so far.
    func notifications(_ method: String) -> [JSONValue] {
        messages.filter { $0["method"]?.stringValue == method && $0["id"] == nil }
    }

    /// Waits for the response to `id` and returns its result.
    /// - Throws: `MCPTestError` for an error response or none within `seconds` (a liveness
    ///   bound).
    func result(of id: Int, seconds: Double = 60) async throws -> JSONValue {
        guard await poll(seconds: seconds, { self.response(to: id) != nil }), let response = response(to: id) else {
            throw MCPTestError("no response to request \(id) within \(seconds) s; server stderr:\n\(process.stderr)")
        }
        if let error = response["error"] { throw MCPTestError("request \(id) failed: \(error)") }
        return response["result"] ?? .null
    }

    /// Waits until a message satisfies `condition`; false if none did within `seconds`.
    func waitForMessage(seconds: Double = 30, _ condition: @escaping @Sendable (JSONValue) -> Bool) async -> Bool {
        await poll(seconds: seconds) { self.messages.contains(where: condition) }
    }

    /// The tools the server lists, by name.
    func tools() async throws -> [String: JSONValue] {
        let result = try await request("tools/list", .object([:]))
        var tools: [String: JSONValue] = [:]
        for tool in result["tools"]?.arrayValue ?? [] {
            if let name = tool["name"]?.stringValue { tools[name] = tool }
        }
        return tools
    }

    /// Every process the server started and that still runs (its descendants, found
    /// through /proc), so a test can check they are all gone later.
    var descendantPIDs: [Int32] {
        var found: [Int32] = []
        var frontier = [pid]
        while let parent = frontier.popLast() {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(parent)/task")) ?? []
            for task in tasks {
                let children =
                    (try? String(contentsOfFile: "/proc/\(parent)/task/\(task)/children", encoding: .utf8)) ?? ""
                for child in children.split(separator: " ").compactMap({ Int32($0) }) where !found.contains(child) {
                    found.append(child)
                    frontier.append(child)
                }
            }
        }
        return found
    }
}

/// A failed exchange with the server under test.
struct MCPTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Checks a value against the subset of JSON Schema the server's schemas use (type,
/// properties, required, additionalProperties: false, enum, items) and returns every
/// violation with its path; empty means valid.
func schemaViolations(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
    guard let rules = schema.objectValue else { return ["\(path): schema is not an object"] }
    if let type = rules["type"]?.stringValue, !value.matches(type: type) {
        return ["\(path): expected \(type), got \(value)"]
    }
    var problems: [String] = []
    if let allowed = rules["enum"]?.arrayValue, !allowed.contains(value) {
        problems.append("\(path): \(value) is not one of \(allowed)")
    }
    if let object = value.objectValue {
        let properties = rules["properties"]?.objectValue ?? [:]
        for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
            problems.append("\(path): missing required \(name)")
        }
        for (name, member) in object {
            if let propertySchema = properties[name] {
                problems += schemaViolations(of: member, against: propertySchema, at: "\(path).\(name)")
            } else if rules["additionalProperties"] == .bool(false) {
                problems.append("\(path): unexpected property \(name)")
            }
        }
    }
    if let array = value.arrayValue, let items = rules["items"] {
        for (index, element) in array.enumerated() {
            problems += schemaViolations(of: element, against: items, at: "\(path)[\(index)]")
        }
    }
    return problems
}

extension JSONValue {
    fileprivate func matches(type: String) -> Bool {
        switch (type, self) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number),
            ("null", .null):
            true
        case ("integer", .number(let number)):
            number.rounded() == number
        default:
            false
        }
    }
}
