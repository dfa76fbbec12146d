import HTTPTypes
import Hummingbird
import NIOCore
import PyRunKit

/// The console's HTTP answers: the page and its files, `/api/status`, and the refusals. The
/// WebSocket upgrade of `/api/socket` is taken before this responder; a refused upgrade comes
/// here and gets its 401 or 403. See docs/console-protocol.md, *HTTP*.
struct ConsoleResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    /// The access rules, once the port is known.
    let access: @Sendable () -> ConsoleAccess
    /// What `/api/status` says.
    let server: ServerInfo

    /// The headers of every answer: the page runs only its own scripts, is never framed, and
    /// never sends the address (and so a token) in a `Referer`.
    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        // The token in the address is taken on the page only, where the page removes it.
        let queryToken = path == "/" ? request.uri.queryParameters["token"].map(String.init) : nil
        let rules = access()
        if let refusal = rules.check(request.head, queryToken: queryToken, requireOrigin: path == "/api/socket") {
            return Self.text(refusal.message, status: refusal.status)
        }
        guard request.method == .get || request.method == .head else {
            return Self.text("only GET", status: .methodNotAllowed)
        }
        switch path {
        case "/api/status":
            return Self.answer(
                Array(
                    JSONValue.object(["name": .string(server.name), "pid": .number(Double(server.pid))]).serialized()
                        .utf8),
                type: "application/json")
        case "/api/socket":
            return Self.text("this address takes a WebSocket upgrade", status: .badRequest)
        default:
            guard let asset = ConsoleAssets.asset(at: path) else { return Self.text("not found", status: .notFound) }
            var response = Self.answer(asset.bytes, type: asset.contentType)
            if queryToken != nil {
                // HttpOnly: no script (nor an HTML display, were one to run) reads it.
                response.headers[.setCookie] =
                    "\(ConsoleAccess.cookieName)=\(rules.token); Path=/; HttpOnly; SameSite=Strict"
            }
            return response
        }
    }

    private static func answer(_ bytes: [UInt8], type: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = securityHeaders
        headers[.contentType] = type
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private static func text(_ message: String, status: HTTPResponse.Status) -> Response {
        answer(Array(message.utf8), type: "text/plain; charset=utf-8", status: status)
    }
}
