import Foundation
import PyRunTesting
import Synchronization
import Testing

@testable import PyRunKit

/// `ConsoleProcess`: how `pyrun` finds, starts and ends the console's program. Stand-in
/// programs (shell scripts) play the console, so these need no browser and no HTTP server;
/// the browser tests run the real one.
@Suite struct ConsoleProcessTests {
    private let address = ConsoleAddress(host: "127.0.0.1", port: 0)

    // MARK: - Finding it

    @Test func theProgramsOwnDirectoryComesBeforePATH() async throws {
        try await withTemporaryDirectory { directory in
            for place in ["bin", "path"] {
                try FileManager.default.createDirectory(
                    atPath: "\(directory)/\(place)", withIntermediateDirectories: true)
                try writeScript("\(directory)/\(place)/pyrun-console", "#!/bin/sh\n")
            }
            let found = try ConsoleProcess.locate(
                programPath: "\(directory)/bin/pyrun", environment: ["PATH": "/nowhere:\(directory)/path"])
            #expect(found == "\(directory)/bin/pyrun-console")
            let onPath = try ConsoleProcess.locate(
                programPath: "\(directory)/elsewhere/pyrun", environment: ["PATH": "/nowhere:\(directory)/path"])
            #expect(onPath == "\(directory)/path/pyrun-console")
        }
    }

    @Test func aMissingProgramIsAnErrorThatSaysHowToBuildIt() async throws {
        try await withTemporaryDirectory { directory in
            let error = #expect(throws: ConsoleProcess.NotFound.self) {
                try ConsoleProcess.locate(programPath: "\(directory)/pyrun", environment: ["PATH": directory])
            }
            #expect(error?.description.contains("swift build --product pyrun-console") == true)
            #expect(error?.description.contains(directory) == true)
        }
    }

    // MARK: - Its life

    @Test func itsFirstLineIsTheAddressAndClosingItsStdinEndsIt() async throws {
        try await withTemporaryDirectory { directory in
            // Prints an address, then runs until its stdin ends, as the console does.
            let program = "\(directory)/console"
            try writeScript(program, "#!/bin/sh\necho 'http://127.0.0.1:1/?token=t'\necho later\ncat >/dev/null\n")
            let log = Mutex<[String]>([])
            let console = try ConsoleProcess.start(
                executable: program, socketPath: "\(directory)/socket", address: address
            ) { line in log.withLock { $0.append(line) } }
            #expect(await console.url() == "http://127.0.0.1:1/?token=t")
            #expect(await console.stop(grace: .seconds(60)) == .exited(0))
            #expect(log.withLock { $0 } == ["later"], "later lines of stdout are logged, not taken for the address")
        }
    }

    @Test func oneThatEndsBeforeListeningHasNoAddressAndItsStderrIsLogged() async throws {
        try await withTemporaryDirectory { directory in
            let program = "\(directory)/console"
            try writeScript(program, "#!/bin/sh\necho 'pyrun-console: cannot listen' >&2\nexit 3\n")
            let log = Mutex<[String]>([])
            let console = try ConsoleProcess.start(
                executable: program, socketPath: "\(directory)/socket", address: address
            ) { line in log.withLock { $0.append(line) } }
            #expect(await console.url() == nil)
            #expect(await console.waitForExit() == .exited(3))
            #expect(log.withLock { $0 } == ["pyrun-console: cannot listen"])
        }
    }

    @Test func oneThatIgnoresItsStdinIsKilledAfterTheGrace() async throws {
        try await withTemporaryDirectory { directory in
            let program = "\(directory)/console"
            try writeScript(program, "#!/bin/sh\necho 'http://127.0.0.1:1/'\nexec sleep 300\n")
            let console = try ConsoleProcess.start(
                executable: program, socketPath: "\(directory)/socket", address: address
            ) { _ in }
            #expect(await console.url() == "http://127.0.0.1:1/")
            #expect(await console.stop(grace: .milliseconds(200)) == .signaled(SIGKILL))
        }
    }
}
