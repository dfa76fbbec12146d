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
        /// How many units are tested at once. Each of these workers also starts its next
        /// unit's kernel ahead, so up to twice as many kernels may be alive.
        public var jobs: Int
        /// How long one test may run before it is interrupted and reported as timed out.
        public var timeout: Duration?
        /// Everything else about each kernel (interpreter, environment, limits, interrupt
        /// grace); its working directory and prelude are the run's. With `usesTemplate`
        /// every unit's kernel is forked from one template with the prelude loaded (a
        /// template serves kernels whose working and temporary directories differ), which
        /// ends with the run.
        public var configuration: KernelConfiguration
        /// Where the kernels log (a test that ignores its interrupt is killed, with a warning).
        public var logger: Logger
        /// Give every test function a fresh kernel, not only every file: each is forked from
        /// a template with the prelude loaded (`KernelConfiguration.usesTemplate`), so one
        /// costs milliseconds. The tests of a file still share its workspace.
        public var freshKernelPerTest: Bool

        /// Creates options.
        public init(
            paths: [String] = ["."], prelude: [PreludeSource] = [.default], doctestModules: [String] = [],
            keyword: String? = nil, stopAtFirstFailure: Bool = false,
            jobs: Int = ProcessInfo.processInfo.activeProcessorCount, timeout: Duration? = nil,
            configuration: KernelConfiguration = KernelConfiguration(), logger: Logger = Logger(label: "pyrun.test"),
            freshKernelPerTest: Bool = false
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
            self.freshKernelPerTest = freshKernelPerTest
        }
    }

    public let options: Options
    /// Set in every kernel of a run to the run's own id, so that the run's templates
    /// (`KernelConfiguration.usesTemplate`) serve no other run and end with it.
    public static let runVariable = "PYRUN_TEST_RUN"
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
    ///
    /// The kernels are those of a `KernelPool` made for the run (its configuration is
    /// `options.configuration`, one key per kernel), so whatever the pool does to start a
    /// kernel applies here too. Each of the `jobs` workers starts its next unit's kernel
    /// while the current unit's tests run, and shuts a finished unit's kernel down and
    /// removes its workspace while the next unit runs: a unit still gets a kernel and a
    /// workspace no other unit used.
    public func run(progress: @escaping @Sendable (PythonTestFileReport) -> Void = { _ in }) async
        -> PythonTestRunResult
    {
        let clock = ContinuousClock()
        let started = clock.now
        let control = RunControl(unitCount: units.count)
        let units = self.units
        // The run's mark on its kernels: their templates are the run's alone, ended with it.
        let runID = UUID().uuidString
        var marked = self.options
        marked.configuration.environment = marked.configuration.environment.updating([Self.runVariable: runID])
        let options = marked
        let pool = PoolConfiguration(defaultConfiguration: options.configuration)
        // The body throws nothing, so neither does withPool; it returns once every kernel is gone.
        let templateUnavailable = try? await withPool(configuration: pool, logger: options.logger) { pool in
            // The first reason a kernel that asked for a template started without one.
            let events = pool.events
            let watcher = Task { () -> String? in
                for await event in events {
                    if case .templateUnavailable(let reason) = event.kind { return reason }
                }
                return nil
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<min(options.jobs, units.count) {
                    group.addTask {
                        await Self.work(
                            units: units, options: options, control: control, pool: pool, progress: progress)
                    }
                }
            }
            watcher.cancel()
            return await watcher.value
        }
        if options.configuration.usesTemplate || options.freshKernelPerTest {
            // The run's kernels are gone: so are the templates they were forked from.
            await KernelPool.endIdleTemplates(matching: [Self.runVariable: runID])
        }
        var reports = [PythonTestFileReport?](repeating: nil, count: units.count)
        for (index, report) in await control.reports() { reports[index] = report }
        let interruptedTest = await control.wasInterrupted
        let interrupted = Task.isCancelled || interruptedTest
        return PythonTestRunResult(
            reports: reports.compactMap { $0 }, duration: started.duration(to: clock.now), interrupted: interrupted,
            usageError: await control.usageError, templateUnavailable: templateUnavailable ?? nil)
    }

    /// A worker: one unit after another, each in kernels of its own. The next unit is taken
    /// (and its kernel started) while the current one runs, and a finished unit is cleaned
    /// up in the background; the worker returns when all of that is done.
    private static func work(
        units: [PythonTestUnit], options: Options, control: RunControl, pool: KernelPool,
        progress: @escaping @Sendable (PythonTestFileReport) -> Void
    ) async {
        await withTaskGroup(of: Void.self) { background in
            func takeNext() async -> PythonTestFileRun? {
                guard let index = await control.nextUnit() else { return nil }
                var next = PythonTestFileRun(
                    unit: units[index], index: index, options: options, control: control, pool: pool)
                next.startFirstKernel()
                return next
            }
            var next = await takeNext()
            while let current = next {
                next = nil
                guard !Task.isCancelled, await !control.shouldStop else {
                    background.addTask { await current.cleanUp(after: nil) }
                    break
                }
                // The next unit is taken once this one runs, so that the other workers take
                // the first units first.
                async let running = current.run()
                next = await takeNext()
                let finished = await running
                await control.record(finished.report, at: current.index)
                progress(finished.report)
                background.addTask { await current.cleanUp(after: finished) }
            }
        }
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
    /// Why kernels that asked for a template (`--fork`, `--fresh-kernel-per-test`) started
    /// the ordinary way, the first time one did; nil when none did.
    public var templateUnavailable: String? = nil

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
