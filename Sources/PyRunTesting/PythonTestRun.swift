import Foundation
import Logging
import PyRunKit

/// Runs Python tests the way `pyrun test` does: each test file (and the doctests of each
/// named prelude module) in a fresh kernel with the prelude loaded and a fresh workspace as
/// its working directory (a copy of the `fixtures/` beside the file), files in parallel over
/// a pool of kernels. The kernel half is `pyrun_testing` (Resources/testing): it collects
/// `test*` functions and `Test*` classes, rewrites `assert` so a failure shows its values,
/// and runs one test per execution, so a test that hangs is interrupted at the timeout (and
/// its kernel replaced if it ignores the interrupt) while the run goes on.
///
/// ```swift
/// let run = try PythonTestRun(PythonTestRun.Options(paths: ["tests"], prelude: [.default]))
/// let result = await run.run { report in print(report.unit) }
/// exit(result.exitStatus)
/// ```
public struct PythonTestRun: Sendable {
    /// What to run and how.
    public struct Options: Sendable {
        /// Test files, and directories searched for `test_*.py`.
        public var paths: [String]
        /// What each kernel loads before its tests (pyrun_testing comes with it, unexported).
        public var prelude: [PreludeSource]
        /// Modules whose doctests run, each as a unit of its own (a prelude's modules).
        public var doctestModules: [String]
        /// A `-k` expression: words matched against test, class and file names, with `and`,
        /// `or`, `not` and parentheses.
        public var keyword: String?
        /// Stop after the first failure (`-x`).
        public var stopAtFirstFailure: Bool
        /// How many kernels run at once.
        public var jobs: Int
        /// How long one test may run before it is interrupted and reported as timed out.
        public var timeout: Duration?
        /// Everything else about each kernel (interpreter, environment, limits, interrupt
        /// grace); its working directory and prelude are the run's.
        public var configuration: KernelConfiguration
        /// Where the kernels log (a test that ignores its interrupt is killed, with a warning).
        public var logger: Logger

        /// Creates options.
        public init(
            paths: [String] = ["."], prelude: [PreludeSource] = [.default], doctestModules: [String] = [],
            keyword: String? = nil, stopAtFirstFailure: Bool = false,
            jobs: Int = ProcessInfo.processInfo.activeProcessorCount, timeout: Duration? = nil,
            configuration: KernelConfiguration = KernelConfiguration(), logger: Logger = Logger(label: "pyrun.test")
        ) {
            self.paths = paths
            self.prelude = prelude
            self.doctestModules = doctestModules
            self.keyword = keyword
            self.stopAtFirstFailure = stopAtFirstFailure
            self.jobs = jobs
            self.timeout = timeout
            self.configuration = configuration
            self.logger = logger
        }
    }

    public let options: Options
    /// What will run, in order: the test files found, then the doctest modules.
    public let units: [PythonTestUnit]

    /// Finds the test files.
    /// - Throws: `PythonTestRunError.usage` for a path that does not exist or a job count
    ///   below 1.
    public init(_ options: Options) throws(PythonTestRunError) {
        guard options.jobs >= 1 else { throw .usage("the number of jobs must be 1 or more") }
        if let timeout = options.timeout, timeout <= .zero { throw .usage("the timeout must be positive") }
        self.options = options
        units = try PythonTestUnit.discover(options.paths) + options.doctestModules.map { .doctests(module: $0) }
    }

