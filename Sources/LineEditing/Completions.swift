/// What a completion source offers for the text at the cursor: candidates that replace a
/// stretch of the text.
public struct Completions: Hashable, Sendable {
    /// Every candidate, each the whole replacement for `replacing` (e.g. `math.sqrt` for
    /// `math.sq`).
    public var matches: [String]
    /// The stretch of text the candidates replace, as offsets in Unicode scalars.
    public var replacing: Range<Int>

    public init(matches: [String], replacing: Range<Int>) {
        self.matches = matches
        self.replacing = replacing
    }
}

/// What pressing Tab did with the candidates.
public enum CompletionOutcome: Hashable, Sendable {
    /// The text changed: the one candidate, or the longer prefix that all of them share.
    case inserted
    /// Several candidates and nothing more to add: they should be shown.
    case ambiguous([String])
    /// No candidate, or nothing to add to the text.
    case nothing
}

extension Completions {
    /// The longest start (in characters) that every match shares.
    var commonPrefix: String {
        guard var prefix = matches.first.map(Array.init) else { return "" }
        for match in matches.dropFirst() {
            let characters = Array(match)
            var shared = 0
            while shared < min(prefix.count, characters.count), prefix[shared] == characters[shared] { shared += 1 }
            prefix.removeSubrange(shared...)
        }
        return String(prefix)
    }
}
