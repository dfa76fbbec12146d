import Foundation
import PyRunKit

/// The Python interpreters this machine offers, for `/kernels` and `/kernel set`: the
/// virtual environment, `./.venv`, versioned and plain names on PATH, and pyenv's versions.
enum InterpreterCatalog {
    /// Every usable interpreter found, one per real executable, in the order above.
    static func discover(environment: [String: String], workingDirectory: String?) async -> [PythonInterpreter] {
        var found: [PythonInterpreter] = []
        var seen: Set<String> = []
        for candidate in candidates(environment: environment, workingDirectory: workingDirectory) {
            guard
                let interpreter = try? await InterpreterResolver.resolve(
                    .path(candidate), workingDirectory: workingDirectory, environment: environment)
            else { continue }
            let identity = realPath(interpreter.executable)
            if seen.insert(identity).inserted { found.append(interpreter) }
        }
        return found
    }

    /// Finds the interpreter a user named: a path, a name on PATH (`python3.12`), or a
    /// version of a discovered one (`3.12`, `3.12.1`).
    static func find(
        _ name: String, among known: [PythonInterpreter], environment: [String: String], workingDirectory: String?
    ) async -> PythonInterpreter? {
        if let interpreter = try? await InterpreterResolver.resolve(
            .path(name), workingDirectory: workingDirectory, environment: environment)
        {
            return interpreter
        }
        return known.first { interpreter in
            let version = interpreter.version
            return name == "\(version)" || name == "\(version.major).\(version.minor)"
                || name == "python\(version.major).\(version.minor)"
        }
    }

    /// The path with symlinks resolved, so two names of one interpreter compare equal.
    static func realPath(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    private static func candidates(environment: [String: String], workingDirectory: String?) -> [String] {
        var paths: [String] = []
        if let virtualEnv = environment["VIRTUAL_ENV"], !virtualEnv.isEmpty { paths.append("\(virtualEnv)/bin/python") }
        let base = workingDirectory ?? FileManager.default.currentDirectoryPath
        paths.append("\(base)/.venv/bin/python")
        paths.append("python3")
        paths += (9...15).map { "python3.\($0)" }
        paths.append("python")
        // The system's own, which a version manager's shims usually hide on PATH.
        paths += ["/usr/bin/python3", "/usr/local/bin/python3", "/opt/homebrew/bin/python3"]
        let pyenvRoot = environment["PYENV_ROOT"] ?? "\(environment["HOME"] ?? NSHomeDirectory())/.pyenv"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "\(pyenvRoot)/versions")) ?? []
        paths += versions.sorted().map { "\(pyenvRoot)/versions/\($0)/bin/python3" }
        // Names that are not on PATH and paths that do not exist simply fail to resolve.
        return paths.filter { !$0.contains("/") || FileManager.default.isExecutableFile(atPath: $0) }
    }
}
