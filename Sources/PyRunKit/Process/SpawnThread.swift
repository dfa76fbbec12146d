import Foundation
import Synchronization

/// The one thread every child process is spawned from; it lives as long as the host.
///
/// A runner asks Linux to kill it when its parent dies (`PR_SET_PDEATHSIG`), and Linux takes
/// the parent to be the *thread* that forked it: a child spawned from a Dispatch worker or a
/// cooperative-pool thread would be killed the moment that thread retires. A thread that
/// never returns makes the signal mean what it says, "the host is gone".
final class SpawnThread: Sendable {
    /// The process-wide spawning thread, started on first use.
    static let shared = SpawnThread()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let jobsWaiting = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                jobsWaiting.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job()
            }
        }
        thread.name = "pyrun.spawn"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `body` on the spawning thread and waits for it. `body` must not wait for
    /// anything that needs this thread.
    func run<Value: Sendable, Failure: Error>(
        _ body: @escaping @Sendable () throws(Failure) -> Value
    ) throws(Failure) -> Value {
        let job = Job(body)
        jobs.withLock { $0.append(job.run) }
        jobsWaiting.signal()
        return try job.waitForOutcome().get()
    }

    /// One call handed to the thread, and its outcome handed back.
    private final class Job<Value: Sendable, Failure: Error>: Sendable {
        private let body: @Sendable () throws(Failure) -> Value
        private let outcome = Mutex<Result<Value, Failure>?>(nil)
        private let finished = DispatchSemaphore(value: 0)

        init(_ body: @escaping @Sendable () throws(Failure) -> Value) {
            self.body = body
        }

        @Sendable func run() {
            let result: Result<Value, Failure>
            do throws(Failure) {
                result = .success(try body())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            finished.signal()
        }

        func waitForOutcome() -> Result<Value, Failure> {
            finished.wait()
            // `run` stored the outcome before it signalled.
            return outcome.withLock { $0! }
        }
    }
}
