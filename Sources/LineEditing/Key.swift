/// One key press as the editor understands it, decoded from the bytes a terminal sends.
public enum Key: Hashable, Sendable {
    /// Printable text: one character typed, or a run of them pasted.
    case text(String)
    case enter
    case tab
    case backspace
    case delete
    case left
    case right
    case up
    case down
    case home
    case end
    /// Alt-b, or Ctrl/Alt with the left arrow.
    case wordLeft
    /// Alt-f, or Ctrl/Alt with the right arrow.
    case wordRight
    /// Alt-Backspace.
    case deleteWordBackward
    /// Alt-d.
    case deleteWordForward
    /// Control and a letter (or one of `@ \ ] ^ _`) that has no key of its own above,
    /// named by the lower-case letter: Ctrl-A is `.control("a")`.
    case control(Character)
    /// A sequence the editor does not bind (function keys, Insert, Page Up, Alt-letters).
    case unknown
}
