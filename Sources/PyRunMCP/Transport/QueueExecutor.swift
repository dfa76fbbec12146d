import Dispatch

/// Runs an actor's jobs on its own serial dispatch queue instead of the cooperative pool.
///
/// A transport's `send` may block in `write(2)` while a slow client leaves the pipe full; on
/// this queue that blocks a thread of its own (dispatch adds threads for blocked serial
/// queues), never one of the cooperative pool's few threads that the kernels' tasks need.
final class QueueExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
