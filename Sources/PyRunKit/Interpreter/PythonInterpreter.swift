import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which Python a kernel should run.
public enum InterpreterChoice: Sendable, Hashable, CustomStringConvertible {
    /// `$VIRTUAL_ENV`, else `./.venv` in the working directory, else `python3` on `PATH`.
    case automatic
    /// A path to an interpreter, or a command name looked up on `PATH`.
    case path(String)

    public var description: String {
        switch self {
        case .automatic: "automatic"
        case .path(let path): path
        }
    }
}

/// A Python version such as 3.11.7.
public struct PythonVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 3 of 3.11.7.
    public var major: Int
    /// The 11 of 3.11.7.
    public var minor: Int
    /// The 7 of 3.11.7.
    public var micro: Int

    /// The version `major.minor.micro`.
    public init(_ major: Int, _ minor: Int, _ micro: Int = 0) {
        self.major = major
        self.minor = minor
        self.micro = micro
    }

    /// The oldest Python the runner supports.
    public static let minimumSupported = PythonVersion(3, 9)

    public static func < (lhs: PythonVersion, rhs: PythonVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.micro) < (rhs.major, rhs.minor, rhs.micro)
    }

    public var description: String { "\(major).\(minor).\(micro)" }

    /// Parses `3.11.7` (also `3.11` or `3.13.0rc1`, whose suffix is ignored).
    public init?(parsing text: String) {
        let parts = text.split(separator: ".").map { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        self.init(major, minor, parts.count > 2 ? parts[2] ?? 0 : 0)
    }
}

/// Where an interpreter was found.
public enum InterpreterSource: String, Sendable, Hashable {
    case explicit
    case virtualEnv
    case localVenv
    case path
    case pyenv
    /// The far side's interpreter of a remote kernel, as its launcher names it
    /// (`KernelLauncher.python`); its executable and version are what its `hello` said.
    case farSide
}

/// An interpreter resolved to the real executable behind any shim, with its version.
public struct PythonInterpreter: Sendable, Hashable, CustomStringConvertible {
    /// The path as found (possibly a shim or symlink).
    public var path: String
    /// `sys.executable`: what kernels spawn, so shims are paid for once.
    public var executable: String
    /// The version its `hello` (or the probe) reported.
    public var version: PythonVersion
    /// Where it was found.
    public var source: InterpreterSource

    /// An interpreter record; PyRunKit makes these when it resolves or starts one.
    public init(path: String, executable: String, version: PythonVersion, source: InterpreterSource) {
        self.path = path
        self.executable = executable
        self.version = version
        self.source = source
    }

    /// `executable` with every symlink resolved: two names of one interpreter
    /// (`/bin/python3`, `/usr/bin/python3.11`) have the same real path.
    public var realExecutablePath: String { InterpreterDiscovery.realPath(executable) }

    /// "Python 3.12.1 at /usr/bin/python3 (path)".
    public var description: String {
        let real = executable == path ? "" : " → \(executable)"
        return "Python \(version) at \(path)\(real) (\(source.rawValue))"
    }
}

/// Finds interpreters; `resolve` also asks one what it really is (once per process), for
/// listings and callers that need the version before starting a kernel.
public enum InterpreterResolver {
    private struct ProbeKey: Hashable {
        let path: String
        let workingDirectory: String?
        /// pyenv's shims pick a version by this variable (and by directory).
        let pyenvVersion: String?
    }

    /// One probe per interpreter per process, shared by everyone who asks at the same
    /// time: twenty kernels starting together through a shim pay for it once.
    private static let probes = Mutex<[ProbeKey: Task<PythonInterpreter, any Error>]>([:])

    /// Resolves `choice` to a usable interpreter of Python 3.9 or newer.
    /// - Parameters:
    ///   - choice: the interpreter asked for (`.automatic`, or a path or command name).
    ///   - workingDirectory: where `./.venv` is looked for, and where the probe runs (pyenv
    ///     picks a version by directory).
    ///   - environment: the environment the kernel will have.
    /// - Throws: `KernelError` with `.interpreterNotFound`, `.interpreterTooOld` or `.interpreterUnusable`.
    public static func resolve(
        _ choice: InterpreterChoice, workingDirectory: String?, environment: [String: String]
    ) async throws -> PythonInterpreter {
        let (path, source) = try locate(choice, workingDirectory: workingDirectory, environment: environment)
        return try await probeOnce(
            path: path, source: source, workingDirectory: workingDirectory, environment: environment)
    }

    /// Probes `path` unless this process already did, and checks the version.
    static func probeOnce(
        path: String, source: InterpreterSource, workingDirectory: String?, environment: [String: String]
    ) async throws(KernelError) -> PythonInterpreter {
        let key = ProbeKey(path: path, workingDirectory: workingDirectory, pyenvVersion: environment["PYENV_VERSION"])
        let task = probes.withLock { probes in
            if let running = probes[key] { return running }
            let task = Task<PythonInterpreter, any Error> {
                let interpreter = try await probe(path: path, source: source, environment: environment)
                guard interpreter.version >= .minimumSupported else {
                    throw KernelError(
                        .interpreterTooOld,
                        "\(path) is Python \(interpreter.version); pyrun needs Python \(PythonVersion.minimumSupported.major).\(PythonVersion.minimumSupported.minor) or newer"
                    )
                }
                return interpreter
            }
            probes[key] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            // A failed probe is not remembered: the interpreter may be installed or fixed later.
            probes.withLock { _ = $0.removeValue(forKey: key) }
            throw error as? KernelError ?? KernelError(.interpreterUnusable, "\(error)")
        }
    }

