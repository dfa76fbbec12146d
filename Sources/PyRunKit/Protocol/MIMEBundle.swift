import Foundation

/// Rich output keyed by MIME type, as `display` and `result` frames carry it.
public struct MIMEBundle: Sendable, Hashable, CustomStringConvertible {
    /// Every representation the runner sent, MIME type → value.
    public var values: [String: JSONValue]

    /// A bundle of the given representations, MIME type → value.
    public init(_ values: [String: JSONValue]) {
        self.values = values
    }

    /// The `text/plain` representation, which every bundle has.
    public var plainText: String? { values["text/plain"]?.stringValue }

    /// The MIME types present, sorted.
    public var mimeTypes: [String] { values.keys.sorted() }

    /// The value for one MIME type.
    public subscript(mimeType: String) -> JSONValue? { values[mimeType] }

    /// "[text/html, text/plain] Card()": the types, then the plain text (shortened).
    public var description: String {
        let text = plainText.map { $0.count > 80 ? String($0.prefix(80)) + "…" : $0 } ?? ""
        return "[\(mimeTypes.joined(separator: ", "))] \(text)"
    }

    /// The decoded bytes of a base64 representation such as `image/png`.
    public func binaryData(for mimeType: String) -> Data? {
        guard let text = values[mimeType]?.stringValue else { return nil }
        return Data(base64Encoded: text, options: .ignoreUnknownCharacters)
    }
}
