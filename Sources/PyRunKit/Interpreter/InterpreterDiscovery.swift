import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the Python interpreters on this machine, for `/kernels` listings and
/// `/kernel set NAME`.
public enum InterpreterDiscovery {
    /// A place an interpreter may live, before it is asked what it is.
    struct Candidate: Hashable {
        var path: String
        var source: InterpreterSource
    }

    /// Every usable interpreter (Python 3.9 or newer): `$VIRTUAL_ENV`, `./.venv` of
    /// `workingDirectory`, `python3` and `python3.X` on `PATH`, and pyenv versions under
    /// `$PYENV_ROOT/versions` or `~/.pyenv/versions`. Each is asked for its version;
    /// several paths to one real executable are listed once, the first found wins.
    /// - Parameters:
    ///   - environment: where `PATH`, `VIRTUAL_ENV`, `PYENV_ROOT` and `HOME` come from.
    ///   - workingDirectory: where `./.venv` is looked for; nil means the host's.
    public static func availableInterpreters(
        environment: [String: String] = ProcessInfo.processInfo.environment, workingDirectory: String? = nil
    ) async -> [PythonInterpreter] {
        let candidates = self.candidates(environment: environment, workingDirectory: workingDirectory)
        let probed = await withTaskGroup(of: (Int, PythonInterpreter?).self) { group in
            for (index, candidate) in candidates.enumerated() {
                group.addTask {
                    let interpreter = try? await InterpreterResolver.resolve(
                        .path(candidate.path), workingDirectory: workingDirectory, environment: environment)
                    return (
                        index,
                        interpreter.map { found in
                            var found = found
                            found.source = candidate.source
                            return found
                        }
                    )
                }
            }
            var results = [PythonInterpreter?](repeating: nil, count: candidates.count)
            for await (index, interpreter) in group { results[index] = interpreter }
            return results
        }
        var seen: Set<String> = []
        var interpreters: [PythonInterpreter] = []
        for interpreter in probed.compactMap({ $0 }) {
            guard seen.insert(realPath(interpreter.executable)).inserted else { continue }
            interpreters.append(interpreter)
        }
        return interpreters
    }

    /// Picks the interpreter a person means by `name` among `available`: a path
    /// (`/usr/bin/python3.11`, `.venv/bin/python`), a command (`python3.11`) or a version
    /// (`3.11`, `3.11.7`: the newest match).
    /// - Throws: `KernelError` `.interpreterNotFound` that lists what exists.
    public static func interpreter(
        named name: String, among available: [PythonInterpreter],
        environment: [String: String] = ProcessInfo.processInfo.environment, workingDirectory: String? = nil
    ) async throws -> PythonInterpreter {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed.contains("/") {
            let path = InterpreterResolver.absolutePath(trimmed, relativeTo: workingDirectory)
            if let known = available.first(where: { $0.path == path || $0.executable == path }) { return known }
            if InterpreterResolver.isExecutableFile(path),
                let explicit = try? await InterpreterResolver.resolve(
                    .path(path), workingDirectory: workingDirectory, environment: environment)
            {
                return explicit
            }
        } else if let version = PythonVersion(parsing: trimmed), trimmed.first?.isNumber == true {
            let wantsMicro = trimmed.split(separator: ".").count >= 3
            let matches = available.filter {
                $0.version.major == version.major && $0.version.minor == version.minor
                    && (!wantsMicro || $0.version.micro == version.micro)
            }
            if let newest = matches.max(by: { $0.version < $1.version }) { return newest }
        } else {
            if let known = available.first(where: { ($0.path as NSString).lastPathComponent == trimmed }) {
                return known
            }
        }
        throw KernelError(.interpreterNotFound, unknownNameMessage(trimmed, available: available))
    }

    /// "no interpreter named X; available: …", one line per interpreter.
    static func unknownNameMessage(_ name: String, available: [PythonInterpreter]) -> String {
        guard !available.isEmpty else {
            return "no interpreter named '\(name)', and no Python 3.9+ interpreter was found on this machine"
        }
        let lines = available.map {
            "  \(displayName(of: $0))  Python \($0.version)  (\($0.source.rawValue)) \($0.path)"
        }
        return "no interpreter named '\(name)'; available:\n" + lines.joined(separator: "\n")
    }

