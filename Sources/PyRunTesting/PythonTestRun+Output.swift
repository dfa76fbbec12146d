import Foundation
import PyRunKit

extension PythonTestFileReport {
    /// NDJSON lines for this unit, for agents and scripts: one `{"type":"test",…}` per test,
    /// or one `{"type":"collectionError",…}` / `{"type":"fileSkipped",…}`.
    public var jsonLines: [JSONValue] {
        let file = JSONValue.string(unit.description)
        if let error = collectionError {
            return [
                .object([
                    "type": .string("collectionError"), "file": file, "ename": .string(error.exceptionName),
                    "evalue": .string(error.message), "line": error.line.map { .number(Double($0)) } ?? .null,
                    "traceback": .array(error.traceback.map(JSONValue.string)),
                ])
            ]
        }
        if let reason = skipReason {
            return [.object(["type": .string("fileSkipped"), "file": file, "reason": .string(reason)])]
        }
        return records.map { record in
            var object = record.json.objectValue ?? [:]
            object["type"] = .string("test")
            object["file"] = file
            return .object(object)
        }
    }
}

extension PythonTestRecord {
    /// `{"id", "name", "class", "line", "outcome", "durationMs", "ename", "message",
    /// "traceback", "assertion", "stdout", "stderr"}`.
    public var json: JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        var assertionJSON = JSONValue.null
        if let assertion {
            assertionJSON = .object([
                "source": .string(assertion.source), "evaluated": optional(assertion.evaluated),
                "values": .array(assertion.values.map { .array([.string($0.source), .string($0.value)]) }),
                "details": .array(assertion.details.map(JSONValue.string)), "message": optional(assertion.message),
            ])
        }
        return .object([
            "id": .string(id), "name": .string(name), "class": optional(className),
            "line": line.map { .number(Double($0)) } ?? .null, "outcome": .string(outcome.rawValue),
            "durationMs": .number((duration.seconds * 1_000_000).rounded() / 1000), "ename": optional(exceptionName),
            "message": optional(message), "traceback": .array(traceback.map(JSONValue.string)),
            "assertion": assertionJSON, "stdout": .string(stdout), "stderr": .string(stderr),
        ])
    }
}

extension PythonTestRunResult {
    /// The last NDJSON line: `{"type":"summary", "passed", "failed", "skipped", "errors",
    /// "timedOut", "interrupted", "deselected", "durationMs", "exitCode", "usageError"}`.
    /// `failed` counts the timed-out tests too, as the closing line and JUnit's `failures` do;
    /// `timedOut` says how many of them timed out.
    public var summaryJSON: JSONValue {
        let counts = self.counts
        return .object([
            "type": .string("summary"), "passed": .number(Double(counts.passed)),
            "failed": .number(Double(counts.failed + counts.timedOut)), "skipped": .number(Double(counts.skipped)),
            "errors": .number(Double(counts.errors)), "timedOut": .number(Double(counts.timedOut)),
            "interrupted": .number(Double(counts.interrupted)), "deselected": .number(Double(counts.deselected)),
            "durationMs": .number((duration.seconds * 1000).rounded()), "exitCode": .number(Double(exitStatus)),
            "usageError": usageError.map(JSONValue.string) ?? .null,
        ])
    }

    /// The run as JUnit XML (`--junit-xml`), which CI systems read: a `testsuite` per unit,
    /// a `testcase` per test, with `failure`, `error` or `skipped` and the captured output.
    public var junitXML: String {
        var lines = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>"]
        let counts = self.counts
        lines.append(
            "<testsuites name=\"pyrun test\" tests=\"\(counts.total)\" failures=\"\(counts.failed + counts.timedOut)\" errors=\"\(counts.errors)\" skipped=\"\(counts.skipped)\" time=\"\(Self.seconds(duration))\">"
        )
        for report in reports {
            let unitCounts = PythonTestCounts([report])
            let tests = report.collectionError == nil ? report.records.count : 1
            lines.append(
                "  <testsuite name=\"\(Self.escaped(report.unit.description))\" tests=\"\(tests)\" failures=\"\(unitCounts.failed + unitCounts.timedOut)\" errors=\"\(unitCounts.errors)\" skipped=\"\(unitCounts.skipped)\" time=\"\(Self.seconds(report.records.reduce(Duration.zero) { $0 + $1.duration }))\">"
            )
            if let error = report.collectionError {
                lines.append(
                    "    <testcase classname=\"\(Self.escaped(report.unit.description))\" name=\"collection\" time=\"0.000000\">"
                )
                lines.append(
                    "      <error message=\"\(Self.escaped("\(error.exceptionName): \(error.message)"))\">\(Self.escaped(error.traceback.joined(separator: "\n")))</error>"
                )
                lines.append("    </testcase>")
            }
            for record in report.records {
                let className = [report.unit.description, record.className].compactMap { $0 }.joined(separator: ".")
                lines.append(
                    "    <testcase classname=\"\(Self.escaped(className))\" name=\"\(Self.escaped(record.name))\" time=\"\(Self.seconds(record.duration))\">"
                )
                let message = Self.escaped(record.message ?? record.outcome.rawValue)
                let body = Self.escaped(record.traceback.joined(separator: "\n"))
                switch record.outcome {
                case .passed: break
                case .failed, .timedOut, .interrupted:
                    lines.append("      <failure message=\"\(message)\">\(body)</failure>")
                case .error: lines.append("      <error message=\"\(message)\">\(body)</error>")
                case .skipped: lines.append("      <skipped message=\"\(message)\"/>")
                }
                if !record.stdout.isEmpty {
                    lines.append("      <system-out>\(Self.escaped(record.stdout))</system-out>")
                }
                if !record.stderr.isEmpty {
                    lines.append("      <system-err>\(Self.escaped(record.stderr))</system-err>")
                }
                lines.append("    </testcase>")
            }
            lines.append("  </testsuite>")
        }
        lines.append("</testsuites>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Seconds with six decimals: a test of 0.3 ms is not written as 0, and never in the
    /// exponent form (`1e-05`) that JUnit readers refuse.
    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.6f", duration.seconds)
    }

    /// Text safe in XML attributes and content; characters XML 1.0 cannot hold become U+FFFD.
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            case "\r": out += "&#13;"
            default:
                let value = scalar.value
                let allowed = value >= 0x20 && !(0xFFFE...0xFFFF).contains(value)
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }
}
