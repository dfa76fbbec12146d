import Foundation
import LineEditing
import PyRunKit

extension StandardInput: TerminalInput {}

extension LineEditor {
    /// The application name under which the history is kept.
    static let historyApplication = "pyrun"

    /// The editor for an interactive session, or nil when standard input and output are not
    /// both a terminal (piped input is read line by line, as before). History goes to
    /// `$XDG_STATE_HOME/pyrun/history` (else `~/.local/state/pyrun/history`).
    static func forInteractiveSession(completions: @escaping CompletionSource) -> LineEditor? {
        let environment = ProcessInfo.processInfo.environment
        guard Terminal.standard.supportsEditing(environment: environment) else { return nil }
        let historyFile = HistoryFile.standardPath(application: historyApplication, environment: environment)
            .map { HistoryFile(path: $0) }
        return LineEditor(input: StandardInput.shared, historyStore: historyFile, completions: completions)
    }
}

extension Completions {
    /// The kernel's answer, as the editor takes it.
    init(_ result: CompletionResult) {
        self.init(matches: result.matches, replacing: result.cursorStart..<max(result.cursorStart, result.cursorEnd))
    }
}
