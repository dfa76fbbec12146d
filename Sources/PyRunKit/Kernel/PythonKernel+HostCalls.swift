import Logging

/// One host call whose handler runs; confined to the kernel actor.
final class ActiveHostCall {
    let callID: String
    let function: String
    let startedAt = ContinuousClock.now
    /// Runs the handler, off the actor.
    var handlerTask: Task<Void, Never>?
    /// Ends the call with `Timeout` unless it is answered first.
    var timeoutTask: Task<Void, Never>?

    init(callID: String, function: String) {
        self.callID = callID
        self.function = function
    }

    /// Stops both tasks: the handler sees cancellation.
    func stop() {
        handlerTask?.cancel()
        timeoutTask?.cancel()
    }
}

/// Host calls: the runner's `call` frames are served by the configuration's `HostFunction`
/// handlers, concurrently, each bounded by its own timeout; whichever comes first of the
/// handler's answer, the timeout, or the end of the Python side's wait (`call_cancel`, the
/// execution's end, the kernel's death) ends the call, and the others are ignored.
extension PythonKernel {
    /// Serves the `call` frame `callID` of `pending`.
    /// - Returns: true when `pending`'s consumer lags behind.
    func startHostCall(
        _ callID: String, function name: String, arguments: JSONValue, of pending: PendingExecution,
        runner: RunnerProcess
    ) -> Bool {
        guard pending.hostCalls[callID] == nil else {
            logger.warning("the runner reused the id of a call in flight", metadata: ["call.id": "\(callID)"])
            return false
        }
        let congested = pending.deliver(
            .hostCallStarted(HostCallStart(callID: callID, function: name, arguments: arguments)))
        guard let function = hostFunctions[name] else {
            let error = HostCallError.unknownFunction(name, known: Array(hostFunctions.keys))
            try? runner.process.send(.callReply(callID: callID, answer: .failure(error)))
            pending.deliver(
                .hostCallEnded(HostCallReport(callID: callID, function: name, duration: .zero, outcome: .failed(error)))
            )
            return congested
        }
        // The execution's timeout does not run while the code waits for the host.
        if pending.hostCalls.isEmpty { pauseTimeout(of: pending) }
        let active = ActiveHostCall(callID: callID, function: name)
        pending.hostCalls[callID] = active
        let call = HostCall(
            function: name, arguments: arguments, callID: callID, executionID: pending.id, kernelKey: poolKey)
        let executionID = pending.id
        let handler = function.handler
        // Detached: the handler runs on the global executor at once, not after a hop through
        // this actor; the kernel is held weakly, so a running handler does not keep it alive.
        active.handlerTask = Task.detached { [weak self] in
            let answer: Result<JSONValue, HostCallError>
            do {
                answer = .success(try await handler(call))
            } catch {
                answer = .failure(HostCallError(thrownBy: error))
            }
            await self?.hostCallAnswered(callID, executionID: executionID, answer)
        }
        let timeout = function.timeout
        active.timeoutTask = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.hostCallTimedOut(callID, executionID: executionID, after: timeout)
        }
        return congested
    }

    /// The handler of `callID` returned or threw: the answer goes to the runner, unless the
    /// call ended meanwhile.
    private func hostCallAnswered(_ callID: String, executionID: String, _ answer: Result<JSONValue, HostCallError>) {
        guard let pending = running, pending.id == executionID,
            let active = pending.hostCalls.removeValue(forKey: callID)
        else { return }
        active.timeoutTask?.cancel()
        try? liveRunner?.process.send(.callReply(callID: callID, answer: answer))
        switch answer {
        case .success: finish(active, .returned, of: pending)
        case .failure(let error): finish(active, .failed(error), of: pending)
        }
    }

    /// `callID` ran past its function's timeout: its handler is cancelled and Python gets
    /// a `Timeout` error.
    private func hostCallTimedOut(_ callID: String, executionID: String, after timeout: Duration) {
        guard let pending = running, pending.id == executionID,
            let active = pending.hostCalls.removeValue(forKey: callID)
        else { return }
        active.handlerTask?.cancel()
        try? liveRunner?.process.send(
            .callReply(callID: callID, answer: .failure(.timedOut(active.function, after: timeout))))
        finish(active, .timedOut(after: timeout), of: pending)
    }

    /// Ends `callID` without an answer (the runner sent `call_cancel`): its handler is
    /// cancelled.
    func endHostCall(_ callID: String, of pending: PendingExecution, outcome: HostCallOutcome) {
        guard let active = pending.hostCalls.removeValue(forKey: callID) else { return }
        active.stop()
        finish(active, outcome, of: pending)
    }

    /// Ends every call of `pending` still served (its execution ended, or the kernel died).
    func endHostCalls(of pending: PendingExecution) {
        let ids = pending.hostCalls.values.sorted { $0.startedAt < $1.startedAt }.map(\.callID)
        for callID in ids { endHostCall(callID, of: pending, outcome: .cancelled) }
    }

    private func finish(_ active: ActiveHostCall, _ outcome: HostCallOutcome, of pending: PendingExecution) {
        let report = HostCallReport(
            callID: active.callID, function: active.function, duration: active.startedAt.duration(to: .now),
            outcome: outcome)
        pending.deliver(.hostCallEnded(report))
        if pending.hostCalls.isEmpty { armTimeout(of: pending) }
    }

    // MARK: - Used by the pool

    /// Serves the pool's `key`: its calls name the key, and later calls are served by the
    /// handlers of `functions` (declared like this kernel's own, perhaps other closures).
    func serve(poolKey key: String, hostFunctions functions: [HostFunction]) {
        poolKey = key
        for function in functions where hostFunctions[function.name] != nil { hostFunctions[function.name] = function }
    }
}
