import PyRunKit

/// What the console does to a tab's message before the server sees it: the journal records a
/// label the console makes (`console:tab-…`), so a page cannot pose as a terminal or an
/// agent; `stop` is refused, since a browser tab does not end the server; and what is not
/// JSON is answered here, so only serialized JSON (one line each) reaches the server's socket.
enum ConsoleClientRequests {
    /// What becomes of one message.
    enum Admission: Sendable, Hashable {
        /// Pass this request on.
        case pass(JSONValue)
        /// Answer the tab with this message instead.
        case refuse(JSONValue)
    }

    /// The operations whose `client` the journal records.
    private static let labelledOperations: Set<String> = ["execute", "interrupt", "reset"]

    /// The request to pass on for the text of one message, or the answer that refuses it.
    static func admit(_ text: String) -> Admission {
        let request: JSONValue
        do {
            request = try JSONValue.parse(Array(text.utf8))
        } catch {
            return .refuse(ServeMessage.error(ServeError(.badRequest, "not JSON: \(error)")).json(tag: nil))
        }
        guard case .object(var fields) = request, let operation = fields["op"]?.stringValue else {
            return .pass(request)  // the server answers what is not a request
        }
        if operation == "stop" {
            let refusal = ServeError(.unknownOperation, "the console does not stop the server; `pyrun stop` does")
            return .refuse(ServeMessage.error(refusal).json(tag: fields["tag"]?.stringValue))
        }
        if labelledOperations.contains(operation) {
            fields["client"] = .string(label(forTab: fields["client"]?.stringValue))
        }
        return .pass(.object(fields))
    }

    /// `console:` and the tab's label when it has the page's form (`tab-` and 6 hex digits),
    /// else `console:unnamed`.
    static func label(forTab tab: String?) -> String {
        guard let tab, tab.hasPrefix("tab-") else { return "console:unnamed" }
        let digits = tab.dropFirst(4)
        guard digits.count == 6, digits.allSatisfy({ $0.isHexDigit && ($0.isNumber || $0.isLowercase) }) else {
            return "console:unnamed"
        }
        return "console:\(tab)"
    }
}
