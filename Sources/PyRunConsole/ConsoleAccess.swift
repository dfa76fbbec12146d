import HTTPTypes
import PyRunKit

/// Who may use the console: a request must carry the token, name the server by an address it
/// listens on (`Host`), and come from the server's own page (`Origin`). The rules are in
/// docs/console-protocol.md, *Access*.
struct ConsoleAccess: Sendable {
    /// The cookie the page keeps the token in.
    static let cookieName = "pyrun_console_token"

    /// Why a request is refused; `nil` from `check` lets it through.
    enum Refusal: Sendable, Hashable {
        /// No token, or a wrong one: 401.
        case missingToken
        /// A `Host` the server does not answer to (a DNS-rebound name): 403.
        case unknownHost
        /// An `Origin` that is not the server's own, or none where one is required: 403.
        case foreignOrigin

        var status: HTTPResponse.Status {
            self == .missingToken ? .unauthorized : .forbidden
        }

        var message: String {
            switch self {
            case .missingToken: "open the link that pyrun printed (it carries ?token=...)"
            case .unknownHost: "this server does not answer to that Host"
            case .foreignOrigin: "requests from other origins are refused"
            }
        }
    }

    /// The secret every request carries.
    let token: String
    /// Where the server listens.
    let address: ConsoleAddress
    /// The port it is bound to (the asked one, or the system's choice for port 0).
    let port: Int

    /// The `Host` values this server answers to: its own address, and for loopback every name
    /// of it. Listening on every interface (`0.0.0.0`), any host is let through, since the
    /// machine's names are not known; the token and the origin still hold.
    func accepts(host: String) -> Bool {
        if address.isWildcard { return true }
        var names = [address.authority(port: port)]
        if address.isLoopback {
            names += ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)"]
        }
        return names.contains(host.lowercased())
    }

    /// Checks one request.
    /// - Parameters:
    ///   - request: its head.
    ///   - queryToken: the `?token=` of the request, taken only on the page itself.
    ///   - requireOrigin: true for the WebSocket upgrade, which browsers always send with an
    ///     `Origin`; that origin check, not the cookie, is what stops another site's page from
    ///     opening the socket.
    func check(_ request: HTTPRequest, queryToken: String?, requireOrigin: Bool) -> Refusal? {
        // HTTP/1's Host header arrives as the request's authority.
        guard let host = request.authority, accepts(host: host) else {
            return .unknownHost
        }
        if let origin = request.headerFields[.origin] {
            guard origin.lowercased() == "http://\(host.lowercased())" else { return .foreignOrigin }
        } else if requireOrigin {
            return .foreignOrigin
        }
        let offered = queryToken ?? bearerToken(request) ?? cookieToken(request)
        guard let offered, Self.constantTimeEqual(offered, token) else { return .missingToken }
        return nil
    }

    private func bearerToken(_ request: HTTPRequest) -> String? {
        guard let value = request.headerFields[.authorization], value.hasPrefix("Bearer ") else { return nil }
        return String(value.dropFirst("Bearer ".count))
    }

    private func cookieToken(_ request: HTTPRequest) -> String? {
        for header in request.headerFields[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingSpaces == Self.cookieName {
                    return String(parts[1].trimmingSpaces)
                }
            }
        }
        return nil
    }

    /// Compares without stopping at the first difference, so the time taken says nothing of
    /// how much of a guess was right.
    static func constantTimeEqual(_ offered: String, _ expected: String) -> Bool {
        let a = Array(offered.utf8)
        let b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<b.count {
            difference |= (index < a.count ? a[index] : 0) ^ b[index]
        }
        return difference == 0
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
