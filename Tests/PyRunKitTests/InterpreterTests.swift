import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct InterpreterTests {
    @Test func missingInterpreterPathIsAClearError() async throws {
        let kernel = PythonKernel(configuration: KernelConfiguration(interpreter: .path("/nonexistent/python3")))
        await #expect {
            try await kernel.run("1")
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.code == .interpreterNotFound && error.message.contains("/nonexistent/python3")
        }
    }

    @Test func unknownInterpreterNameIsAClearError() async throws {
        await #expect {
            _ = try await InterpreterResolver.resolve(
                .path("python-that-does-not-exist"), workingDirectory: nil, environment: ["PATH": "/usr/bin:/bin"])
        } throws: { error in
            (error as? KernelError)?.code == .interpreterNotFound
        }
    }

    @Test func pythonOlderThan39IsRefusedAtStart() async throws {
        try await withTemporaryDirectory { directory throws in
            // A shim whose probe answer is fine, in front of an "interpreter" whose hello says
            // 3.8: the version in hello is checked too, and the process does not linger.
            let old = "\(directory)/python3.8"
            try writeScript(
                old,
                "#!/bin/sh\necho '{\"type\":\"hello\",\"protocol\":1,\"pid\":'$$',\"python\":\"3.8.10\",\"executable\":\"\(old)\",\"cwd\":\"/\"}'\nexec sleep 30\n"
            )
            let shim = "\(directory)/python3"
            try writeScript(shim, "#!/bin/sh\necho '{\"executable\": \"\(old)\", \"version\": [3, 11, 0]}'\n")
            let kernel = PythonKernel(configuration: KernelConfiguration(interpreter: .path(shim)))
            await #expect {
                try await kernel.start()
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.code == .interpreterTooOld && error.message.contains("3.8.10")
            }
            #expect(await kernel.isRunning == false)
        }
    }

    @Test func probingPythonOlderThan39IsRefused() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3.8"
            try writeScript(fake, "#!/bin/sh\necho '{\"executable\": \"\(fake)\", \"version\": [3, 8, 10]}'\n")
            await #expect {
                _ = try await InterpreterResolver.resolve(.path(fake), workingDirectory: nil, environment: [:])
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.code == .interpreterTooOld && error.message.contains("3.8.10")
            }
        }
    }

    @Test func somethingThatIsNotPythonIsUnusable() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python"
            try writeScript(fake, "#!/bin/sh\necho hello >&2\nexit 7\n")
            await #expect {
                _ = try await InterpreterResolver.resolve(.path(fake), workingDirectory: nil, environment: [:])
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.code == .interpreterUnusable && error.message.contains("status 7")
                    && error.message.contains("hello")
            }
            // As a kernel it fails to start, and the error says how the probe ended.
            let kernel = PythonKernel(configuration: KernelConfiguration(interpreter: .path(fake)))
            await #expect {
                try await kernel.start()
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.code == .interpreterUnusable && error.message.contains("status 7")
            }
        }
    }

    @Test func automaticResolutionPrefersVirtualEnvThenLocalVenv() async throws {
        try await withTemporaryDirectory { directory throws in
            let venvPython = "\(directory)/.venv/bin/python"
            try FileManager.default.createDirectory(atPath: "\(directory)/.venv/bin", withIntermediateDirectories: true)
            try writeScript(venvPython, "#!/bin/sh\nexit 0\n")
            let (local, localSource) = try InterpreterResolver.locate(
                .automatic, workingDirectory: directory, environment: ["PATH": "/usr/bin"])
            #expect(local == venvPython)
            #expect(localSource == .localVenv)
            let (fromEnv, envSource) = try InterpreterResolver.locate(
                .automatic, workingDirectory: "/",
                environment: ["VIRTUAL_ENV": "\(directory)/.venv", "PATH": "/usr/bin"])
            #expect(fromEnv == venvPython)
            #expect(envSource == .virtualEnv)
        }
    }

    @Test func nothingFoundListsWhatWasTried() throws {
        #expect {
            _ = try InterpreterResolver.locate(.automatic, workingDirectory: "/", environment: ["PATH": "/nonexistent"])
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.code == .interpreterNotFound && error.message.contains("VIRTUAL_ENV")
                && error.message.contains(".venv") && error.message.contains("/nonexistent")
        }
    }

    @Test func resolutionSeesThroughShimsToTheRealExecutable() async throws {
        let interpreter = try await InterpreterResolver.resolve(
            .automatic, workingDirectory: nil, environment: ProcessInfo.processInfo.environment)
        #expect(interpreter.version >= .minimumSupported)
        #expect(InterpreterResolver.isExecutableFile(interpreter.executable))
        #expect(!interpreter.executable.contains("/shims/"))
    }

    @Test func aKernelRestartsWithTheRealExecutableItLearnedFromHello() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let first = try await kernel.start()
            let learned = try #require(await kernel.interpreter)
            #expect(learned.executable == first.executable)
            #expect(learned.version >= .minimumSupported)
            let second = try await kernel.restart()
            #expect(second.executable == first.executable)
        }
    }

    @Test func runnerIsInstalledPrivatelyAndNamedByContent() throws {
        let installation = try RunnerInstallation.current()
        var info = stat()
        #expect(stat(installation.directory, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(info.st_uid == getuid())
        let written = try #require(FileManager.default.contents(atPath: installation.path))
        #expect([UInt8](written) == RunnerInstallation.source)
        #expect(
            installation.moduleName == "runner_"
                + String(RunnerInstallation.contentHash(RunnerInstallation.source), radix: 16))
    }

    @Test func runnerBytecodeIsCachedEvenWhenTheUserDisablesBytecode() async throws {
        let configuration = KernelConfiguration(environment: .inheritUpdating(["PYTHONDONTWRITEBYTECODE": "1"]))
        try await withKernel(configuration: configuration) { kernel throws in
            // The user's setting holds for user code...
            #expect(try await kernel.run("import sys\nsys.dont_write_bytecode").resultText == "True")
            // ...while the runner's own module was compiled once into the private directory.
            let installation = try RunnerInstallation.current()
            let cached = try FileManager.default.contentsOfDirectory(atPath: "\(installation.directory)/__pycache__")
            #expect(cached.contains { $0.hasPrefix(installation.moduleName + ".") && $0.hasSuffix(".pyc") })
        }
    }

    @Test func aDirectoryOthersCanWriteIsRefused() async throws {
        try await withTemporaryDirectory { directory throws in
            let shared = "\(directory)/shared"
            mkdir(shared, 0o777)
            chmod(shared, 0o777)
            #expect(throws: KernelError.self) { try RunnerInstallation.ensurePrivate(shared) }
            let fresh = "\(directory)/fresh"
            #expect(try RunnerInstallation.ensurePrivate(fresh) == fresh)
        }
    }

    @Test func theProbeDoesNotWaitForPipesSomebodyElseHolds() async throws {
        // Another process can hold a copy of the probe's stdout (here a background child the
        // fake interpreter leaves behind; in a host, a process spawned by other code at the
        // same moment). The probe ends when the interpreter exits, not when the pipe closes.
        try await withTemporaryDirectory { directory in
            let fake = "\(directory)/python3"
            try writeScript(
                fake,
                "#!/bin/sh\nsleep 300 &\necho $! > '\(directory)/holder'\necho '{\"executable\": \"\(fake)\", \"version\": [3, 11, 0]}'\n"
            )
            let clock = ContinuousClock()
            let started = clock.now
            let interpreter = try await InterpreterResolver.resolve(
                .path(fake), workingDirectory: nil, environment: [:])
            let elapsed = started.duration(to: clock.now)
            if let holder = Int32(
                (try? String(contentsOfFile: "\(directory)/holder", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            {
                kill(holder, SIGKILL)
            }
            #expect(interpreter.version == PythonVersion(3, 11, 0))
            // The holder lives 300 s: anything well below that did not wait for it.
            #expect(elapsed < .seconds(120), "the probe waited \(elapsed) for a pipe another process held")
        }
    }
}
