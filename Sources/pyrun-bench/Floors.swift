import Foundation
import PyRunKit

/// The Python sides of the floors: the least a kernel over a pipe can do.
enum FloorScript {
    /// Reads a JSON request line, writes one JSON line back: the cost of the pipe and of
    /// JSON in Python, with no execution at all.
    static let echoLoop = """
        import json, os, sys
        os.write(1, b'{"type":"hello"}\\n')
        for line in sys.stdin.buffer:
            request = json.loads(line)
            os.write(1, (json.dumps({"type": "done", "id": request["id"]}) + "\\n").encode())
        """

    /// Executes each request's code in one namespace with print going straight to the pipe
    /// (through a 64 KiB buffer flushed before `done`), then writes `done`. No capture, no
    /// framing of output: what a kernel could cost at best. KeyboardInterrupt (SIGINT) ends
    /// the execution, as in a kernel.
    static let execLoop = """
        import json, os, sys
        sys.stdout = open(1, "w", buffering=1 << 16, closefd=False)
        namespace = {"__name__": "__main__"}
        os.write(1, b'{"type":"hello"}\\n')
        for line in sys.stdin.buffer:
            request = json.loads(line)
            ident = request["id"]
            os.write(1, (json.dumps({"type": "started", "id": ident, "executionCount": 1}) + "\\n").encode())
            status = "ok"
            try:
                try:
                    code = compile(request["code"], "<cell>", "eval")
                except SyntaxError:
                    exec(compile(request["code"], "<cell>", "exec"), namespace)
                else:
                    value = eval(code, namespace)
                    if value is not None:
                        os.write(1, (json.dumps({"type": "result", "id": ident, "executionCount": 1,
                                                 "bundle": {"text/plain": repr(value)}}) + "\\n").encode())
            except BaseException:
                status = "error"
            sys.stdout.flush()
            os.write(1, (json.dumps({"type": "done", "id": ident, "status": status, "executionCount": 1,
                                     "cancelled": False, "durationMs": 0, "cpuMs": 0, "peakRssBytes": 0}) + "\\n").encode())
        """
}

/// A Python process the bench drives synchronously over its pipes with JSON requests, and
/// whose JSON lines it decodes with PyRunKit's own frame decoder: the floor loops above, and
/// `runner.py` itself when profiling what PyRunKit adds on top of the runner.
final class DirectPeer {
    let process: PipedProcess
    private var requestCounter = 0

    /// Spawns the peer and, unless told not to, waits for its first line (`hello`).
    init(executable: String, arguments: [String], unsetVariables: [String] = [], waitForHello: Bool = true) throws {
        process = try PipedProcess(executable: executable, arguments: arguments, unsetVariables: unsetVariables)
        if waitForHello { try self.waitForHello() }
    }

    /// Reads the peer's first line, its `hello` (the runner writes an empty line before it,
    /// so that start-up noise cannot merge into it).
    func waitForHello() throws {
        var hello = try process.readLine()
        while hello.isEmpty { hello = try process.readLine() }
        guard hello.first == UInt8(ascii: "{") else {
            throw PeerError("expected hello, got: \(String(decoding: hello.prefix(200), as: UTF8.self))")
        }
    }

    /// A floor loop on `python`.
    static func floor(python: String, script: String, waitForHello: Bool = true) throws -> DirectPeer {
        try DirectPeer(executable: python, arguments: ["-u", "-c", script], waitForHello: waitForHello)
    }

    /// `runner.py` started with the same command line PyRunKit uses (module import, `-u`).
    /// - Parameter cacheBytecode: false starts it with PYTHONDONTWRITEBYTECODE=1, so a runner
    ///   without a cache compiles its source at every start.
    static func runner(python: String, directory: String, cacheBytecode: Bool = true) throws -> DirectPeer {
        let loader = "__import__('sys').path.insert(0,\(pythonStringLiteral(directory)));__import__('runner').main()"
        if cacheBytecode {
            return try DirectPeer(
                executable: python, arguments: ["-u", "-c", loader], unsetVariables: ["PYTHONDONTWRITEBYTECODE"])
        }
        return try DirectPeer(executable: python, arguments: ["-u", "-B", "-c", loader])
    }

    /// Sends `code`, then reads until its `done`; returns how many bytes of output arrived
    /// (raw lines from a floor loop, `stdout` frame text from the runner).
    /// - Parameter whenStarted: called once the peer says it started the code.
    @discardableResult
    func execute(_ code: String, whenStarted: (() throws -> Void)? = nil) throws -> Int {
        requestCounter += 1
        let id = "f\(requestCounter)"
        try process.writeLine("{\"type\":\"execute\",\"id\":\"\(id)\",\"code\":\(jsonStringLiteral(code))}")
        var outputBytes = 0
        var startedSeen = false
        var frameFailure: (any Error)?
        try process.readLines { line in
            guard line.first == UInt8(ascii: "{") else {
                outputBytes += line.count + 1
                return false
            }
            let frame: Frame
            do {
                frame = try Frame.decode(line: Array(line))
            } catch {
                outputBytes += line.count + 1
                return false
            }
            switch frame {
            case .output(_, _, let text):
                outputBytes += text.utf8.count
            case .started(let frameID, _) where frameID == id && !startedSeen:
                startedSeen = true
                do { try whenStarted?() } catch {
                    frameFailure = error
                    return true
                }
            case .done(let frameID, _) where frameID == id:
                return true
            case .unknown(let json) where json["type"]?.stringValue == "done" && json["id"]?.stringValue == id:
                return true
            default:
                break
            }
            return false
        }
        if let frameFailure { throw frameFailure }
        return outputBytes
    }

    /// One JSON echo: request written to reply read.
    func echo() throws {
        requestCounter += 1
        try process.writeLine("{\"type\":\"execute\",\"id\":\"f\(requestCounter)\",\"code\":\"\"}")
        let reply = try process.readLine()
        _ = try Frame.decode(line: reply)
    }

    /// Ends the peer: stdin closed, then the process reaped.
    func close() {
        process.closeInput()
        process.waitForExit()
    }
}

/// `text` as a JSON string literal.
func jsonStringLiteral(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// `text` as a Python string literal (JSON's escapes are valid Python).
func pythonStringLiteral(_ text: String) -> String {
    jsonStringLiteral(text)
}
