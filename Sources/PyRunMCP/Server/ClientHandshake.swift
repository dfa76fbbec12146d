import PyRunKit

/// What the client declared in its `initialize` request that shapes the sessions.
struct ClientHandshake: Sendable, Hashable {
    /// The client answers `sampling/createMessage`: sessions get `host.complete`.
    var offersSampling = false

    /// A client that declared nothing (it skipped `initialize`, or left before it).
    init() {}

    /// What an `initialize` request's `params` declare.
    init(initializeParams params: JSONValue?) {
        let sampling = params?["capabilities"]?["sampling"]
        offersSampling = sampling != nil && sampling != .null
    }
}
