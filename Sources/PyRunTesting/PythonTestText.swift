import PyRunKit

/// A `PythonTestRun` as text, the way test runners people know print it: a line per file
/// with a character per test as each file finishes, then every failure in detail, then one
/// closing line, `12 passed, 1 failed, 2 skipped in 0.84 s`.
public enum PythonTestText {
    /// Width of the separator lines.
    static let width = 80

    /// The line of a finished unit: its name and a character per test (`.` passed,
    /// `F` failed, `E` error, `s` skipped, `T` timed out, `!` interrupted); nil for a unit
    /// that had nothing to run.
    public static func progressLine(_ report: PythonTestFileReport) -> String? {
        if report.collectionError != nil { return "\(report.unit) E" }
        if let reason = report.skipReason { return "\(report.unit) s (skipped: \(reason))" }
        guard !report.records.isEmpty else { return nil }
        return "\(report.unit) " + String(report.records.map(letter))
    }

    private static func letter(_ record: PythonTestRecord) -> Character {
        switch record.outcome {
        case .passed: "."
        case .failed: "F"
        case .error: "E"
        case .skipped: "s"
        case .timedOut: "T"
        case .interrupted: "!"
        }
    }

    /// Everything after the progress lines: failures and errors in detail, then the closing
    /// line.
    public static func summary(_ result: PythonTestRunResult) -> String {
        var lines: [String] = []
        let failures = result.reports.flatMap { report in
            report.records.filter { [.failed, .timedOut, .interrupted].contains($0.outcome) }.map { (report.unit, $0) }
        }
        if !failures.isEmpty {
            lines += ["", banner("FAILURES", "=")]
            for (unit, record) in failures { lines += detail(record, heading: shownID(record, in: unit)) }
        }
        let collectionErrors = result.reports.filter { $0.collectionError != nil }
        let testErrors = result.reports.flatMap { report in
            report.records.filter { $0.outcome == .error }.map { (report.unit, $0) }
        }
        if !collectionErrors.isEmpty || !testErrors.isEmpty {
            lines += ["", banner("ERRORS", "=")]
            for report in collectionErrors {
                guard let error = report.collectionError else { continue }
                lines.append(banner("ERROR collecting \(report.unit)", "_"))
                lines += error.traceback.isEmpty ? ["\(error.exceptionName): \(error.message)"] : error.traceback
            }
            for (unit, record) in testErrors {
                lines += detail(record, heading: "ERROR at \(shownID(record, in: unit))")
            }
        }
        if result.interrupted { lines += ["", banner("interrupted: the run was stopped", "!")] }
        lines += ["", banner(closingLine(result), "=")]
        return lines.joined(separator: "\n")
    }

    /// `N passed, N failed` (and `, N skipped`, `, N errors`, `, N deselected` when there
    /// were some) `in T s`; `no tests ran in T s` when none did.
    public static func closingLine(_ result: PythonTestRunResult) -> String {
        let counts = result.counts
        var parts: [String] = []
        if counts.total > 0 {
            parts.append("\(counts.passed) passed")
            let timedOut = counts.timedOut > 0 ? " (\(counts.timedOut) timed out)" : ""
            parts.append("\(counts.failed + counts.timedOut) failed\(timedOut)")
        }
        if counts.skipped > 0 { parts.append("\(counts.skipped) skipped") }
        if counts.errors > 0 { parts.append("\(counts.errors) error\(counts.errors == 1 ? "" : "s")") }
        if counts.interrupted > 0 { parts.append("\(counts.interrupted) interrupted") }
        if counts.deselected > 0 { parts.append("\(counts.deselected) deselected") }
        let time = "in \(result.duration.secondsText)"
        return parts.isEmpty ? "no tests ran \(time)" : "\(parts.joined(separator: ", ")) \(time)"
    }

    /// A test's id with its file as the progress lines show it (`tests/test_a.py::test_x`).
    static func shownID(_ record: PythonTestRecord, in unit: PythonTestUnit) -> String {
        guard case .file(let path) = unit, record.id.hasPrefix(path + "::") else { return record.id }
        return "\(unit)" + record.id.dropFirst(path.count)
    }

    private static func detail(_ record: PythonTestRecord, heading: String) -> [String] {
        var lines = [banner(heading, "_")]
        if record.outcome == .timedOut || record.traceback.isEmpty, let message = record.message {
            lines.append(message)
        }
        lines += record.traceback
        for (name, text) in [("stdout", record.stdout), ("stderr", record.stderr)] where !text.isEmpty {
            lines.append(banner("captured \(name)", "-"))
            lines.append(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        }
        return lines
    }

    /// `___ title ___`, centred in `width` columns.
    static func banner(_ title: String, _ fill: Character) -> String {
        let text = " \(title) "
        let side = max(3, (width - text.count) / 2)
        let line = String(repeating: fill, count: side) + text + String(repeating: fill, count: side)
        return line.count < width && text.count + 2 * side < width ? line + String(fill) : line
    }
}
