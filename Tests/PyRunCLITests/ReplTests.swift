import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The interactive session, driven through piped input: no prompts are printed then, so
/// stdout holds exactly what the cells and commands showed.
@Suite struct ReplTests {
    @Test func stateMultiLineCellsAndCommands() async throws {
        let input = """
            x = 20
            x + 1
            def add(a,
                    b):
                return a + b

            add(x, 22)
            for i in range(2):
                print('line', i)

            /info
            /help
            /nonsense

            """
        let outcome = try await runPyrun(["repl"], input: input)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("Out[2]: 21\n"))
        #expect(outcome.stdout.contains("Out[4]: 42\n"))
        #expect(outcome.stdout.contains("line 0\nline 1\n"))
        #expect(outcome.stdout.contains("executable"))
        #expect(outcome.stdout.contains("/kernel set"))
        #expect(outcome.stderr.contains("unknown command /nonsense"))
    }

    @Test func aBlockRunsAfterABlankLineAndBracketsRunWhenClosed() async throws {
        let input = """
            def twice(a):
                b = a * 2
                return b

            twice(4)
            total = (1 +
                2)
            total

            """
        let outcome = try await runPyrun(["repl"], input: input)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout == "Out[2]: 8\nOut[4]: 3\n")
    }

    @Test func resetGivesAFreshInterpreter() async throws {
        let outcome = try await runPyrun(["repl"], input: "x = 1\n/reset\n'x' in dir()\n")
        #expect(outcome.stdout.contains("Fresh interpreter"))
        #expect(outcome.stdout.contains("Out[1]: False\n"))
    }

    @Test func errorsShowAndTheSessionGoesOn() async throws {
        let outcome = try await runPyrun(["repl"], input: "1/0\n'still here'\n")
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("ZeroDivisionError"))
        #expect(outcome.stdout.contains("Out[2]: 'still here'\n"))
    }

    @Test func exitLeavesWithItsStatus() async throws {
        let outcome = try await runPyrun(["repl"], input: "exit(4)\nprint('not reached')\n")
        #expect(outcome.status == 4)
        #expect(!outcome.stdout.contains("not reached"))
    }

    @Test func inputIsAnsweredFromTheSessionsInput() async throws {
        let outcome = try await runPyrun(["repl"], input: "name = input('who? ')\nAda\nname\n")
        #expect(outcome.stdout.contains("Out[2]: 'Ada'\n"))
    }

    @Test func plainPyrunWithPipedInputIsAOneShot() async throws {
        let outcome = try await runPyrun([], input: "x = 3\nx * 2\n")
        #expect(outcome.stdout == "6\n")
    }

    @Test func kernelsListsTheCurrentInterpreter() async throws {
        let outcome = try await runPyrun(["repl", "--python", defaultInterpreter], input: "/kernels\n")
        #expect(outcome.status == 0)
        #expect(outcome.stdout.split(separator: "\n").contains { $0.hasPrefix("*") })
    }

    @Test func kernelSetToTheSameInterpreterKeepsState() async throws {
        let input = "x = 5\n/kernel set \(defaultInterpreter)\nx\n"
        let outcome = try await runPyrun(["repl", "--python", defaultInterpreter], input: input)
        #expect(outcome.stdout.contains("state kept"))
        #expect(outcome.stdout.contains("Out[2]: 5\n"))
    }

    @Test func kernelSetToAnUnknownNameListsTheChoices() async throws {
        let outcome = try await runPyrun(["repl"], input: "/kernel set no-such-python\n1 + 1\n")
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("no interpreter named 'no-such-python'; available:"))
        #expect(outcome.stderr.contains("Python 3."))  // the list of what exists
        #expect(outcome.stdout.contains("Out[1]: 2\n"))
    }

    @Test(.enabled(if: alternativeInterpreter != nil))
    func kernelSetToAnotherInterpreterResetsAndSaysSo() async throws {
        let other = try #require(alternativeInterpreter)
        let input = "x = 5\n/kernel set \(other)\nimport sys; sys.executable\n'x' in dir()\n"
        let outcome = try await runPyrun(["repl", "--python", defaultInterpreter], input: input)
        #expect(outcome.stdout.contains("state was reset"), "\(outcome.stderr)")
        #expect(outcome.stdout.contains("Out[1]: '"))
        #expect(outcome.stdout.contains("Out[2]: False\n"))
    }

    @Test func sigintInterruptsARunningCellAndTheSessionGoesOn() async throws {
        let pyrun = try PyrunProcess(["repl"])
        pyrun.write("import time\nprint('ready', flush=True); time.sleep(60)\n")
        #expect(await pyrun.waitForStdout(containing: "ready"))
        pyrun.send(signal: SIGINT)
        pyrun.write("'after'\n")
        let outcome = await pyrun.finish()
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("KeyboardInterrupt"))
        #expect(outcome.stdout.contains("'after'"))
    }
}
