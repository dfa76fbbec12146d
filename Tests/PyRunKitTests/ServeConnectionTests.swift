import Foundation
import Synchronization
import Testing

@testable import PyRunKit

/// A sink that keeps what it is sent, as a front end of another kind (a WebSocket) would send it on.
final class RecordingSink: ServeMessageSink {
    private let messages = Mutex<[JSONValue]>([])

    func send(_ message: JSONValue) async -> Bool {
        messages.withLock { $0.append(message) }
        return true
    }

    var all: [JSONValue] { messages.withLock { $0 } }

    func waitFor(within seconds: Double = 60, _ condition: @escaping @Sendable ([JSONValue]) -> Bool) async -> Bool {
        await eventually(within: seconds) { condition(self.all) }
    }
}

/// The server core without any socket: requests in as JSON values, answers out through a sink.
@Suite struct ServeConnectionTests {
    @Test func theCoreAnswersThroughAnySinkOnAPoolItDoesNotOwn() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            // A host on someone else's pool, showing a session that its owner runs code through.
            let host = SessionHost(name: "console", pool: pool)
            let agentSession = SharedSession(name: "agent-7", pool: pool)
            try await host.adopt(agentSession)
            let sink = RecordingSink()
            let connection = ServeConnection(host: host, sink: sink)
            await connection.start()
            await connection.receive(
                .object(["op": .string("observe"), "session": .string("agent-7"), "tag": .string("w")]))
            let result = try await agentSession.run("print('the agent works')", client: "agent")
            #expect(result.stdout == "the agent works\n")
            #expect(
                await sink.waitFor { messages in
                    messages.contains {
                        $0["entry"]?["type"]?.stringValue == "stdout"
                            && $0["entry"]?["data"]?.stringValue == "the agent works\n"
                    }
                })
            #expect(sink.all.first?["type"]?.stringValue == "welcome")
            #expect(sink.all.allSatisfy { $0["type"]?.stringValue == "welcome" || $0["tag"]?.stringValue == "w" })

            // A person steps in through the same connection.
            await connection.receive(
                .object([
                    "op": .string("execute"), "session": .string("agent-7"), "code": .string("21 * 2"),
                    "client": .string("person"), "tag": .string("x"),
                ]))
            #expect(
                await sink.waitFor { messages in
                    messages.contains {
                        $0["tag"]?.stringValue == "x" && $0["event"]?["type"]?.stringValue == "finished"
                    }
                })
            let answers = sink.all.filter { $0["tag"]?.stringValue == "x" }
            #expect(answers.first?["type"]?.stringValue == "accepted")
            #expect(
                answers.contains {
                    $0["event"]?["type"]?.stringValue == "result"
                        && $0["event"]?["bundle"]?["text/plain"]?.stringValue == "42"
                })

            // Stopping the host closes its sessions but not the pool's other keys.
            _ = try await pool.run("1", key: "someone-else")
            await host.stop()
            await connection.close()
            #expect(await pool.keys == ["someone-else"])
            #expect(await sink.waitFor { $0.contains { $0["type"]?.stringValue == "observe_end" } })
        }
    }
}
