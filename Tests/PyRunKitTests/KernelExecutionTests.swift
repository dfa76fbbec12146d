import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

@Suite struct KernelExecutionTests {
    // MARK: State and results

    @Test func startSaysHelloWithTheRealExecutable() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let hello = try await kernel.start()
            #expect(hello.protocolVersion == 1)
            #expect(hello.pythonVersion.hasPrefix("3."))
            #expect(!hello.executable.contains("/shims/"))  // the pyenv shim is resolved away
            #expect(await kernel.pid == hello.pid)
            #expect(processIsAlive(hello.pid))
        }
    }

    @Test func statePersistsAcrossExecutions() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let first = try await kernel.run("x = 41")
            #expect(first.status == .ok)
            #expect(first.result == nil)
            let second = try await kernel.run("x + 1")
            #expect(second.resultText == "42")
            #expect(second.executionCount == 2)
        }
    }

    @Test func silentExecutionHasNoResultAndNoCount() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let silent = try await kernel.run("1 + 1", options: ExecutionOptions(silent: true))
            #expect(silent.status == .ok)
            #expect(silent.result == nil)
            let counted = try await kernel.run("2 + 2")
            #expect(counted.executionCount == 1)
        }
    }

    @Test func outputArrivesInOrderAcrossStreams() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let execution = await kernel.execute(
                "import sys\nfor i in range(3):\n    print('out', i)\n    print('err', i, file=sys.stderr)\n")
            var streamed: [String] = []
            for await event in execution {
                switch event {
                case .stdout(let text): streamed.append("1:" + text)
                case .stderr(let text): streamed.append("2:" + text)
                default: break
                }
            }
            #expect(streamed.joined() == "1:out 0\n2:err 0\n1:out 1\n2:err 1\n1:out 2\n2:err 2\n")
            // Collected instead of streamed, the same code gives the same text per stream.
            let result = try await kernel.execute(
                "import sys\nfor i in range(3):\n    print('out', i)\n    print('err', i, file=sys.stderr)\n"
            ).result()
            #expect(result.stdout == "out 0\nout 1\nout 2\n")
            #expect(result.stderr == "err 0\nerr 1\nerr 2\n")
            // A streamed execution's outcome is known without collecting anything.
            #expect(await execution.outcome().status == .ok)
        }
    }

    @Test func richDisplayBundles() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run(
                """
                class Card:
                    def _repr_html_(self): return '<b>hi</b>'
                    def _repr_markdown_(self): return '**hi**'
                    def __repr__(self): return 'Card()'
                display(Card())
                Card()
                """)
            #expect(result.displays.count == 1)
            let bundle = try #require(result.displays.first?.bundle)
            #expect(bundle["text/html"]?.stringValue == "<b>hi</b>")
            #expect(bundle["text/markdown"]?.stringValue == "**hi**")
            #expect(bundle.plainText == "Card()")
            #expect(result.result?["text/html"]?.stringValue == "<b>hi</b>")
        }
    }

    @Test func errorCarriesTracebackWithUserFramesOnly() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("def f():\n    return 1 / 0\nf()")
            #expect(result.status == .error)
            let error = try #require(result.error)
            #expect(error.name == "ZeroDivisionError")
            let traceback = error.traceback.joined(separator: "\n")
            #expect(traceback.contains("<cell 1>"))
            #expect(traceback.contains("return 1 / 0"))
            #expect(!traceback.contains("runner"))
            // The kernel lives on.
            #expect(try await kernel.run("'alive'").resultText == "'alive'")
        }
    }

    @Test func executionsRunOneAtATimeInSubmissionOrder() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let setup = try await kernel.run("order = []")
            #expect(setup.status == .ok)
            var submitted: [Execution] = []
            for index in 0..<20 {
                submitted.append(await kernel.execute("order.append(\(index))"))
            }
            for execution in submitted { _ = try await execution.result() }
            #expect(
                try await kernel.run("order").resultText == "[" + (0..<20).map(String.init).joined(separator: ", ")
                    + "]")
        }
    }

    @Test func stdinHandlerAnswersInput() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let prompts = PromptLog()
            let options = ExecutionOptions(stdinHandler: { prompt in
                await prompts.record(prompt.prompt)
                return "Ada"
            })
            let result = try await kernel.run("name = input('name? ')\nprint('hi', name)", options: options)
            #expect(result.stdout.contains("hi Ada"))
            #expect(await prompts.all == ["name? "])
        }
    }

    @Test func aThrowingStdinHandlerEndsInputWithEOFError() async throws {
        struct NoMoreInput: Error {}
        try await withKernel(configuration: .forTests) { kernel throws in
            let options = ExecutionOptions(stdinHandler: { _ in throw NoMoreInput() })
            let result = try await kernel.run(
                "try:\n    input('more? ')\nexcept EOFError:\n    print('eof seen')", options: options)
            #expect(result.status == .ok)
            #expect(result.stdout == "eof seen\n")
        }
    }

    @Test func inputWithoutHandlerFailsAtOnceWithEOFError() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("input('x')", options: ExecutionOptions(timeout: .seconds(20)))
            #expect(result.status == .error)
            #expect(result.error?.name == "EOFError")
        }
    }

    @Test func completionAndInfoAreAnsweredWhileCodeRuns() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            _ = try await kernel.run("import time\nvalue_alpha = 1\nvalue_beta = 2")
            let sleeper = await kernel.execute("time.sleep(60)")
            // Wait until the sleep has started so the replies really overlap it.
            var iterator = sleeper.makeAsyncIterator()
            _ = await iterator.next()
            let info = try await kernel.info()
            #expect(info.busy)
            #expect(info.protocolVersion > 0)
            #expect(info.protocolVersion == (try await kernel.start()).protocolVersion)
            let completion = try await kernel.complete(code: "value_")
            #expect(completion.matches.contains("value_alpha"))
            #expect(completion.matches.contains("value_beta"))
            #expect(try await kernel.isComplete(code: "for i in range(3):") == .incomplete(indent: "    "))
            #expect(try await kernel.isComplete(code: "x = 1") == .complete)
            await sleeper.cancel()
            #expect(try await sleeper.result().status == .cancelled)
        }
    }

    @Test func outputAfterAnExecutionEndedIsKeptNotLost() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            // atexit handlers run at shutdown, after the last execution's `done`.
            let result = try await kernel.run("import atexit\natexit.register(lambda: print('from atexit'))")
            #expect(result.status == .ok)
            #expect(await kernel.takeLateOutput().isEmpty)
            #expect(await kernel.shutdown(grace: .seconds(60)) == .graceful)
            let late = await kernel.takeLateOutput()
            let text = late.map(\.text).joined()
            #expect(text.contains("from atexit\n"))
            #expect(late.allSatisfy { $0.stream == .stdout })
            #expect(await kernel.takeLateOutput().isEmpty)  // taken once
        }
    }

    @Test func publicValuesDescribeThemselvesReadably() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let hello = try await kernel.start()
            let result = try await kernel.run("print('x')\ndisplay(1)\n6 * 7")
            let info = try await kernel.info()
            let completion = try await kernel.complete(code: "pri")
            let values: [(String, String)] = [
                ("hello", "\(hello)"), ("result", "\(result)"), ("outcome", "\(result.outcome)"),
                ("report", "\(try #require(result.report))"), ("info", "\(info)"), ("completion", "\(completion)"),
                ("display", "\(try #require(result.displays.first))"),
                ("options", "\(ExecutionOptions(timeout: .seconds(5)))"),
                ("configuration", "\(KernelConfiguration.forTests)"), ("pool", "\(PoolConfiguration())"),
                ("interpreter", "\(try #require(await kernel.interpreter))"),
            ]
            for (name, text) in values {
                #expect(!text.contains("Optional("), "\(name): \(text)")
                #expect(!text.contains("PyRunKit."), "\(name): \(text)")
            }
            #expect("\(hello)".hasPrefix("Python \(hello.pythonVersion), pid \(hello.pid)"))
            #expect("\(result)".contains("execution \(result.id): ok"))
            #expect("\(result)".contains("result 42"))
        }
    }

    // MARK: Size

    @Test func tenMegabytesOfOutputArriveWhole() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("import sys\nsys.stdout.write('x' * (10 * 1024 * 1024))\nprint('end')")
            #expect(result.status == .ok)
            #expect(result.stdout.utf8.count == 10 * 1024 * 1024 + 4)
            #expect(result.stdout.hasSuffix("xend\n"))
        }
    }

    @Test func fiveMegabyteImageBundleIsOneFrame() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run(
                """
                import os
                class Picture:
                    def _repr_png_(self): return b'\\x89PNG' + os.urandom(5 * 1024 * 1024)
                display(Picture())
                """)
            #expect(result.status == .ok)
            let data = try #require(result.displays.first?.bundle.binaryData(for: "image/png"))
            #expect(data.count == 5 * 1024 * 1024 + 4)
            #expect(data.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        }
    }

    @Test func outputCapDropsTheRestAndCountsIt() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run(
                "print('a' * 999)\nprint('b' * 5000)", options: ExecutionOptions(maxOutputBytes: 1000))
            #expect(result.status == .ok)
            #expect(result.droppedBytes > 0)
            #expect(result.stdout.utf8.count <= 1000)
        }
    }
}

actor PromptLog {
    private(set) var all: [String] = []
    func record(_ prompt: String) { all.append(prompt) }
}
