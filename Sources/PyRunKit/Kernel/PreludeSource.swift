import Foundation

/// Python a kernel runs before its first execution, whose helpers the code can call
/// (`read("a.py")`, `grep("TODO")`, `sh("make test")`). A kernel's prelude is a list of
/// these, loaded in order; each becomes a module of its own, and its `__all__` (or else its
/// public names) is copied into `__main__`, as `from module import *` would.
///
/// ```swift
/// KernelConfiguration(prelude: [.default, .file(URL(fileURLWithPath: "tools.py"))])
/// ```
///
/// A source that raises while loading does not stop the others or the kernel: the failure is
/// in `KernelHello.preludeFailures`, and the kernel's first execution carries a
/// `KernelNotice` of kind `.preludeFailed`.
public struct PreludeSource: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case bundled(BundledModule)
        case file(String)
        case directory(String)
        case module(String)
    }

    let kind: Kind
    /// Whether the module's names are copied into `__main__`.
    let exportsNames: Bool

    /// pyrun's default agent prelude (module `pyrun_prelude`): `read`, `write`, `append`,
    /// `replace`, `diff`, `ls`, `tree`, `find`, `grep`, `sh`, `env`. Carried inside the binary
    /// and installed next to the runner.
    public static let `default` = PreludeSource(kind: .bundled(.prelude), exportsNames: true)

    /// pyrun's in-kernel test runner (module `pyrun_testing`, what `pyrun test` and
    /// PyRunTesting's `PythonTestRun` drive): importable, but none of its names are put in
    /// `__main__`.
    public static let testSupport = PreludeSource(kind: .bundled(.testing), exportsNames: false)

    /// A Python file, loaded as the module named after its stem (`tools.py` → `tools`).
    public static func file(_ url: URL) -> PreludeSource {
        PreludeSource(kind: .file(url.standardizedFileURL.path), exportsNames: true)
    }

    /// Every `*.py` file directly in a directory (hidden ones aside), in name order, as
    /// `.file` each; a file may import the ones loaded before it by their stem.
    public static func directory(_ url: URL) -> PreludeSource {
        PreludeSource(kind: .directory(url.standardizedFileURL.path), exportsNames: true)
    }

    /// A module the kernel's interpreter can import (installed in its environment, or on
    /// `sys.path` from the working directory).
    public static func module(_ name: String) -> PreludeSource {
        PreludeSource(kind: .module(name), exportsNames: true)
    }

    public var description: String {
        switch kind {
        case .bundled(let module): module == .prelude ? "default" : module.moduleName
        case .file(let path): "file \(path)"
        case .directory(let path): "directory \(path)"
        case .module(let name): "module \(name)"
        }
    }

    /// The Python modules this source loads, in order (a directory's are listed now).
    public func moduleNames() -> [String] {
        switch kind {
        case .bundled(let module): [module.moduleName]
        case .file(let path): [Self.stem(path)]
        case .directory(let path): Self.pythonFiles(in: path).map(Self.stem)
        case .module(let name): [name]
        }
    }

    /// The runner's `PYRUN_PRELUDE` entries for this source (see runner.py's
    /// `_prelude_entries`). A directory that cannot be listed stays one entry, so the runner
    /// reports it as a failure of that path like any file it cannot read.
    func runnerEntries() throws(KernelError) -> [JSONValue] {
        let export: [String: JSONValue] = exportsNames ? [:] : ["export": .bool(false)]
        func entry(_ fields: [String: JSONValue]) -> JSONValue { .object(fields.merging(export) { a, _ in a }) }
        switch kind {
        case .bundled(let module):
            return [entry(["path": .string(try module.installedPath()), "cacheBytecode": .bool(true)])]
        case .file(let path):
            return [entry(["path": .string(path)])]
        case .directory(let path):
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                return [entry(["path": .string(path)])]
            }
            return Self.pythonFiles(in: path).map { entry(["path": .string($0)]) }
        case .module(let name):
            return [entry(["module": .string(name)])]
        }
    }

    /// The `*.py` files directly in `directory`, hidden ones aside, sorted by name.
    static func pythonFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".py") && !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { "\(directory)/\($0)" }
            .filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
    }

    static func stem(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }
}

extension [PreludeSource] {
    /// `PYRUN_PRELUDE`: the sources' entries as one JSON list; nil for no prelude.
    func runnerSpecification() throws(KernelError) -> String? {
        guard !isEmpty else { return nil }
        var entries: [JSONValue] = []
        for source in self { entries += try source.runnerEntries() }
        return JSONValue.array(entries).serialized()
    }
}