    /// True when `path` is a script (`#!`), such as pyenv's shim: spawning it costs a shell
    /// and more on every start, so kernels probe it once for the real executable instead.
    static func isScript(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 2)) == Data("#!".utf8)
    }

    /// Finds the interpreter's path without running it.
    static func locate(
        _ choice: InterpreterChoice, workingDirectory: String?, environment: [String: String]
    ) throws(KernelError) -> (String, InterpreterSource) {
        let searchPath = environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        switch choice {
        case .path(let given):
            if given.contains("/") {
                let absolute = absolutePath(given, relativeTo: workingDirectory)
                guard isExecutableFile(absolute) else {
                    throw KernelError(
                        .interpreterNotFound,
                        "no Python interpreter at \(absolute): the file does not exist or is not executable")
                }
                return (absolute, .explicit)
            }
            guard let found = findOnPath(given, searchPath: searchPath) else {
                throw KernelError(.interpreterNotFound, "no interpreter named \(given) on PATH (\(searchPath))")
            }
            return (found, .explicit)
        case .automatic:
            var tried: [String] = []
            if let virtualEnv = environment["VIRTUAL_ENV"], !virtualEnv.isEmpty {
                let candidate = "\(virtualEnv)/bin/python"
                if isExecutableFile(candidate) { return (candidate, .virtualEnv) }
                tried.append("$VIRTUAL_ENV (\(candidate))")
            } else {
                tried.append("$VIRTUAL_ENV (not set)")
            }
            let localVenv = absolutePath(".venv/bin/python", relativeTo: workingDirectory)
            if isExecutableFile(localVenv) { return (localVenv, .localVenv) }
            tried.append(localVenv)
            if let found = findOnPath("python3", searchPath: searchPath) {
                return (found, found.contains("/.pyenv/shims/") ? .pyenv : .path)
            }
            tried.append("python3 on PATH (\(searchPath))")
            throw KernelError(
                .interpreterNotFound, "no Python interpreter found; tried \(tried.joined(separator: ", "))")
        }
    }

    static func absolutePath(_ path: String, relativeTo directory: String?) -> String {
        if path.hasPrefix("/") { return path }
        let base = directory ?? FileManager.default.currentDirectoryPath
        return base.hasSuffix("/") ? base + path : "\(base)/\(path)"
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    static func findOnPath(_ name: String, searchPath: String) -> String? {
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// The probe prints `sys.executable` and the version as JSON; nothing else of the
    /// interpreter is trusted. It runs isolated (`-I`: no user site, no environment, and no
    /// working directory on `sys.path`, where a `json.py` would shadow the standard one).
    static let probeCode =
        "import sys,json;print(json.dumps({'executable':sys.executable,'version':list(sys.version_info[:3])}))"

    private static func probe(
        path: String, source: InterpreterSource, environment: [String: String]
    ) async throws(KernelError) -> PythonInterpreter {
        let command = LaunchCommand(executable: path, arguments: ["-I", "-S", "-c", probeCode])
        typealias ProbeOutput = (status: TerminationStatus, stdout: [UInt8], stderr: [UInt8])
        let outcome: Result<ProbeOutput, SpawnError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(SpawnError) {
                    let child = try Spawn.start(command, environment: environment)
                    close(child.stdin)
                    // Both pipes are drained: a warning on stderr must neither block the
                    // interpreter nor kill it with SIGPIPE.
                    let collected = ProbeRun.collect(child)
                    continuation.resume(returning: .success((collected.status, collected.stdout, collected.stderr)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.start()
        }
        let probed: ProbeOutput
        switch outcome {
        case .success(let value): probed = value
        case .failure(let error): throw KernelError(.interpreterUnusable, "cannot run \(path): \(error)")
        }
        let firstLine = Array(probed.stdout.prefix { $0 != 0x0A })
        guard probed.status == .exited(0), let json = try? JSONValue.parse(firstLine),
            let executable = json["executable"]?.stringValue,
            let parts = json["version"]?.arrayValue?.compactMap(\.intValue), parts.count == 3
        else {
            let said = String(decoding: probed.stderr.suffix(300), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw KernelError(
                .interpreterUnusable,
                "\(path) did not answer as a Python interpreter (\(probed.status))\(said.isEmpty ? "" : ": \(said)")")
        }
        let version = PythonVersion(parts[0], parts[1], parts[2])
        // An empty sys.executable happens with embedded interpreters: keep the path we found.
        return PythonInterpreter(
            path: path, executable: executable.isEmpty ? path : executable, version: version, source: source)
    }
}
