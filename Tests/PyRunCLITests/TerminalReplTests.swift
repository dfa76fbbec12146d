import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The interactive session on a real pseudo-terminal, as a person uses it: plain `pyrun` with
/// no arguments on a terminal starts it; lines are edited, recalled and completed; Ctrl-C at
/// the prompt drops the line and interrupts running code; Ctrl-D leaves; the terminal is
/// left as it was found, however pyrun ends.
@Suite struct TerminalReplTests {
    private static let left = "\u{1B}[D"
    private static let up = "\u{1B}[A"
    private static let ctrlA = "\u{01}"
    private static let ctrlC = "\u{03}"
    private static let ctrlD = "\u{04}"
    private static let ctrlE = "\u{05}"
    private static let ctrlR = "\u{12}"

    /// Runs a session and checks what every session must end with: the driver saw all it
    /// waited for, pyrun left with `status`, and the terminal is usable again.
    private func session(
        _ steps: [TerminalSession.Step], status: Int32 = 0, on terminal: TerminalSession = TerminalSession()
    ) async throws -> String {
        let outcome = try await terminal.run(steps)
        #expect(outcome.problem.isEmpty, "\(outcome.problem)")
        #expect(outcome.status == status, "\(outcome.screen)")
        #expect(outcome.terminalRestored, "the terminal was left in raw mode")
        return outcome.screen
    }

    // MARK: - The session

    @Test func plainPyrunOnATerminalIsAnInteractiveSession() async throws {
        let terminal = TerminalSession()
        defer { terminal.cleanUp() }
        let screen = try await session(
            [
                .expect("In [1]: "), .type("x = 6 * 7\r"),
                .expect("In [2]: "), .type("x\r"), .expect("Out[2]: 42"),
                .expect("In [3]: "), .type("half a line" + Self.ctrlC),  // Ctrl-C at the prompt drops the line
                .expect("KeyboardInterrupt"), .expect("In [3]: "), .type("x + 1\r"),
                .expect("Out[3]: 43"), .expect("In [4]: "), .type(Self.ctrlD),
            ], on: terminal)
        // The half-typed line was dropped: `x + 1` ran alone.
        #expect(screen.contains("Out[3]: 43"))
    }

