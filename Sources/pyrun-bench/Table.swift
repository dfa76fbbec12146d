import Foundation

/// Renders a report as Markdown: the machine on top, then one table, then the profile steps.
enum Table {
    static func render(_ report: Report) -> String {
        let machine = report.machine
        var lines: [String] = []
        lines.append("pyrun-bench (\(machine.mode)), \(machine.date)")
        lines.append("")
        lines.append("- machine: \(machine.system); \(machine.cpu); \(machine.cores) cores")
        lines.append("- load average (1/5/15 min): \(machine.loadAtStart) at start, \(machine.loadAtEnd) at end")
        lines.append("- Python: \(machine.python) (\(machine.pythonExecutable))")
        lines.append("- Jupyter: \(machine.jupyter)")
        lines.append("- code: \(machine.code)")
        lines.append("- command: `\(machine.command)`")
        lines.append("")
        lines.append(
            "Medians, with (min–max) and the number of runs; lower is better everywhere. ×floor and ×Jupyter are pyrun's median divided by theirs."
        )
        lines.append("")
        lines.append("| # | figure | pyrun | floor | ×floor | Jupyter | ×Jupyter | target | note |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for figure in report.figures {
            var floorText = "—"
            if let floor = figure.floor {
                floorText = format(floor, figure.unit)
                if let floorName = figure.floorName { floorText += " — " + floorName }
            }
            let pyrunText: String = figure.pyrun.map { format($0, figure.unit) } ?? "not measured"
            let jupyterText: String = figure.jupyter.map { format($0, figure.unit) } ?? "not measured"
            let floorRatio: String = figure.ratioToFloor.map(ratio) ?? "—"
            let jupyterRatio: String = figure.ratioToJupyter.map(ratio) ?? "—"
            let cells: [String] = [
                String(figure.section), figure.name, pyrunText, floorText, floorRatio, jupyterText, jupyterRatio,
                targetText(figure), figure.note ?? "",
            ]
            let escaped: [String] = cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }
            lines.append("| " + escaped.joined(separator: " | ") + " |")
        }
        if !report.profile.isEmpty {
            lines.append("")
            lines.append("Where the time goes (each step adds one layer to the one above it; same run):")
            lines.append("")
            lines.append("| figure | path | median (min–max) |")
            lines.append("|---|---|---|")
            for step in report.profile {
                lines.append("| \(step.figure) | \(step.step) | \(format(step.summary, .seconds)) |")
            }
        }
        if !report.failures.isEmpty {
            lines.append("")
            lines.append("Failures:")
            for failure in report.failures { lines.append("- \(failure)") }
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ summary: Summary, _ unit: FigureUnit) -> String {
        let spread =
            summary.runs > 1 ? " (\(value(summary.min, unit))–\(value(summary.max, unit)), n=\(summary.runs))" : ""
        return value(summary.median, unit) + spread
    }

    static func value(_ number: Double, _ unit: FigureUnit) -> String {
        switch unit {
        case .bytes:
            return String(format: "%.1f MiB", number / 1_048_576)
        case .seconds:
            if number >= 1 { return String(format: "%.2f s", number) }
            let milliseconds = number * 1000
            if milliseconds >= 100 { return String(format: "%.0f ms", milliseconds) }
            if milliseconds >= 10 { return String(format: "%.1f ms", milliseconds) }
            if milliseconds >= 1 { return String(format: "%.2f ms", milliseconds) }
            return String(format: "%.3f ms", milliseconds)
        }
    }

    static func ratio(_ number: Double) -> String {
        number >= 10 ? String(format: "%.0f×", number) : String(format: "%.2f×", number)
    }

    static func targetText(_ figure: Figure) -> String {
        let verdict: String
        switch figure.meetsTarget {
        case true?: verdict = " ✅ met"
        case false?: verdict = " ❌ missed"
        case nil: verdict = ""
        }
        if let target = figure.target { return "≤ \(value(target, figure.unit))\(verdict)" }
        if let ratio = figure.targetRatioToFloor { return "≤ \(String(format: "%g", ratio))× floor\(verdict)" }
        return "—"
    }
}
