import Foundation

extension PreludeSource {
    /// The prelude entries of this source for a runner on the far side of a launcher, whose
    /// disk has none of the host's files: the host reads them (the bundled module, a file,
    /// each file of a directory) and sends their text as `{"name", "source", "filename"}`
    /// entries, `filename` the host's path so tracebacks name it. A module name is imported
    /// there, from the far side's own environment.
    /// - Throws: `KernelError` (`.invalidConfiguration`) when a file or directory cannot be read
    ///   on the host: there is no far-side file to report its failure as.
    func sentRunnerEntries() throws(KernelError) -> [JSONValue] {
        let export: [String: JSONValue] = exportsNames ? [:] : ["export": .bool(false)]
        func sent(name: String, source: String, filename: String) -> JSONValue {
            .object(
                ["name": .string(name), "source": .string(source), "filename": .string(filename)].merging(export) {
                    a, _ in a
                })
        }
        switch kind {
        case .bundled(let module):
            return [
                sent(
                    name: module.moduleName, source: String(decoding: module.source, as: UTF8.self),
                    filename: "<pyrun \(module.moduleName).py>")
            ]
        case .file(let path):
            return [sent(name: Self.stem(path), source: try Self.hostText(path), filename: path)]
        case .directory(let path):
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw KernelError(
                    .invalidConfiguration, "the prelude directory \(path) is not a directory on this host")
            }
            var entries: [JSONValue] = []
            for file in Self.pythonFiles(in: path) {
                entries.append(sent(name: Self.stem(file), source: try Self.hostText(file), filename: file))
            }
            return entries
        case .module(let name):
            return [.object(["module": .string(name)].merging(export) { a, _ in a })]
        }
    }

    /// A prelude file's text, read on the host.
    private static func hostText(_ path: String) throws(KernelError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KernelError(
                .invalidConfiguration, "the prelude file \(path) cannot be read on this host, which sends it")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension [PreludeSource] {
    /// The start line's `prelude`: every source's entries, their files read here; nil for no
    /// prelude.
    func sentRunnerEntries() throws(KernelError) -> [JSONValue]? {
        guard !isEmpty else { return nil }
        var entries: [JSONValue] = []
        for source in self { entries += try source.sentRunnerEntries() }
        return entries
    }
}
