/// Turns the bytes a terminal sends in raw mode into keys. Bytes arrive in arbitrary chunks,
/// so a UTF-8 character or an escape sequence cut at the end of one chunk waits for the next.
public struct KeyDecoder: Sendable {
    private var pending: [UInt8] = []

    /// The longest escape sequence worth waiting for; a longer unfinished one is dropped.
    private static let longestSequence = 32
    private static let escape: UInt8 = 0x1B

    public init() {}

    /// Adds bytes read from the terminal.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        pending.append(contentsOf: bytes)
    }

    /// The next complete key, or nil when the bytes so far do not finish one.
    public mutating func nextKey() -> Key? {
        guard let first = pending.first else { return nil }
        let decoded: (key: Key, length: Int)?
        switch first {
        case Self.escape: decoded = decodeEscape()
        case 0x0D, 0x0A: decoded = (.enter, 1)
        case 0x09: decoded = (.tab, 1)
        case 0x7F, 0x08: decoded = (.backspace, 1)
        case 0x00..<0x20: decoded = (.control(Self.controlLetter(first)), 1)
        default: decoded = decodeText()
        }
        guard let decoded else { return nil }
        pending.removeFirst(decoded.length)
        return decoded.key
    }

    /// Bytes received but not yet decoded, handed back (and forgotten) when the editor stops
    /// reading, so whoever reads next sees them.
    public mutating func takeUndecoded() -> [UInt8] {
        defer { pending.removeAll() }
        return pending
    }

    /// Ctrl-A is byte 1: a letter is the byte plus 0x60; the others (`@` for 0, `\\`, `]`,
    /// `^`, `_` for 0x1C–0x1F) are the byte plus 0x40.
    private static func controlLetter(_ byte: UInt8) -> Character {
        let isLetter = (0x01...0x1A).contains(byte)
        let scalar = Unicode.Scalar(isLetter ? byte + 0x60 : byte + 0x40)
        return Character(scalar)
    }

    /// A run of printable characters, up to the next control byte; a UTF-8 sequence cut at
    /// the end waits.
    private func decodeText() -> (key: Key, length: Int)? {
        var end = pending.firstIndex { $0 < 0x20 || $0 == 0x7F } ?? pending.count
        if end == pending.count { end -= Self.unfinishedUTF8Suffix(pending) }
        guard end > 0 else { return nil }
        return (.text(String(decoding: pending[..<end], as: UTF8.self)), end)
    }

    /// How many bytes at the end of `bytes` start a UTF-8 character that is not complete yet.
    private static func unfinishedUTF8Suffix(_ bytes: [UInt8]) -> Int {
        for back in 1...min(3, bytes.count) {
            let byte = bytes[bytes.count - back]
            if byte & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            let expected: Int
            switch byte {
            case 0xC0...0xDF: expected = 2
            case 0xE0...0xEF: expected = 3
            case 0xF0...0xF7: expected = 4
            default: return 0  // ASCII, or not a lead byte: decoding shows it as U+FFFD
            }
            return expected > back ? back : 0
        }
        return 0
    }

    private func decodeEscape() -> (key: Key, length: Int)? {
        guard pending.count >= 2 else { return nil }
        switch pending[1] {
        case UInt8(ascii: "["): return decodeControlSequence()
        case UInt8(ascii: "O"):
            guard pending.count >= 3 else { return nil }
            return (Self.cursorKey(final: pending[2], parameters: []) ?? .unknown, 3)
        case UInt8(ascii: "b"), UInt8(ascii: "B"): return (.wordLeft, 2)
        case UInt8(ascii: "f"), UInt8(ascii: "F"): return (.wordRight, 2)
        case UInt8(ascii: "d"), UInt8(ascii: "D"): return (.deleteWordForward, 2)
        case 0x7F, 0x08: return (.deleteWordBackward, 2)
        case Self.escape: return (.unknown, 1)
        default: return (.unknown, 2)
        }
    }

    /// `ESC [ parameters final`: parameters are bytes 0x30–0x3F (digits and `;`), then
    /// intermediates 0x20–0x2F, then one final byte 0x40–0x7E.
    private func decodeControlSequence() -> (key: Key, length: Int)? {
        guard let finalIndex = pending.indices.dropFirst(2).first(where: { (0x40...0x7E).contains(pending[$0]) }) else {
            if pending.count > Self.longestSequence { return (.unknown, pending.count) }
            return nil
        }
        let parameters = String(decoding: pending[2..<finalIndex], as: UTF8.self)
            .split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        let final = pending[finalIndex]
        let key: Key
        if final == UInt8(ascii: "~") {
            switch parameters.first {
            case 1, 7: key = .home
            case 4, 8: key = .end
            case 3: key = .delete
            default: key = .unknown
            }
        } else {
            key = Self.cursorKey(final: final, parameters: parameters) ?? .unknown
        }
        return (key, finalIndex + 1)
    }

    /// Arrows, Home and End; with a Ctrl (5) or Alt (3) modifier the horizontal arrows move
    /// by words, as in most shells.
    private static func cursorKey(final: UInt8, parameters: [Int]) -> Key? {
        let modifier = parameters.count >= 2 ? parameters[1] : 1
        let byWord = modifier == 3 || modifier == 5
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return byWord ? .wordRight : .right
        case UInt8(ascii: "D"): return byWord ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        default: return nil
        }
    }
}
