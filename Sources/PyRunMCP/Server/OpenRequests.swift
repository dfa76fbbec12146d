import PyRunKit
import Synchronization

/// The client's requests that the server took and has not answered yet: the tool calls
/// served here (by request id, so that a cancellation can reach them) and the requests passed
/// on to the SDK (`initialize`, `tools/list`, `ping`, …) until their response goes out.
///
/// A client may close its input right after its last request and keep reading, as
/// `printf '…' | pyrun mcp` does: `allAnswered()` is how the server waits for those answers
/// before it shuts the sessions down. Every call ends by itself (its `wait_s` and `timeout_s`
/// bound it), and once a write to the client has failed nobody reads the rest, so the wait
/// ends then too (the router also stops waiting when the client closes its end of the output).
final class OpenRequests: Sendable {
    private struct State {
        var calls: [JSONValue: Task<Void, Never>] = [:]
        var forwarded: Set<JSONValue> = []
        var clientUnreachable = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0

        var isSettled: Bool { clientUnreachable || (calls.isEmpty && forwarded.isEmpty) }

        /// The waiters to wake, when nothing is left to wait for.
        mutating func takeWaitersIfSettled() -> [CheckedContinuation<Void, Never>] {
            guard isSettled else { return [] }
            defer { waiters = [:] }
            return Array(waiters.values)
        }
    }

    private let state = Mutex(State())

    // MARK: - Calls served here

    /// Starts `body` as the call `id`; it is forgotten when it ends. `body` throws only when
    /// its response could not be written, which means the client is unreachable.
    func startCall(_ id: JSONValue, _ body: @escaping @Sendable () async throws -> Void) {
        // Registered under the lock the task's own removal takes, so that removal always
        // comes after the registration.
        state.withLock { state in
            state.calls[id] = Task {
                do {
                    try await body()
                } catch {
                    self.clientIsUnreachable()
                }
                self.callEnded(id)
            }
        }
    }

    /// Cancels the call `id`; false when no such call is running. A cancelled call gets no
    /// response, so it is no longer waited for.
    func cancelCall(_ id: JSONValue) -> Bool {
        let (task, waiters) = state.withLock { state in
            let task = state.calls.removeValue(forKey: id)
            return (task, state.takeWaitersIfSettled())
        }
        task?.cancel()
        for waiter in waiters { waiter.resume() }
        return task != nil
    }

    private func callEnded(_ id: JSONValue) {
        settle { _ = $0.calls.removeValue(forKey: id) }
    }

    // MARK: - Requests the SDK answers

    /// Notes a request passed on to the SDK. Only ids the SDK can echo (strings and whole
    /// numbers) are noted: the response to any other would never be recognized.
    func forwarded(_ id: JSONValue) {
        switch id {
        case .string: break
        case .number(let number) where number.rounded() == number: break
        default: return
        }
        state.withLock { _ = $0.forwarded.insert(id) }
    }

    /// Notes the response to the request `id` going out, or the client withdrawing it
    /// (a cancelled request gets no response).
    func answered(_ id: JSONValue) {
        settle { _ = $0.forwarded.remove(id) }
    }

    // MARK: - Waiting

    /// A write to the client failed: nothing more will reach it, so nothing is waited for.
    func clientIsUnreachable() {
        settle { $0.clientUnreachable = true }
    }

    /// Returns when every request taken so far has its response (or the client became
    /// unreachable), or when the waiting task is cancelled.
    func allAnswered() async {
        let token = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let isDone = state.withLock { state in
                    // A cancellation that came before this registration found nothing to resume.
                    if state.isSettled || Task.isCancelled { return true }
                    state.waiters[token] = continuation
                    return false
                }
                if isDone { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: token) }?.resume()
        }
    }

    /// Changes the state and wakes the waiters if that left nothing to wait for.
    private func settle(_ change: (inout State) -> Void) {
        let waiters = state.withLock { state in
            change(&state)
            return state.takeWaitersIfSettled()
        }
        for waiter in waiters { waiter.resume() }
    }
}
