import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

/// Finding interpreters and choosing one by name.
@Suite struct PoolInterpreterTests {
    @Test func availableInterpretersAreProbedAndDeduplicated() async throws {
        let pool = KernelPool()
        let interpreters = await pool.availableInterpreters()
        #expect(!interpreters.isEmpty)
        for interpreter in interpreters {
            #expect(interpreter.version >= .minimumSupported)
            #expect(FileManager.default.isExecutableFile(atPath: interpreter.path))
        }
        // Deduplicated by the file itself (device and inode), whatever path leads to it.
        let files = try interpreters.map { interpreter -> String in
            let attributes = try FileManager.default.attributesOfItem(atPath: interpreter.executable)
            return "\(attributes[.deviceIdentifier] ?? 0):\(attributes[.systemFileNumber] ?? 0)"
        }
        #expect(Set(files).count == interpreters.count)
        print(
            "pool: interpreters found:\n"
                + interpreters.map {
                    "  \(InterpreterDiscovery.displayName(of: $0)) \($0.version) \($0.source) \($0.path) -> \($0.executable)"
                }.joined(separator: "\n"))
    }

    @Test func aVirtualEnvironmentIsFound() async throws {
        try await withTemporaryDirectory { directory in
            let venv = "\(directory)/.venv"
            try FileManager.default.createDirectory(atPath: "\(venv)/bin", withIntermediateDirectories: true)
            let python3 = try #require(
                InterpreterResolver.findOnPath("python3", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "")
            )
            let real = try await InterpreterResolver.resolve(
                .path(python3), workingDirectory: nil, environment: ProcessInfo.processInfo.environment)
            // A venv's python is a symlink to a real interpreter; a script stands in for one here.
            try writeScript("\(venv)/bin/python", "#!/bin/sh\nexec \(real.executable) \"$@\"\n")
            let found = await InterpreterDiscovery.availableInterpreters(workingDirectory: directory)
            #expect(found.first?.source == .localVenv)
            #expect(found.first?.path == "\(venv)/bin/python")
        }
    }

    @Test func aVersionOrCommandNameResolves() async throws {
        let pool = KernelPool()
        let available = await pool.availableInterpreters()
        let first = try #require(available.first)
        let byVersion = try await pool.interpreter(named: "\(first.version.major).\(first.version.minor)")
        #expect(byVersion.version.minor == first.version.minor)
        let byCommand = try await pool.interpreter(named: "python3")
        #expect(byCommand.version.major == 3)
        let byPath = try await pool.interpreter(named: first.path)
        #expect(byPath.path == first.path)
    }

    @Test func anUnknownNameListsWhatExists() async throws {
        let pool = KernelPool()
        let available = await pool.availableInterpreters()
        do {
            _ = try await pool.interpreter(named: "python9.99")
            Issue.record("python9.99 resolved")
        } catch let error as KernelError {
            #expect(error.code == .interpreterNotFound)
            #expect(error.message.contains("python9.99"))
            #expect(error.message.contains("available"))
            for interpreter in available { #expect(error.message.contains(interpreter.path)) }
        }
        await #expect(throws: KernelError.self) { try await pool.interpreter(named: "/no/such/python") }
        await #expect(throws: KernelError.self) { try await pool.interpreter(named: "2.7") }
    }

    @Test func aKeyRunsTheInterpreterChosenByName() async throws {
        try await withPool { pool in
            let chosen = try await pool.interpreter(named: "python3")
            let result = try await pool.run(
                "import sys\n'%d.%d.%d' % sys.version_info[:3]", key: "versioned",
                configuration: KernelConfiguration(interpreter: .path(chosen.path)))
            #expect(result.resultText == "'\(chosen.version)'")
        }
    }

    @Test func commandNamesAreRecognised() {
        #expect(InterpreterDiscovery.isVersionedPythonName("python3"))
        #expect(InterpreterDiscovery.isVersionedPythonName("python3.11"))
        #expect(!InterpreterDiscovery.isVersionedPythonName("python3-config"))
        #expect(!InterpreterDiscovery.isVersionedPythonName("python3.11-config"))
        #expect(!InterpreterDiscovery.isVersionedPythonName("python2.7"))
    }
}
