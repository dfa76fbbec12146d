import Foundation

/// The files a harness kernel finds in its working directory when it starts: copies of
/// fixture directories, then files given as text (which win over a fixture of the same name).
///
/// ```swift
/// let workspace: Workspace = ["notes.txt": "a\nb\n", "src/app.py": "print('hi')\n"]
/// let fromFixtures = Workspace.fixtures(fixturesURL).adding(["extra.txt": "x"])
/// ```
public struct Workspace: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    /// Directories whose contents are copied in, in order.
    public var fixtureDirectories: [URL]
    /// Relative path → UTF-8 text; parent directories are created.
    public var files: [String: String]

    /// An empty workspace.
    public static let empty = Workspace(fixtureDirectories: [], files: [:])

    /// Creates a workspace from fixture directories and text files.
    public init(fixtureDirectories: [URL] = [], files: [String: String] = [:]) {
        self.fixtureDirectories = fixtureDirectories
        self.files = files
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(files: Dictionary(elements) { _, last in last })
    }

    /// A copy of everything in `directory` (a test's `fixtures/`).
    public static func fixtures(_ directory: URL) -> Workspace {
        Workspace(fixtureDirectories: [directory])
    }

    /// This workspace with more text files.
    public func adding(_ more: [String: String]) -> Workspace {
        var copy = self
        copy.files.merge(more) { _, new in new }
        return copy
    }

    /// Fills `directory` (which exists and is empty).
    /// - Throws: `HarnessFailure` for a path that leaves the workspace or a fixture that
    ///   cannot be copied.
    func materialize(in directory: URL) throws {
        let fileManager = FileManager.default
        for fixtures in fixtureDirectories {
            let entries: [String]
            do {
                entries = try fileManager.contentsOfDirectory(atPath: fixtures.path)
            } catch {
                throw HarnessFailure(
                    "cannot read the fixture directory \(fixtures.path): \(error.localizedDescription)")
            }
            for name in entries.sorted() {
                let target = directory.appendingPathComponent(name)
                try? fileManager.removeItem(at: target)
                do {
                    try fileManager.copyItem(at: fixtures.appendingPathComponent(name), to: target)
                } catch {
                    throw HarnessFailure(
                        "cannot copy the fixture \(name) from \(fixtures.path): \(error.localizedDescription)")
                }
            }
        }
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let components = path.split(separator: "/", omittingEmptySubsequences: true)
            guard !path.hasPrefix("/"), !components.isEmpty, !components.contains("..") else {
                throw HarnessFailure(
                    "workspace file \(path.debugDescription): a path inside the workspace is needed (relative, without ..)"
                )
            }
            let target = directory.appendingPathComponent(components.joined(separator: "/"))
            try fileManager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: target)
        }
    }
}
