import HummingbirdWebSocket
import PyRunKit

/// One browser tab's WebSocket relayed to a connection of its own on the server's Unix
/// socket: each text message the tab sends is admitted by the console's rules
/// (`ConsoleClientRequests`) and passed on as one line; each line the server sends is one
/// text message to the tab, the server's `welcome` first. Either side ending ends both.
enum ConsoleRelay {
    /// Relays until the tab or the server goes.
    static func run(
        socketPath: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        maximumMessageBytes: Int
    ) async {
        let connection: ServeLineConnection
        do {
            connection = try ServeLineConnection.connect(socketPath: socketPath)
        } catch {
            // The server is gone; the page reconnects with back-off and says it is down.
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await toTab(from: connection, outbound: outbound) }
            group.addTask {
                await toServer(
                    from: inbound, connection: connection, outbound: outbound, maximumMessageBytes: maximumMessageBytes)
            }
            // Whichever side ends first, the other is ended with it.
            await group.next()
            connection.close()
            group.cancelAll()
        }
    }

    /// The server's lines, each one text message, in order; returns when the server's side ends
    /// or the tab cannot be written to.
    private static func toTab(from connection: ServeLineConnection, outbound: WebSocketOutboundWriter) async {
        while let line = await connection.nextLine() {
            do {
                try await outbound.write(.text(String(decoding: line, as: UTF8.self)))
            } catch {
                return
            }
        }
    }

    /// The tab's messages, admitted, each passed on as one line; returns when the tab goes.
    private static func toServer(
        from inbound: WebSocketInboundStream, connection: ServeLineConnection, outbound: WebSocketOutboundWriter,
        maximumMessageBytes: Int
    ) async {
        do {
            for try await message in inbound.messages(maxSize: maximumMessageBytes) {
                guard case .text(let text) = message else { continue }
                switch ConsoleClientRequests.admit(text) {
                case .pass(let request):
                    guard await connection.send(request) else { return }
                case .refuse(let answer):
                    // One frame per message: a refusal never interleaves with a relayed line.
                    try await outbound.write(.text(answer.serialized()))
                }
            }
        } catch {
            // The socket failed or sent too much; either way this tab is done.
        }
    }
}
