import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--host-fn NAME=COMMAND`: the code calls `host.NAME(...)`, a command answers.
@Suite struct HostFunctionOptionTests {
    /// Adds the arguments `x` and `y` it reads as JSON on stdin.
    private let adder =
        #"add=python3 -c 'import json, sys; a = json.load(sys.stdin); print(json.dumps({"sum": a["x"] + a["y"]}))'"#

    @Test func theCommandGetsTheArgumentsAsJSONAndItsOutputIsTheValue() async throws {
        let outcome = try await runPyrun([
            "--host-fn", adder, "-c", "r = host.add(x=2, y=3)\nprint(type(r).__name__, r['sum'])",
        ])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "dict 5\n")
    }

    @Test func aFailingCommandRaisesHostCallErrorWithItsStandardError() async throws {
        let code =
            "try:\n    host.fail(path='x')\nexcept HostCallError as e:\n    print(e.type, '|', e.message)\nhost.fail()"
        let outcome = try await runPyrun(["--host-fn", "fail=echo no such file >&2; exit 3", "-c", code])
        #expect(
            outcome.stdout == "CommandFailed | `echo no such file >&2; exit 3` exited with status 3: no such file\n")
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("HostCallError: host.fail: CommandFailed"))
    }

    @Test func outputThatIsNotJSONIsAnError() async throws {
        let outcome = try await runPyrun(["--host-fn", "greet=echo hello", "-c", "host.greet()"])
        #expect(outcome.status == 1)
        #expect(
            outcome.stderr.contains(
                "HostCallError: host.greet: InvalidOutput: `echo hello` wrote output that is not JSON"))
    }

    @Test func theCommandKnowsWhichFunctionItServes() async throws {
        let outcome = try await runPyrun([
            "--host-fn", #"a=printf '"%s"' "$PYRUN_HOST_FUNCTION""#, "--host-fn",
            #"b=printf '"%s"' "$PYRUN_HOST_FUNCTION""#,
            "-c", "host.a() + host.b()",
        ])
        #expect(outcome.stdout == "'ab'\n")
    }

    @Test func jsonOutputShowsTheCallAndItsEnd() async throws {
        let outcome = try await runPyrun(["--json", "--host-fn", "one=echo 1", "-c", "host.one() + 1"])
        #expect(outcome.status == 0)
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        let types = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["type"] as? String
        }
        #expect(types == ["hello", "started", "call", "host_call_ended", "result", "done", "outcome"])
        #expect(lines[2].contains(#""name":"one""#))
        #expect(lines[3].contains(#""outcome":"returned""#))
    }

    @Test func theReplTakesItToo() async throws {
        let outcome = try await runPyrun(
            ["repl", "--host-fn", adder], input: "host.add(x=1, y=1)['sum']\nhost.add(1)\n")
        #expect(outcome.stdout.contains("Out[1]: 2"))
        #expect(outcome.stderr.contains("TypeError: host.add() takes 0 positional arguments but 1 was given"))
    }

    @Test func aNameGivenTwiceOrWithoutACommandIsAUsageError() async throws {
        let twice = try await runPyrun(["--host-fn", "a=echo 1", "--host-fn", "a=echo 2", "-c", "1"])
        #expect(twice.status == 2)
        #expect(twice.stderr.contains("--host-fn a is given twice"))
        for value in ["a", "a=", "a= "] {
            let bare = try await runPyrun(["--host-fn", value, "-c", "1"])
            #expect(bare.status == 2)
            #expect(bare.stderr.contains("--host-fn a: no command; give NAME=COMMAND"), "\(value): \(bare.stderr)")
        }
    }

    @Test func aNameThatHostDotNameCannotReachIsAUsageErrorThatSaysTheRule() async throws {
        // Not an identifier, a keyword, or an attribute of `host` itself (`call`, the dunders).
        // Each says what is wrong with it, then the rule.
        let problems = [
            ("my-fn", "not a Python identifier"), ("1abc", "not a Python identifier"), ("", "the name is empty"),
            ("class", "a Python keyword (host.class would not parse)"), ("call", "host.call is the host object's own"),
            ("__doc__", "a __dunder__ name"), ("ﬁle", "Python reads it as \"file\""),
        ]
        for (name, problem) in problems {
            for arguments in [["--host-fn", "\(name)=echo 1", "-c", "1"], ["mcp", "--host-fn", "\(name)=echo 1"]] {
                let outcome = try await runPyrun(arguments)
                #expect(outcome.status == 2, "\(arguments)")
                #expect(
                    outcome.stderr.contains("--host-fn \(String(reflecting: name)): \(problem)"),
                    "\(arguments): \(outcome.stderr)")
                #expect(outcome.stderr.contains("NAME must be a Python identifier"), "\(arguments): \(outcome.stderr)")
                #expect(outcome.stdout.isEmpty, "\(arguments)")
            }
        }
    }

    @Test func namesThatAreIdentifiersWork() async throws {
        let outcome = try await runPyrun([
            "--host-fn", "café=echo 1", "--host-fn", "_x2=echo 2", "--host-fn", "match=echo 3",
            "-c", "print(host.café(), host._x2(), host.match())",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout == "1 2 3\n")
    }

    @Test func anInterruptedCallKillsTheCommand() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = "\(directory)/pid"
            // `exec` keeps the shell's pid for the sleep, so the file names the sleeping process.
            let process = try PyrunProcess([
                "--host-fn", "slow=echo $$ > \(pidFile); exec sleep 300", "-c", "host.slow()",
            ])
            #expect(await poll(seconds: 20) { commandPID(pidFile) != nil })
            let pid = try #require(commandPID(pidFile))
            process.send(signal: SIGINT)
            let outcome = await process.finish()
            #expect(outcome.status == 130)
            #expect(outcome.stderr.contains("KeyboardInterrupt"))
            // The command was killed (and reaped) with the call.
            #expect(await poll(seconds: 20) { kill(pid, 0) != 0 })
        }
    }
}

/// The pid a command wrote to `path`, once it wrote a whole line.
private func commandPID(_ path: String) -> Int32? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") else { return nil }
    return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
}
