/// Candidates laid out in columns that fit the terminal, filled down then across as `ls`
/// does; a long list is cut with a line that says how many were left out.
enum CompletionList {
    /// The most candidates shown; past this many, a list is more noise than help.
    static let shownAtMost = 100

    /// The rows to print, without line breaks.
    static func rows(for candidates: [String], width: Int) -> [String] {
        let shown = Array(candidates.prefix(shownAtMost))
        guard !shown.isEmpty else { return [] }
        let gap = 2
        let columnWidth = (shown.map(\.terminalColumns).max() ?? 0) + gap
        let columns = max(1, (max(width, 1) + gap) / columnWidth)
        let rowCount = (shown.count + columns - 1) / columns
        var rows: [String] = []
        for row in 0..<rowCount {
            var line = ""
            for column in 0..<columns {
                let index = column * rowCount + row
                guard index < shown.count else { break }
                let candidate = shown[index]
                let isLastInRow = index + rowCount >= shown.count || column == columns - 1
                line += candidate
                if !isLastInRow { line += String(repeating: " ", count: columnWidth - candidate.terminalColumns) }
            }
            rows.append(line)
        }
        if candidates.count > shown.count {
            rows.append("(\(candidates.count - shown.count) more not shown)")
        }
        return rows
    }
}
