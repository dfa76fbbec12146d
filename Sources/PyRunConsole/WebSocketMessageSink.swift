import HummingbirdWebSocket
import PyRunKit

/// A `ServeConnection`'s sink on one WebSocket: each message is one text frame of JSON.
/// Writes wait while the socket's buffer is full, so a slow tab holds back only its own
/// messages (and its journal observation then falls behind, as any slow client's does).
struct WebSocketMessageSink: ServeMessageSink {
    let outbound: WebSocketOutboundWriter

    func send(_ message: JSONValue) async -> Bool {
        do {
            // One frame per message: concurrent senders (an observation, an execution's end)
            // never interleave parts of two messages.
            try await outbound.write(.text(message.serialized()))
            return true
        } catch {
            return false
        }
    }
}
