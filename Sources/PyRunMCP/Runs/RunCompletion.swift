import Synchronization

/// Set once when a run ends; any number of callers wait for it, each for at most its own
/// time, and a waiter whose task is cancelled stops waiting at once.
final class RunCompletion: Sendable {
    private struct State {
        var finished = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    var isFinished: Bool { state.withLock { $0.finished } }

    /// Marks the run ended and wakes every waiter.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the run ends or `timeout` passes; returns whether it ended.
    func wait(atMost timeout: Duration) async -> Bool {
        if isFinished { return true }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUntilFinishedOrCancelled() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return isFinished
    }

    private func waitUntilFinishedOrCancelled() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.finished || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
