import HTTPTypes
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// This machine's own names (lowercased), which a listener on every interface answers to
    /// besides IP addresses: see `machineNames()`.
    var machineNames: [String] = []

    /// The `Host` values this server answers to, always with the bound port: its own address,
    /// and for loopback every name of it. Listening on every interface (`0.0.0.0`, `::`), any
    /// IP address (`[v6]` in brackets), `localhost`, and this machine's names; no other name,
    /// so a DNS-rebound one (which is never an IP literal) is refused there too.
    func accepts(host: String) -> Bool {
        if address.isWildcard {
            guard let (name, hostPort) = Self.nameAndPort(host.lowercased()), hostPort == port else { return false }
            return name == "localhost" || Self.isIPLiteral(name) || machineNames.contains(name)
        }
        var names = [address.authority(port: port)]
        if address.isLoopback {
            names += ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)"]
        }
        return names.contains(host.lowercased())
    }

    /// `NAME:PORT` or `[V6]:PORT` split; the name keeps its brackets. Nil without a port.
    private static func nameAndPort(_ host: String) -> (name: String, port: Int)? {
        // In brackets, the colon after the closing one; else the last.
        let nameEnd = host.hasPrefix("[") ? host.firstIndex(of: "]").map(host.index(after:)) : host.lastIndex(of: ":")
        guard let nameEnd, nameEnd < host.endIndex, host[nameEnd] == ":",
            let port = Int(host[host.index(after: nameEnd)...])
        else { return nil }
        return (String(host[..<nameEnd]), port)
    }

    /// Whether `name` is an IPv4 address in dotted decimal or an IPv6 one in brackets: never
    /// a name that DNS could point elsewhere.
    static func isIPLiteral(_ name: String) -> Bool {
        var address = in6_addr()
        if name.hasPrefix("["), name.hasSuffix("]") {
            return inet_pton(AF_INET6, String(name.dropFirst().dropLast()), &address) == 1
        }
        return inet_pton(AF_INET, name, &address) == 1
    }

    /// This machine's host name, lowercased (its fully qualified name would need a DNS
    /// lookup, which is not worth a console's start).
    static func machineNames() -> [String] {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return [] }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? [] : [name.lowercased()]
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
