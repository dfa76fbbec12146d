extension Character {
    /// How many columns a terminal gives this character: 2 for East Asian wide and
    /// full-width characters and for emoji shown as pictures, 0 for marks and format
    /// characters that only modify their neighbours, 1 otherwise.
    var terminalColumns: Int {
        guard let first = unicodeScalars.first else { return 0 }
        if first.properties.isEmojiPresentation || unicodeScalars.contains("\u{FE0F}") { return 2 }
        if Self.wideRanges.contains(where: { $0.contains(first.value) }) { return 2 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: return 1
        }
    }

    /// The blocks that Unicode's East Asian Width property marks Wide or Fullwidth (UAX #11),
    /// merged into ranges: Hangul Jamo, CJK punctuation, kana, ideographs, Hangul syllables,
    /// compatibility and full-width forms, and the supplementary ideographic planes.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
        0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x18AFF, 0x1B000...0x1B2FF,
        0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]
}

extension StringProtocol {
    /// The columns the text takes on one terminal row.
    var terminalColumns: Int { reduce(0) { $0 + $1.terminalColumns } }
}
