/// Where the browser console listens: an IP address (or `localhost`) and a port, as `--http`
/// takes it. Parsed here, in the library, so `pyrun serve` and `pyrun mcp` refuse a bad one
/// before they start the console (`pyrun-console`), which then listens on it.
///
/// Forms: `PORT` (on 127.0.0.1), `HOST:PORT`, `[IPV6]:PORT`. Port 0 lets the system choose.
public struct ConsoleAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host as given, without brackets: `127.0.0.1`, `::1`, `localhost`, `0.0.0.0`.
    public var host: String
    /// The port asked for; 0 for one the system chooses.
    public var port: Int

    /// Why an address cannot be used.
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - host: an IPv4 or IPv6 literal, or `localhost`.
    ///   - port: 0–65535.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `--http`'s value.
    /// - Throws: `ConsoleAddress.Invalid` for a missing or out-of-range port, or a host that
    ///   is neither an IP address nor `localhost` (names are not resolved: say the address).
    public init(parsing text: String) throws(Invalid) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw Invalid(description: "'\(text)': an IPv6 address takes the form [ADDRESS]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        } else {
            hostPart = "127.0.0.1"
            portPart = Substring(text)
        }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw Invalid(description: "'\(text)': the port must be a number from 0 to 65535")
        }
        let host = String(hostPart)
        guard host == "localhost" || Self.isIPv4(host) || Self.isIPv6(host) else {
            throw Invalid(description: "'\(text)': the host must be an IP address or localhost")
        }
        self.init(host: host, port: port)
    }

    /// Whether only this machine can reach it.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || (Self.isIPv4(host) && host.hasPrefix("127."))
    }

    /// Whether it listens on every interface (`0.0.0.0`, `::`).
    public var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    /// The address to bind: `localhost` binds IPv4's loopback, the address the URL names.
    public var bindHost: String { host == "localhost" ? "127.0.0.1" : host }

    /// `host:port` as a URL or a `Host` header writes it (IPv6 in brackets).
    public func authority(port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String { authority(port: port) }

    private static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && Int(part)! <= 255
            }
    }

    private static func isIPv6(_ text: String) -> Bool {
        text.contains(":") && text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
