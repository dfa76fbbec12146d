import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

/// Preludes in the library: sources that compose, the bundled default installed once next to
/// the runner, failures as typed values and a notice, and helper statuses decoded.
@Suite struct PreludeTests {
    /// Writes `files` (name → text) into `directory`.
    private func write(_ files: [String: String], in directory: String) throws {
        for (name, text) in files {
            try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        }
    }

    // MARK: - Sources

    @Test func theDefaultPreludeIsInstalledInAContentHashedDirectoryNextToTheRunner() async throws {
        let configuration = KernelConfiguration(prelude: [.default], interruptGrace: .seconds(10))
        try await withKernel(configuration: configuration) { kernel throws in
            let hello = try await kernel.start()
            #expect(hello.preludeFailures.isEmpty)
            let path = try #require(try await kernel.run("import pyrun_prelude\npyrun_prelude.__file__").resultText)
            let source = BundledModule.prelude.source
            let expected =
                "\(try RunnerInstallation.privateDirectory())/prelude-\(String(RunnerInstallation.contentHash(source), radix: 16))/pyrun_prelude.py"
            #expect(path == "'\(expected)'")
            #expect(FileManager.default.contents(atPath: expected) == Data(source))
            // Its helpers are in __main__, and nothing but its __all__ is.
            let names = try await kernel.run("sorted(n for n in globals() if not n.startswith('_'))").resultText
            #expect(
                names
                    == "['append', 'diff', 'env', 'find', 'grep', 'ls', 'pyrun_prelude', 'read', 'replace', 'sh', 'tree', 'write']"
            )
        }
    }

    @Test func sourcesComposeInOrderAndADirectoryLoadsItsFilesByName() async throws {
        try await withTemporaryDirectory { directory throws in
            try FileManager.default.createDirectory(atPath: "\(directory)/tools", withIntermediateDirectories: true)
            try write(
                [
                    "tools/b_second.py": "import a_first\nORDER = a_first.ORDER + ['b']\nWHO = 'b'\n",
                    "tools/a_first.py": "ORDER = ['a']\nWHO = 'a'\n",
                    "tools/.hidden.py": "raise RuntimeError('hidden files are not loaded')\n",
                    "tools/notes.txt": "not python\n",
                    "last.py": "import b_second\nWHO = 'last'\nORDER = b_second.ORDER + ['last']\n",
                ], in: directory)
            let configuration = KernelConfiguration(
                workingDirectory: directory,
                prelude: [
                    .directory(URL(fileURLWithPath: "\(directory)/tools")), .module("json"),
                    .file(URL(fileURLWithPath: "\(directory)/last.py")),
                ])
            try await withKernel(configuration: configuration) { kernel throws in
                #expect(try await kernel.start().preludeFailures.isEmpty)
                // Each file imports those loaded before it by their stem; a later name wins.
                let result = try await kernel.run("WHO, ORDER, dumps([1])")
                #expect(result.resultText == "('last', ['a', 'b', 'last'], '[1]')", "\(result)")
            }
        }
    }

    @Test func aPreludeThatRaisesIsATypedFailureAndTheFirstResultSaysSo() async throws {
        try await withTemporaryDirectory { directory throws in
            try write(
                [
                    "a_ok.py": "def from_a():\n    return 'a'\n",
                    "b_broken.py": "def from_b():\n    return 'b'\n\nraise ValueError('b is broken')\n",
                    "c_ok.py": "def from_c():\n    return 'c'\n",
                ], in: directory)
            let configuration = KernelConfiguration(
                prelude: [.directory(URL(fileURLWithPath: directory))], interruptGrace: .seconds(10))
            try await withKernel(configuration: configuration) { kernel throws in
                let hello = try await kernel.start()
                let failure = try #require(hello.preludeFailures.first)
                #expect(hello.preludeFailures.count == 1)
                #expect(failure.file == "\(directory)/b_broken.py")
                #expect(failure.line == 4)
                #expect(failure.error.name == "ValueError")
                #expect(failure.error.traceback.joined(separator: "\n").contains("b_broken.py\", line 4"))

                // A silent set-up execution does not swallow the notice.
                _ = try await kernel.run("setup_done = True", options: ExecutionOptions(silent: true))
                let first = try await kernel.run("from_a(), from_b(), from_c()")
                #expect(first.resultText == "('a', 'b', 'c')")
                #expect(first.notices.map(\.kind) == [.preludeFailed(hello.preludeFailures)])
                #expect(first.notices.first?.stateLost == false)
                #expect(
                    first.notices.first?.description.contains("b_broken.py raised at line 4: ValueError: b is broken")
                        == true)
                #expect(try await kernel.run("1").notices.isEmpty)

                // A fresh process of the same kernel says it again, once.
                _ = try await kernel.restart()
                #expect(try await kernel.run("2").notices.count == 1)
                #expect(try await kernel.run("3").notices.isEmpty)
            }
        }
    }

    @Test func aMissingPreludeIsAFailureOfItsPathNotOfTheKernel() async throws {
        let missing = "/nonexistent/pyrun-prelude"
        let configuration = KernelConfiguration(
            prelude: [
                .directory(URL(fileURLWithPath: missing)), .file(URL(fileURLWithPath: "\(missing)/x.py")), .default,
            ])
        try await withKernel(configuration: configuration) { kernel throws in
            let failures = try await kernel.start().preludeFailures
            #expect(failures.map(\.file) == [missing, "\(missing)/x.py"])
            #expect(failures.map(\.error.name) == ["FileNotFoundError", "FileNotFoundError"])
            #expect(try await kernel.run("callable(read)").resultText == "True")
        }
    }

    // MARK: - Statuses

    @Test func helperStatusesAreTypedValuesInResultsAndStreams() async throws {
        try await withTemporaryDirectory { directory throws in
            let configuration = KernelConfiguration(workingDirectory: directory, prelude: [.default])
            try await withKernel(configuration: configuration) { kernel throws in
                let result = try await kernel.run("write('notes/a.txt', 'x\\ny\\n')\nread('notes/a.txt')")
                #expect(result.statuses.map(\.op) == ["write", "read"])
                #expect(result.statuses.last?.path == "notes/a.txt")
                #expect(result.statuses.last?["totalLines"]?.intValue == 2)
                #expect(result.statuses.first?["created"]?.boolValue == true)
                #expect(result.resultText == "1\tx\n2\ty")

                var streamed: [HelperStatus] = []
                for await event in await kernel.execute("grep('y', 'notes')") {
                    if let status = event.helperStatus { streamed.append(status) }
                }
                #expect(streamed.map(\.op) == ["grep"])
                #expect(streamed.first?["matches"]?.intValue == 1)
                #expect(streamed.first?.text == "grep y in notes: 1 match in 1 file")
            }
        }
    }

    // MARK: - Configuration

    @Test func aPoolKeyWhosePreludeChangesIsRestartedAndTold() async throws {
        try await withPool { pool in
            _ = try await pool.run("x = 1", key: "agent", configuration: KernelConfiguration())
            let result = try await pool.run(
                "'x' in globals(), callable(read)", key: "agent",
                configuration: KernelConfiguration(prelude: [.default]))
            #expect(result.resultText == "(False, True)")
            let notice = try #require(result.notices.first)
            #expect(notice.description.contains("prelude (none) → default"), "\(notice)")
        }
    }
}