    @Test func ctrlCAtAContinuationPromptDropsTheWholeCell() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("def f():\r"), .expect("...: "), .type("    return 1" + Self.ctrlC),
            .expect("KeyboardInterrupt"), .expect("In [1]: "), .type("'f' in dir()\r"),
            .expect("Out[1]: False"), .expect("In [2]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Out[1]: False"))
    }

    @Test func aSIGINTFromElsewhereAtThePromptDropsTheLine() async throws {
        // Ctrl-C is a key while the editor reads; `kill -INT` must still do what it did.
        let screen = try await session([
            .expect("In [1]: "), .type("partial"), .expect("partial"), .signal(SIGINT),
            .expect("KeyboardInterrupt"), .expect("In [1]: "), .type("1 + 1\r"), .expect("Out[1]: 2"),
            .expect("In [2]: "), .type(Self.ctrlD),
        ])
        #expect(!screen.contains("partial1 + 1"))
    }

    @Test func ctrlCWhileCodeRunsInterruptsIt() async throws {
        let screen = try await session([
            // The word printed is not the word typed: the echo of the line must not count.
            .expect("In [1]: "), .type("import time; print('sle' + 'eping', flush=True); time.sleep(60)\r"),
            .expect("sleeping"), .type(Self.ctrlC), .expect("KeyboardInterrupt"),
            .expect("In [2]: "), .type("'after'\r"), .expect("Out[2]: 'after'"),
            .expect("In [3]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Traceback"))
    }

    // MARK: - Editing

    @Test func arrowLeftEditsTheMiddleOfALine() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("'ac'" + Self.left + Self.left + "b\r"), .expect("Out[1]: 'abc'"),
            .expect("In [2]: "), .type("2)" + Self.ctrlA + "max(1, " + Self.ctrlE + " + 1\r"), .expect("Out[2]: 3"),
            .expect("In [3]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Out[1]: 'abc'"))
    }

    @Test func wideCharactersAreEditedWhole() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("'名前'" + Self.left + Self.left + "x\r"), .expect("Out[1]: '名x前'"),
            .expect("In [2]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Out[1]: '名x前'"))
    }

    @Test func aLineLongerThanTheWindowIsEditedAcrossAResize() async throws {
        let long = "'" + String(repeating: "ab", count: 60) + "'"  // wraps on 40 columns
        let screen = try await session([
            .resize(columns: 40), .expect("In [1]: "), .type(long), .expect("abab'"),
            .resize(columns: 70), .type(Self.ctrlA + "len(" + Self.ctrlE + ")\r"), .expect("Out[1]: 120"),
            .expect("In [2]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Out[1]: 120"))
    }

    // MARK: - History

    @Test func upRecallsThePreviousEntries() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("'first'\r"), .expect("Out[1]: 'first'"),
            .expect("In [2]: "), .type("'second'\r"), .expect("Out[2]: 'second'"),
            .expect("In [3]: "), .type(Self.up + Self.up + "\r"), .expect("Out[3]: 'first'"),
            .expect("In [4]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Out[3]: 'first'"))
    }

    @Test func ctrlRSearchesTheHistory() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("'needle' + 'one'\r"), .expect("Out[1]: "),
            .expect("In [2]: "), .type("'other'\r"), .expect("Out[2]: "),
            .expect("In [3]: "), .type(Self.ctrlR + "needle"), .expect("reverse-i-search)`needle'"),
            .type("\r"), .expect("Out[3]: 'needleone'"),
            .expect("In [4]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("Out[3]: 'needleone'"))
    }

    @Test func historySurvivesARestartWithMultiLineEntriesWhole() async throws {
        let terminal = TerminalSession()
        defer { terminal.cleanUp() }
        _ = try await session(
            [
                .expect("In [1]: "), .type("def f():\r"), .expect("...: "), .type("    return 5\r"),
                .expect("...: "), .type("\r"), .expect("In [2]: "),
                .type("'remembered' * 2\r"), .expect("Out[2]: "), .expect("In [3]: "), .type(Self.ctrlD),
            ], on: terminal)
        let saved = try String(contentsOfFile: terminal.historyPath, encoding: .utf8)
        #expect(saved == "def f():\\n    return 5\n'remembered' * 2\n")

        // A new pyrun: Up brings back the last entry, then the multi-line one, whole.
        let screen = try await session(
            [
                .expect("In [1]: "), .type(Self.up + "\r"), .expect("Out[1]: 'rememberedremembered'"),
                .expect("In [2]: "), .type(Self.up + Self.up + "\r"), .expect("In [3]: "),
                .type("f()\r"), .expect("Out[3]: 5"), .expect("In [4]: "), .type(Self.ctrlD),
            ], on: terminal)
        #expect(screen.contains("Out[3]: 5"))
    }

    @Test func pipedInputWritesNoHistory() async throws {
        let terminal = TerminalSession()
        defer { terminal.cleanUp() }
        let outcome = try await runPyrun(
            ["repl"], input: "x = 1\nx\n", environment: ["XDG_STATE_HOME": terminal.stateFolder])
        #expect(outcome.stdout == "Out[2]: 1\n")
        #expect(!FileManager.default.fileExists(atPath: terminal.historyPath))
    }

    // MARK: - Completion

    @Test func tabCompletesThroughTheKernel() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("import math\r"), .expect("In [2]: "),
            .type("import math; math.sq\t"), .expect("math.sqrt"), .type("(16)\r"), .expect("Out[2]: 4.0"),
            // Several candidates: Tab lists them, and the line stays as typed.
            .expect("In [3]: "), .type("math.is\t"), .expect("math.isnan"), .type("qrt(17)\r"),
            .expect("Out[3]: 4"), .expect("In [4]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("math.isclose"))
        #expect(screen.contains("Out[2]: 4.0"))
    }

    @Test func tabAtTheStartOfALineIndents() async throws {
        let screen = try await session([
            .expect("In [1]: "), .type("for i in range(2):\r"), .expect("...: "), .type("\tprint('row', i)\r"),
            .expect("...: "), .type("\r"), .expect("row 1"), .expect("In [2]: "), .type(Self.ctrlD),
        ])
        #expect(screen.contains("row 0"))
    }

    // MARK: - Leaving the terminal as it was

    @Test(arguments: [SIGTERM, SIGHUP, SIGQUIT, SIGSEGV])
    func theTerminalIsRestoredWhenPyrunIsKilledAtThePrompt(signal: Int32) async throws {
        // Crash reports off: on a terminal, Swift's would wait for a key.
        let terminal = TerminalSession(environment: ["SWIFT_BACKTRACE": "enable=no"])
        defer { terminal.cleanUp() }
        let outcome = try await terminal.run([.expect("In [1]: "), .type("typed"), .expect("typed"), .signal(signal)])
        #expect(outcome.problem.isEmpty, "\(outcome.problem)")
        #expect(outcome.status == 128 + signal)
        #expect(outcome.terminalRestored, "the terminal was left in raw mode after signal \(signal)")
    }
}
