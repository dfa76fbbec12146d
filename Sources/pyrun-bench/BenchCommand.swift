import ArgumentParser
import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures pyrun against Python's floor and against Jupyter, in one run (issue 5).
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pyrun-bench",
        abstract: "Measure pyrun against the floor of a python3 over a pipe and against a Jupyter kernel.",
        discussion: """
            Prints one Markdown table, the machine and Python on top. Each figure is measured on \
            every side in turn within this run: median (min–max) over its runs. Run it from the \
            repository: swift run -c release pyrun-bench [--quick] [--jupyter PYTHON]; \
            --soak MINUTES runs the soak instead.
            """)

    @Flag(help: "A smoke run of a few seconds: fewer runs of each figure, no Jupyter pool.")
    var quick = false

    @Option(help: ArgumentHelp("Also write the results as JSON to this file.", valueName: "file"))
    var json: String?

    @Option(
        help: ArgumentHelp(
            "A python with jupyter_client and ipykernel (scripts/bench-setup-jupyter makes .venv-jupyter).",
            valueName: "python"))
    var jupyter: String?

    @Option(
        help: ArgumentHelp(
            "The interpreter for pyrun and the floors (default: python3 on PATH, resolved past any shim).",
            valueName: "python"))
    var python: String?

    @Option(
        help: ArgumentHelp(
            "The pyrun CLI binary (default: `pyrun` next to this executable, if built).", valueName: "path"))
    var pyrun: String?

    @Option(
        help: ArgumentHelp(
            "Write the table and the command into this Markdown file (e.g. BENCHMARKS.md).", valueName: "file"))
    var markdown: String?

    @Option(
        help: ArgumentHelp(
            "Instead of the table, a soak of this many minutes: mixed executions, interrupts, timeouts and crashes over 20 keys (issue 9 asks for 10).",
            valueName: "minutes"))
    var soak: Double?

    @Option(
        help: ArgumentHelp(
            "Run only the scenarios whose name contains this text (e.g. \"host calls\").", valueName: "text"))
    var only: String?

    @Flag(
        help: ArgumentHelp(
            "Keep PYTHONDONTWRITEBYTECODE for the kernels (by default it is removed, so the runner's bytecode is cached as on most machines)."
        ))
    var keepDontWriteBytecode = false

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        // PyRunKit installs its runner under PYRUN_RUNTIME_DIR: a directory of this run's
        // own makes the bytecode cache state the same on every run, whatever earlier runs of
        // other runner versions left behind. The first (untimed) start compiles and caches it.
        let runtimeDirectory = try Self.makeRuntimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtimeDirectory) }
        setenv("PYRUN_RUNTIME_DIR", runtimeDirectory + "/runtime", 1)
        if !keepDontWriteBytecode { unsetenv("PYTHONDONTWRITEBYTECODE") }
        let plan = quick ? RunPlan.quick : RunPlan.full
        let interpreter = try resolveInterpreter()
        if let soak {
            let status = await Soak.run(
                minutes: soak, configuration: KernelConfiguration(interpreter: .path(interpreter.executable)))
            if status != 0 { throw ExitCode(status) }
            return
        }
        var driver: JupyterDriver?
        var jupyterDescription = "not measured (no --jupyter)"
        var failures: [String] = []
        if let jupyter {
            do {
                let started = try JupyterDriver(python: Self.absolute(jupyter))
                driver = started
                jupyterDescription = started.versions
            } catch {
                failures.append("Jupyter driver: \(error)")
                jupyterDescription = "not measured (driver failed: \(error))"
            }
        }
        defer { driver?.close() }

        let context = BenchContext(
            plan: plan, python: interpreter.executable, runnerDirectory: BenchContext.checkoutRunnerDirectory,
            jupyter: driver, commandLineTool: commandLineTool())
        var report = Report(
            machine: MachineDescription(
                date: ISO8601DateFormatter().string(from: Date()), system: Self.systemName(), cpu: Self.cpuName(),
                cores: ProcessInfo.processInfo.activeProcessorCount, loadAtStart: Self.loadAverage(), loadAtEnd: "",
                python: interpreter.version, pythonExecutable: interpreter.executable, jupyter: jupyterDescription,
                command: Self.commandLine(), mode: plan.name + Self.buildConfiguration, code: Self.codeVersion()))
        report.failures = failures

        let scenarios: [(String, (BenchContext, inout Report) async throws -> Void)] = [
            ("cold start", ColdStartScenario.run),
            ("warm round trip", RoundTripScenario.run),
            ("warm round trip, PyRunKit's hops", PipelineProfileScenario.run),
            ("streaming", StreamingScenario.run),
            ("interrupt", InterruptScenario.run),
            ("shutdown", ShutdownScenario.run),
            ("pool scale", PoolScaleScenario.run),
            ("CLI", CommandLineToolScenario.run),
            ("shared sessions", SharedSessionsScenario.run),
            ("MCP tools/call", MCPToolCallScenario.run),
            ("prelude start", PreludeStartScenario.run),
            ("pyrun test", PythonTestsScenario.run),
            ("host calls", HostCallScenario.run),
            ("remote kernels", RemoteKernelScenario.run),
            ("template start", TemplateStartScenario.run),
        ]
        for (name, scenario) in scenarios where only.map({ name.localizedCaseInsensitiveContains($0) }) ?? true {
            let stopwatch = Stopwatch()
            FileHandle.standardError.write(Data("pyrun-bench: \(name)…".utf8))
            do {
                try await scenario(context, &report)
            } catch {
                report.failures.append("\(name): \(error)")
            }
            FileHandle.standardError.write(Data(" \(Table.value(stopwatch.seconds, .seconds))\n".utf8))
        }
        report.machine.loadAtEnd = Self.loadAverage()

        let table = Table.render(report)
        print(table)
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
        if let markdown { try Self.writeMarkdown(table, to: markdown) }
        if !report.failures.isEmpty {
            throw ExitCode(1)
        }
    }

    /// The real executable behind `--python` or `python3` on PATH, and its version: a shim
    /// (pyenv's adds ~120 ms to every start) would measure the shim, not pyrun.
    private func resolveInterpreter() throws -> (executable: String, version: String) {
        let given = python ?? "python3"
        let path = given.contains("/") ? Self.absolute(given) : try Self.findOnPath(given)
        let peer = try PipedProcess(
            executable: path,
            arguments: ["-c", "import sys, platform; print(sys.executable); print(platform.python_version())"])
        let executable = String(decoding: try peer.readLine(), as: UTF8.self)
        let version = String(decoding: try peer.readLine(), as: UTF8.self)
        peer.waitForExit()
        guard !executable.isEmpty else { throw ValidationError("\(path) did not say where its executable is") }
        return (executable, version)
    }

    private func commandLineTool() -> String? {
        if let pyrun { return Self.absolute(pyrun) }
        let sibling = URL(fileURLWithPath: Self.absolute(CommandLine.arguments[0]))
            .deletingLastPathComponent().appendingPathComponent("pyrun").path
        return FileManager.default.isExecutableFile(atPath: sibling) ? sibling : nil
    }

    private static func findOnPath(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ValidationError("no \(name) on PATH")
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// The invocation as given, the binary shown relative to the working directory (under
    /// `swift run -c release` it is `.build/release/pyrun-bench`).
    private static func commandLine() -> String {
        let binary = absolute(CommandLine.arguments[0])
        let directory = FileManager.default.currentDirectoryPath + "/"
        let shown = binary.hasPrefix(directory) ? String(binary.dropFirst(directory.count)) : binary
        return ([shown] + CommandLine.arguments.dropFirst()).joined(separator: " ")
    }

    /// Debug numbers are not pyrun's: say so in the header.
    private static var buildConfiguration: String {
        #if DEBUG
        return ", debug build: host-side figures are not representative"
        #else
        return ""
        #endif
    }

    private static func makeRuntimeDirectory() throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/pyrun-bench-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw ValidationError("cannot create a temporary directory") }
        return String(cString: made)
    }

    /// The commit measured, and whether the library or runner had uncommitted changes.
    private static func codeVersion() -> String {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        func git(_ arguments: [String]) -> String? {
            guard
                let peer = try? PipedProcess(
                    executable: "/usr/bin/git", arguments: ["-C", repository] + arguments, silenceErrors: true)
            else { return nil }
            var lines: [String] = []
            while let line = try? peer.readLine() { lines.append(String(decoding: line, as: UTF8.self)) }
            peer.waitForExit()
            return lines.joined(separator: "\n")
        }
        guard let commit = git(["rev-parse", "--short", "HEAD"]), !commit.isEmpty else { return "unknown (no git)" }
        let changed = git(["status", "--porcelain", "--", "Sources/PyRunKit", "runner/runner.py"]) ?? ""
        let count = changed.split(separator: "\n").count
        return count == 0
            ? "commit \(commit)" : "commit \(commit) + uncommitted changes in \(count) library/runner files"
    }

    private static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    private static func systemName() -> String {
        var name = utsname()
        uname(&name)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(name.sysname)) \(field(name.release)) \(field(name.machine))"
    }

    private static func cpuName() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        for line in info.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
        }
        return "unknown CPU"
    }

    /// Replaces BENCHMARKS.md's latest table, keeping whatever precedes the marker.
    private static func writeMarkdown(_ table: String, to path: String) throws {
        let marker = "<!-- pyrun-bench: the latest table follows; `--markdown BENCHMARKS.md` rewrites from here -->"
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# Benchmarks\n\n"
        let head = existing.components(separatedBy: marker).first ?? existing
        let text = head.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" + marker + "\n\n" + table + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
