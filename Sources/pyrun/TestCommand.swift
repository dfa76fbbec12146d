import ArgumentParser
import Foundation
import PyRunKit
import PyRunTesting
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun test`: Python tests of a prelude, each file in a fresh kernel with the prelude
/// loaded (PythonTestRun does the work; this reads options and prints).
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run Python tests, each file in a fresh kernel with the prelude loaded.",
        discussion: """
            Collects test_*.py files under the paths (default: the current directory) and their test* functions and Test* classes, plus the doctests of each prelude given with --prelude. Each file runs in a fresh kernel whose working directory is a fresh workspace holding a copy of the fixtures/ directory beside it; files run in parallel. A failed assert shows its values; a test past --timeout is interrupted and reported, and the run goes on. A prelude that raises while it loads stops the run (status 4).

            Exit status as pytest's: 0 all passed, 1 some failed, 2 interrupted, 4 usage error, 5 no tests collected.
            """)

    @Argument(help: ArgumentHelp("Test files, or directories searched for test_*.py (default: .).", valueName: "path"))
    var paths: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "What each kernel loads: `default`, a .py file, a directory of them, or `none` (default: default). Repeatable; the doctests of each one given run too.",
            valueName: "default|none|path"))
    var prelude: [PreludeArgument] = []

    @Option(
        name: .customShort("k"),
        help: ArgumentHelp("Only tests whose names match: words with and, or, not.", valueName: "expression"))
    var keyword: String?

    @Flag(name: .customShort("x"), help: "Stop after the first failure.")
    var exitFirst = false

    @Option(
        name: .customShort("j"),
        help: ArgumentHelp(
            "Files tested at once, each worker starting its next file's kernel ahead (default: the number of cores).",
            valueName: "n"))
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(
        name: .long, help: ArgumentHelp("Interrupt a test after this many seconds and report it.", valueName: "seconds")
    )
    var timeout: Seconds?

    @Option(
        name: .customLong("junit-xml"),
        help: ArgumentHelp("Also write the results as JUnit XML to this file.", valueName: "file"))
    var junitXML: String?

    @Flag(name: .long, help: "Write one JSON line per test, then a summary line; nothing else on stdout.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The interpreter: a path, or a name looked up on PATH (default: $VIRTUAL_ENV, ./.venv, python3).",
            valueName: "path-or-name"))
    var python: String?

    @Flag(
        name: .customLong("fresh-kernel-per-test"),
        help:
            "Run every test function in a fresh kernel, not only every file (forked from a template with the prelude loaded, Linux)."
    )
    var freshKernelPerTest = false

    @Flag(
        name: .long,
        help:
            "Fork every file's kernel from one template with the prelude loaded (Linux): a start costs milliseconds, but what the prelude opened or recorded while it loaded (files, sockets, its pid) is the template's, shared by every kernel."
    )
    var fork = false

    @Flag(name: .long, help: "Log what pyrun and the kernels do, to stderr.")
    var verbose = false

    mutating func validate() throws {
        guard jobs >= 1 else { throw ValidationError("-j must be 1 or more") }
        _ = try PreludeArgument.sources(prelude, byDefault: [.default])
    }

    func run() async throws {
        PyrunLogging.bootstrap(verbose: verbose)
        let sources = try PreludeArgument.sources(prelude, byDefault: [.default])
        // Doctests of the preludes named on the command line; the implicit default's are
        // pyrun's own business.
        let doctestModules = prelude.isEmpty ? [] : sources.flatMap { $0.moduleNames() }
        let options = PythonTestRun.Options(
            paths: paths.isEmpty ? ["."] : paths, prelude: sources, doctestModules: doctestModules, keyword: keyword,
            stopAtFirstFailure: exitFirst, jobs: jobs, timeout: timeout?.duration,
            configuration: KernelConfiguration(
                interpreter: python.map { .path($0) } ?? .automatic,
                usesTemplate: fork || KernelConfiguration.usesTemplateByDefault),
            logger: PyrunLogging.kernelLogger(verbose: verbose), freshKernelPerTest: freshKernelPerTest)
        let testRun: PythonTestRun
        do {
            testRun = try PythonTestRun(options)
        } catch {
            throw usageError("\(error)")
        }
        let output = OutputSink.standardOutput
        let writesJSON = json
        let task = Task {
            await testRun.run { report in
                if writesJSON {
                    for line in report.jsonLines { output.writeLine(line.serialized()) }
                } else if let line = PythonTestText.progressLine(report) {
                    output.writeLine(line)
                }
            }
        }
        // Ctrl-C interrupts the tests that run and ends the run (status 2); a second one within
        // 2 s ends pyrun at once. SIGTERM and SIGHUP end the run the same way, and then pyrun
        // by that signal, once the kernels and workspaces are gone.
        let presses = InterruptPresses()
        let terminatingSignal = Atomic<Int32>(0)
        let signals = ProcessSignals.handle([SIGINT, SIGTERM, SIGHUP]) { signalNumber in
            if signalNumber == SIGINT, presses.press() == .kill { ProcessSignals.terminateAsIfUncaught(by: SIGINT) }
            if signalNumber != SIGINT { terminatingSignal.store(signalNumber, ordering: .sequentiallyConsistent) }
            task.cancel()
        }
        let result = await task.value
        signals.cancel()
        let terminatedBy = terminatingSignal.load(ordering: .sequentiallyConsistent)
        if terminatedBy != 0 { ProcessSignals.terminateAsIfUncaught(by: terminatedBy) }
        if let message = result.usageError { throw usageError(message) }
        if let reason = result.templateUnavailable {
            OutputSink.standardError.writeLine(
                "pyrun test: warning: kernels started without a template (each loaded the prelude): \(reason)")
        }
        if writesJSON {
            output.writeLine(result.summaryJSON.serialized())
        } else {
            output.writeLine(PythonTestText.summary(result))
        }
        if let junitXML {
            do {
                try result.junitXML.write(toFile: junitXML, atomically: true, encoding: .utf8)
            } catch {
                throw usageError("cannot write \(junitXML): \(error.localizedDescription)")
            }
        }
        throw ExitCode(result.exitStatus)
    }

    /// pytest's status for a usage error (pyrun's other commands use 2, as python does).
    static let usageStatus: Int32 = 4

    private func usageError(_ message: String) -> ExitCode {
        OutputSink.standardError.writeLine("pyrun test: error: \(message)")
        return ExitCode(Self.usageStatus)
    }
}