    /// A short name for menus: the command name, or `pyenv 3.11.7`, `venv`.
    public static func displayName(of interpreter: PythonInterpreter) -> String {
        switch interpreter.source {
        case .pyenv: "pyenv \(interpreter.version)"
        case .virtualEnv: "venv"
        case .localVenv: ".venv"
        case .path, .explicit: (interpreter.path as NSString).lastPathComponent
        case .farSide: "\(interpreter.path) (far side)"
        }
    }

    // MARK: - Candidates

    static func candidates(environment: [String: String], workingDirectory: String?) -> [Candidate] {
        var found: [Candidate] = []
        var seenPaths: Set<String> = []
        func add(_ path: String, _ source: InterpreterSource) {
            guard InterpreterResolver.isExecutableFile(path), seenPaths.insert(path).inserted else { return }
            found.append(Candidate(path: path, source: source))
        }
        if let virtualEnv = environment["VIRTUAL_ENV"], !virtualEnv.isEmpty {
            add("\(virtualEnv)/bin/python", .virtualEnv)
        }
        add(InterpreterResolver.absolutePath(".venv/bin/python", relativeTo: workingDirectory), .localVenv)
        let searchPath = environment["PATH"] ?? "/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: String(directory))) ?? []
            for name in names.filter(isVersionedPythonName).sorted(by: pythonNameOrder) {
                let path = "\(directory)/\(name)"
                // pyenv's shims run whatever version is selected; the versions are listed below.
                add(path, path.contains("/.pyenv/shims/") ? .pyenv : .path)
            }
        }
        let pyenvRoot =
            environment["PYENV_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["HOME"].map { "\($0)/.pyenv" }
        if let pyenvRoot {
            let versionsDirectory = "\(pyenvRoot)/versions"
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: versionsDirectory)) ?? []
            for version in versions.sorted() {
                add("\(versionsDirectory)/\(version)/bin/python3", .pyenv)
            }
        }
        return found
    }

    /// `python3` or `python3.X`, not `python3-config` or `python3.11m-config`.
    static func isVersionedPythonName(_ name: String) -> Bool {
        guard name.hasPrefix("python3") else { return false }
        let rest = name.dropFirst("python3".count)
        if rest.isEmpty { return true }
        guard rest.first == "." else { return false }
        let minor = rest.dropFirst()
        return !minor.isEmpty && minor.allSatisfy(\.isNumber)
    }

    /// `python3` first, then by minor version, newest first.
    static func pythonNameOrder(_ lhs: String, _ rhs: String) -> Bool {
        func minor(_ name: String) -> Int { Int(name.dropFirst("python3.".count)) ?? Int.max }
        return minor(lhs) > minor(rhs)
    }

    /// The path with every symlink resolved (`/bin/python3` → `/usr/bin/python3.11`), or the
    /// path itself when it cannot be resolved.
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension KernelPool {
    /// The Python interpreters on this machine (see `InterpreterDiscovery.availableInterpreters`),
    /// looked up with the environment and working directory of the pool's default configuration.
    public nonisolated func availableInterpreters() async -> [PythonInterpreter] {
        let defaults = configuration.defaultConfiguration
        return await InterpreterDiscovery.availableInterpreters(
            environment: defaults.environment.resolved(base: ProcessInfo.processInfo.environment),
            workingDirectory: defaults.workingDirectory)
    }

    /// The interpreter a person means by `name` (`python3.11`, `3.11`, or a path), for
    /// `/kernel set NAME`; use its `path` in `KernelConfiguration.interpreter`.
    /// - Throws: `KernelError` `.interpreterNotFound` with a message that lists what exists.
    public nonisolated func interpreter(named name: String) async throws -> PythonInterpreter {
        let defaults = configuration.defaultConfiguration
        let environment = defaults.environment.resolved(base: ProcessInfo.processInfo.environment)
        return try await InterpreterDiscovery.interpreter(
            named: name, among: await availableInterpreters(), environment: environment,
            workingDirectory: defaults.workingDirectory)
    }
}
