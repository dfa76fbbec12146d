import PyRunKit

/// What the console does to a tab's request before its `ServeConnection` sees it: the journal
/// records a label the server makes (`console:tab-…`), so a page cannot pose as a terminal or
/// an agent; and `stop` is refused, since a browser tab does not end the server.
enum ConsoleClientRequests {
    /// The operations whose `client` the journal records.
    private static let labelledOperations: Set<String> = ["execute", "interrupt", "reset"]

    /// The request to pass on, or the error to answer it with.
    static func admit(_ request: JSONValue) -> Result<JSONValue, ServeError> {
        guard case .object(var fields) = request, let operation = fields["op"]?.stringValue else {
            return .success(request)  // the connection answers what is not a request
        }
        if operation == "stop" {
            return .failure(
                ServeError(.unknownOperation, "the console does not stop the server; `pyrun stop` does"))
        }
        if labelledOperations.contains(operation) {
            fields["client"] = .string(label(forTab: fields["client"]?.stringValue))
        }
        return .success(.object(fields))
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
