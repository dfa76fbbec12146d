import Foundation
import Testing

@testable import PyRunKit

/// The first event of `stream` that `matches`, waiting at most `seconds`: a liveness bound.
func firstEvent(
    in stream: AsyncStream<PoolEvent>, within seconds: Double = 20,
    matching matches: @escaping @Sendable (PoolEvent) -> Bool
) async -> PoolEvent? {
    await withTaskGroup(of: PoolEvent?.self) { group in
        group.addTask {
            for await event in stream where matches(event) { return event }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Polls `condition` until it holds, at most `seconds`: a liveness bound, not a timing assertion.
func eventually(within seconds: Double = 20, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// The pid of `key`'s runner, as Python reports it.
func kernelPID(_ pool: KernelPool, key: String) async throws -> Int32 {
    let result = try await pool.run("import os\nos.getpid()", key: key)
    return try #require(result.resultText.flatMap { Int32($0) })
}

extension PoolEvent.Kind {
    var isStarted: Bool { if case .started = self { true } else { false } }
    var isDied: Bool { if case .died = self { true } else { false } }
    var isEvicted: Bool { if case .evicted = self { true } else { false } }
    var isCulled: Bool { if case .culled = self { true } else { false } }
    var isShutDown: Bool { if case .shutDown = self { true } else { false } }
}
