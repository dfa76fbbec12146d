import Foundation

/// The bench's handle on `scripts/jupyter_bench_driver.py`, run by a Python that has
/// jupyter_client and ipykernel. Each request is answered with timings taken in the driver.
final class JupyterDriver {
    private let process: PipedProcess
    /// "Python 3.11.7, jupyter_client 8.x, ipykernel 7.x".
    private(set) var versions = ""

    /// The driver script, found next to this source file: the bench runs from the repository.
    static var scriptPath: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/jupyter_bench_driver.py").path
    }

    init(python: String) throws {
        let script = Self.scriptPath
        guard FileManager.default.fileExists(atPath: script) else {
            throw PeerError("the Jupyter driver is not at \(script)")
        }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PeerError("no Python at \(python) (make one with scripts/bench-setup-jupyter)")
        }
        process = try PipedProcess(executable: python, arguments: ["-u", script])
        let hello = try request(["op": "hello"])
        versions =
            "ipykernel \(hello["ipykernel"] ?? "?"), jupyter_client \(hello["jupyter_client"] ?? "?"), Python \(hello["python"] ?? "?") (\(python))"
    }

    /// Sends one request and returns its answer.
    /// - Throws: `PeerError` when the driver reports an error or stops.
    @discardableResult
    func request(_ fields: [String: Any]) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: fields)
        try process.writeLine(String(decoding: data, as: UTF8.self))
        let line = try process.readLine()
        guard let answer = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            throw PeerError("the Jupyter driver answered: \(String(decoding: line.prefix(300), as: UTF8.self))")
        }
        guard answer["ok"] as? Bool == true else {
            throw PeerError("Jupyter \(fields["op"] ?? "?"): \(answer["error"] ?? "failed")")
        }
        return answer
    }

    /// The `seconds` list of an answer.
    func seconds(_ fields: [String: Any]) throws -> [Double] {
        let answer = try request(fields)
        return (answer["seconds"] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
    }

    func close() {
        process.closeInput()
        process.waitForExit()
    }
}
