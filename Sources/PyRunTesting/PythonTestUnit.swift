import Foundation

/// What one fresh kernel runs in a `PythonTestRun`: a test file, or the doctests of a
/// prelude module.
public enum PythonTestUnit: Sendable, Hashable, CustomStringConvertible {
    /// A `test_*.py` file, by absolute path.
    case file(String)
    /// The doctests of a module the kernel imports (a prelude's).
    case doctests(module: String)

    /// How output names it: a file relative to the current directory when it lies inside it.
    public var description: String {
        switch self {
        case .file(let path): Self.relative(path)
        case .doctests(let module): "doctests of \(module)"
        }
    }

    /// The directory whose `fixtures/` fill the unit's workspace; nil for doctests.
    var directory: URL? {
        guard case .file(let path) = self else { return nil }
        return URL(fileURLWithPath: path).deletingLastPathComponent()
    }

    static func relative(_ path: String) -> String {
        let current = FileManager.default.currentDirectoryPath
        let prefix = current.hasSuffix("/") ? current : current + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// The test files under `paths`: a file is taken as given; a directory is searched for
    /// `test_*.py`, in name order, skipping hidden directories, `fixtures`, `__pycache__`
    /// and virtual environments.
    /// - Throws: `PythonTestRunError.usage` for a path that does not exist.
    static func discover(_ paths: [String]) throws(PythonTestRunError) -> [PythonTestUnit] {
        var found: [String] = []
        let fileManager = FileManager.default
        for path in paths {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
                throw .usage("\(path): no such file or directory")
            }
            if isDirectory.boolValue {
                found += testFiles(under: absolute)
            } else {
                found.append(absolute)
            }
        }
        var seen = Set<String>()
        return found.filter { seen.insert($0).inserted }.map { .file($0) }
    }

    private static let skippedDirectories: Set<String> = ["fixtures", "__pycache__", "node_modules", "venv"]

    private static func testFiles(under directory: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var files: [String] = []
        var subdirectories: [String] = []
        for name in names where !name.hasPrefix(".") {
            let path = "\(directory)/\(name)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                if !skippedDirectories.contains(name) { subdirectories.append(path) }
            } else if name.hasPrefix("test_"), name.hasSuffix(".py") {
                files.append(path)
            }
        }
        return files + subdirectories.flatMap(testFiles(under:))
    }
}

/// Why a `PythonTestRun` could not run as asked.
public enum PythonTestRunError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A path, a `-k` expression or an option that does not work (exit status 4).
    case usage(String)

    public var description: String {
        switch self {
        case .usage(let message): message
        }
    }
}
