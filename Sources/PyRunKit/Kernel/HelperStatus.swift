/// What a prelude helper reported doing (`read`, `grep`, `sh`, …): a `display` whose bundle
/// has `application/vnd.pyrun.status+json`, `{"op": "read", "path": "a.py", …}`. A host can
/// render it as progress and need not show it to a model.
///
/// Statuses arrive as ordinary `.display` events (the event stream has no case of its own for
/// them); `ExecutionEvent.helperStatus`, `DisplayOutput.helperStatus` and
/// `ExecutionResult.statuses` decode them.
public struct HelperStatus: Sendable, Hashable, CustomStringConvertible {
    /// The MIME type a status display carries its payload under.
    public static let mimeType = "application/vnd.pyrun.status+json"

    /// The helper's operation: `read`, `write`, `grep`, `sh`, …
    public var op: String
    /// Every field of the payload, `op` included (`path`, `lines`, `matches`, `code`, …).
    public var fields: [String: JSONValue]
    /// The one line for people the helper sent with it (`text/plain`).
    public var text: String

    /// Decodes the status in `bundle`; nil when the bundle is not a status display.
    public init?(_ bundle: MIMEBundle) {
        guard let payload = bundle[Self.mimeType]?.objectValue, let op = payload["op"]?.stringValue else {
            return nil
        }
        self.op = op
        self.fields = payload
        self.text = bundle.plainText ?? op
    }

    /// The payload's field named `key`.
    public subscript(key: String) -> JSONValue? { fields[key] }

    /// The path the helper worked on, for those that have one.
    public var path: String? { fields["path"]?.stringValue }

    public var description: String { text }
}

extension ExecutionEvent {
    /// The helper status this event carries, when it is a status display.
    public var helperStatus: HelperStatus? {
        guard case .display(let bundle, _) = self else { return nil }
        return HelperStatus(bundle)
    }
}

extension DisplayOutput {
    /// The helper status this display carries, if it is one.
    public var helperStatus: HelperStatus? { HelperStatus(bundle) }
}

extension ExecutionResult {
    /// The statuses the prelude's helpers reported, in order (decoded from `displays`).
    public var statuses: [HelperStatus] { displays.compactMap(\.helperStatus) }
}