    /// Runs every unit, `options.jobs` at a time, and calls `progress` with each unit's
    /// report as it finishes (from any task). Cancelling the calling task interrupts the
    /// tests that run and starts no others; the result then says `interrupted`. Every kernel
    /// and every temporary directory is gone when it returns.
    public func run(progress: @escaping @Sendable (PythonTestFileReport) -> Void = { _ in }) async
        -> PythonTestRunResult
    {
        let clock = ContinuousClock()
        let started = clock.now
        let control = RunControl(unitCount: units.count)
        let units = self.units
        let options = self.options
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<min(options.jobs, units.count) {
                group.addTask {
                    // A worker: one unit after another, each in kernels of its own.
                    while let index = await control.nextUnit() {
                        let report = await PythonTestFileRun(unit: units[index], options: options, control: control)
                            .run()
                        await control.record(report, at: index)
                        progress(report)
                    }
                }
            }
        }
        var reports = [PythonTestFileReport?](repeating: nil, count: units.count)
        for (index, report) in await control.reports() { reports[index] = report }
        let interruptedTest = await control.wasInterrupted
        let interrupted = Task.isCancelled || interruptedTest
        return PythonTestRunResult(
            reports: reports.compactMap { $0 }, duration: started.duration(to: clock.now), interrupted: interrupted,
            usageError: await control.usageError)
    }
}

/// What a `PythonTestRun` gave.
public struct PythonTestRunResult: Sendable {
    /// Each unit that ran, in the run's order (a unit with no tests included).
    public var reports: [PythonTestFileReport]
    /// Wall time of the whole run.
    public var duration: Duration
    /// Whether it was cut short by cancellation (Ctrl-C).
    public var interrupted: Bool
    /// Set when a `-k` expression or the interpreter made the run impossible.
    public var usageError: String?

    /// How many tests ended each way; collection errors count as `errors`.
    public var counts: PythonTestCounts { PythonTestCounts(reports) }

    /// pytest's exit statuses: 0 all passed, 1 some failed (or a file could not be
    /// collected), 2 interrupted, 4 usage error, 5 nothing was collected.
    public var exitStatus: Int32 {
        if usageError != nil { return 4 }
        if interrupted { return 2 }
        let counts = self.counts
        if counts.failed + counts.errors + counts.timedOut > 0 { return 1 }
        if counts.total == 0 { return 5 }
        return 0
    }
}

/// Tests counted by how they ended.
public struct PythonTestCounts: Sendable, Hashable {
    public var passed = 0
    public var failed = 0
    public var skipped = 0
    /// Tests that could not run, and files that could not be collected.
    public var errors = 0
    public var timedOut = 0
    public var interrupted = 0
    /// Tests `-k` left out.
    public var deselected = 0

    /// Tests that ran (collection errors aside).
    public var total: Int { passed + failed + skipped + timedOut + interrupted + errors }

    init(_ reports: [PythonTestFileReport]) {
        for report in reports {
            deselected += report.deselected
            if report.collectionError != nil { errors += 1 }
            for record in report.records {
                switch record.outcome {
                case .passed: passed += 1
                case .failed: failed += 1
                case .skipped: skipped += 1
                case .error: errors += 1
                case .timedOut: timedOut += 1
                case .interrupted: interrupted += 1
                }
            }
        }
    }
}

/// The run's shared state: which unit is next, and whether to stop.
actor RunControl {
    private var next = 0
    private let unitCount: Int
    private var finished: [(Int, PythonTestFileReport)] = []
    private var stopping = false
    private(set) var usageError: String?
    private(set) var wasInterrupted = false

    init(unitCount: Int) {
        self.unitCount = unitCount
    }

    /// The index of the next unit to run; nil when all were handed out or the run stops.
    func nextUnit() -> Int? {
        guard !stopping, !Task.isCancelled, next < unitCount else { return nil }
        defer { next += 1 }
        return next
    }

    /// Whether the tests still to run should not start.
    var shouldStop: Bool { stopping }

    /// Stops the run after the tests that are running (`-x`, a usage error).
    func stop(usageError message: String? = nil) {
        stopping = true
        if let message, usageError == nil { usageError = message }
    }

    /// A test was interrupted by the run's cancellation.
    func interrupted() {
        stopping = true
        wasInterrupted = true
    }

    func record(_ report: PythonTestFileReport, at index: Int) {
        finished.append((index, report))
    }

    func reports() -> [(Int, PythonTestFileReport)] { finished }
}
