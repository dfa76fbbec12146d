import ArgumentParser
import Foundation
import PyRunKit

/// The options that decide how the kernel starts and how long code may run; shared by the
/// one-shot and the interactive session.
struct KernelOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Interrupt the code after this many seconds (exit status 124).", valueName: "seconds"))
    var timeout: Seconds?

    @Option(
        name: .long, help: ArgumentHelp("Run the kernel in this directory (also first on sys.path).", valueName: "dir"))
    var cwd: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The interpreter: a path, or a name looked up on PATH (default: $VIRTUAL_ENV, ./.venv, python3).",
            valueName: "path-or-name"))
    var python: String?

    @OptionGroup var remote: ViaOption

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Load helpers before the code: `default` (pyrun's read, grep, sh, …), a .py file, a directory of them, or `none` (the default). Repeatable; loaded in order.",
            valueName: "default|none|path"))
    var prelude: [PreludeArgument] = []

    @Option(
        name: .long,
        help: ArgumentHelp("Set an environment variable for the kernel (repeatable).", valueName: "key=value"))
    var env: [EnvironmentAssignment] = []

    @Flag(name: .long, help: "Give the kernel only an allow-list of the environment (PATH, HOME, LANG, …) plus --env.")
    var cleanEnv = false

    @Option(name: .long, help: ArgumentHelp("Limit the kernel's address space, e.g. 512M or 2G.", valueName: "size"))
    var memoryLimit: ByteCount?

    @Option(
        name: .long, help: ArgumentHelp("Limit the kernel's CPU time (it is killed past it).", valueName: "seconds"))
    var cpuLimit: Int?

    @Option(
        name: .long,
        help: ArgumentHelp("Drop output past this many bytes (e.g. 10000 or 1M); a notice says so.", valueName: "bytes")
    )
    var maxOutput: ByteCount?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write image/* displays to files here (default: a new temporary directory).", valueName: "dir"))
    var displayDir: String?

    @Option(
        name: .customLong("host-fn"),
        help: ArgumentHelp(
            "Give the code host.NAME(**args), served by running COMMAND (sh -c) with the arguments as JSON on its stdin; its stdout, as JSON, is the value, and a non-zero exit raises HostCallError with its stderr (repeatable).",
            valueName: "name=command"))
    var hostFunctions: [HostFunctionAssignment] = []

    @Flag(name: .long, help: "Log what pyrun and the kernel do, to stderr.")
    var verbose = false

    mutating func validate() throws {
        // With --via the directory is the far side's: its start says when it is missing.
        if !remote.isRemote, let cwd {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: cwd, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--cwd \(cwd): no such directory")
            }
        }
        _ = try PreludeArgument.sources(prelude, byDefault: [])
        if let cpuLimit, cpuLimit <= 0 {
            throw ValidationError("--cpu-limit must be a positive number of seconds")
        }
        if let python, python.isEmpty {
            throw ValidationError("--python needs a path or a name")
        }
        try HostFunctionAssignment.validate(hostFunctions)
    }

    /// The kernel configuration these options describe.
    var configuration: KernelConfiguration {
        let variables = Dictionary(env.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        let environment: KernelEnvironment =
            cleanEnv ? .clean(setting: variables) : variables.isEmpty ? .inherit : .inheritUpdating(variables)
        var configuration = KernelConfiguration(
            interpreter: python.map { .path($0) } ?? .automatic,
            workingDirectory: cwd,
            environment: environment,
            prelude: (try? PreludeArgument.sources(prelude, byDefault: [])) ?? [],
            limits: ResourceLimits(memoryBytes: memoryLimit?.bytes, cpuSeconds: cpuLimit),
            hostFunctions: hostFunctions.map { HostFunction.command(name: $0.name, command: $0.command) },
            launcher: remote.launcher(python: python))
        remote.applyStartupTimeout(to: &configuration)
        return configuration
    }

    /// Options for each piece of code run, before any stdin handler is added.
    var executionOptions: ExecutionOptions {
        ExecutionOptions(timeout: timeout?.duration, maxOutputBytes: maxOutput?.bytes)
    }
}

/// A positive number of seconds, fractions allowed (`--timeout 0.5`).
struct Seconds: ExpressibleByArgument, Equatable {
    var value: Double

    init?(argument: String) {
        guard let value = Double(argument), value.isFinite, value > 0 else { return nil }
        self.value = value
    }

    var duration: Duration { .milliseconds(Int64((value * 1000).rounded(.up))) }
}

/// A size in bytes: a plain number, or one with a binary suffix K, M, G or T (`512M`,
/// `1.5G`, `64KiB`), as `ulimit` and docker users write them.
struct ByteCount: ExpressibleByArgument, Equatable {
    var bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
    }

    /// As a user would write it (`8M`), for `--help`.
    var defaultValueDescription: String {
        for (suffix, shift) in [("G", 30), ("M", 20), ("K", 10)] where bytes != 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    init?(argument: String) {
        var text = argument.trimmingCharacters(in: .whitespaces).uppercased()
        for unitSuffix in ["IB", "B"] where text.hasSuffix(unitSuffix) && text.count > unitSuffix.count {
            text.removeLast(unitSuffix.count)
            break
        }
        let multipliers: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
        var multiplier = 1.0
        if let last = text.last, let scale = multipliers[last] {
            multiplier = scale
            text.removeLast()
        }
        guard let number = Double(text), number.isFinite, number >= 0 else { return nil }
        let total = (number * multiplier).rounded(.down)
        guard total < Double(Int.max) else { return nil }
        self.bytes = Int(total)
    }
}

/// One `--env KEY=VALUE`.
struct EnvironmentAssignment: ExpressibleByArgument, Equatable {
    var key: String
    var value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        key = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }
}

/// One `--prelude`: `default`, `none`, or the path of a file or a directory.
struct PreludeArgument: ExpressibleByArgument, Equatable {
    var text: String

    init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        text = argument
    }

    /// The sources the `--prelude` options name, in order; `byDefault` when none was given.
    /// - Throws: `ValidationError` for a path that is neither a file nor a directory, or
    ///   `none` next to other sources.
    static func sources(_ arguments: [PreludeArgument], byDefault: [PreludeSource]) throws -> [PreludeSource] {
        guard !arguments.isEmpty else { return byDefault }
        if arguments.contains(where: { $0.text == "none" }) {
            guard arguments.count == 1 else {
                throw ValidationError("--prelude none cannot be combined with other preludes")
            }
            return []
        }
        return try arguments.map { argument in
            if argument.text == "default" { return .default }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument.text, isDirectory: &isDirectory) else {
                throw ValidationError("--prelude \(argument.text): no such file or directory (or say default or none)")
            }
            let url = URL(fileURLWithPath: argument.text)
            return isDirectory.boolValue ? .directory(url) : .file(url)
        }
    }
}
