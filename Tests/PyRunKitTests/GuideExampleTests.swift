// swift-format-ignore-file
// (Its snippet slices are copied verbatim into README.md and the DocC articles.)
// The examples of the guide "Kernels in tests" (README and DocC): each slice below is shown
// there verbatim (DocumentationSnippetTests checks that), and runs here as a real test.
import Foundation
import PyRunKit
import PyRunTesting
import Testing

@Suite struct GuideExampleTests {
    // snippet.kernel-test
    @Test func sumsTheScoresOfACSVFile() async throws {
        try await withTemporaryDirectory { directory in
            try "name,score\nada,3\nbob,5\n".write(toFile: "\(directory)/scores.csv", atomically: true, encoding: .utf8)
            try await withKernel(configuration: KernelConfiguration(workingDirectory: directory)) { kernel in
                let result = try await kernel.run(
                    """
                    import csv
                    rows = list(csv.DictReader(open('scores.csv')))
                    sum(int(row['score']) for row in rows)
                    """)
                #expect(result.succeeded, "\(result.error?.traceback.joined(separator: "\n") ?? "")")
                #expect(result.resultText == "8")
            }
        }
    }
    // snippet.end

    @Test func templateKernelsAreForkedFromOneTemplate() async throws {
        // snippet.template-kernels
        let fast = KernelConfiguration(prelude: [.default], usesTemplate: true, preload: ["json", "decimal"])
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: fast)) { pool in
            _ = try await pool.run("1+1", key: "agent-1")  // starts the template, then forks
            _ = try await pool.run("1+1", key: "agent-2")  // a fork: milliseconds
            // snippet.hide
            let parent = "import os, sys\n(os.getppid(), 'decimal' in sys.modules)"
            let first = try await pool.run(parent, key: "agent-1").resultText
            #expect(first == (try await pool.run(parent, key: "agent-2").resultText))
            #expect(first?.hasPrefix("(\(getpid()),") == false, "forked by a template, not spawned by the host")
            #expect(first?.hasSuffix("True)") == true)
            // snippet.show
        }
        // snippet.end
    }

    // snippet.nothing-left
    @Test func leavesNoProcessBehind() async throws {
        let childPID = try await withKernel { kernel in
            let started = try await kernel.run("import subprocess\nsubprocess.Popen(['sleep', '600']).pid")
            return try #require(started.resultText.flatMap { Int32($0) })
        }
        // withKernel has returned: the kernel, and the sleep it started, are gone.
        #expect(await waitUntilGone(childPID))
    }
    // snippet.end

    // snippet.timeout
    @Test func aRunawayLoopTimesOut() async throws {
        try await withKernel { kernel in
            let result = try await kernel.run("while True: pass", options: ExecutionOptions(timeout: .seconds(1)))
            #expect(result.status == .timedOut)
            // The interrupt ended the loop (or, had it been ignored, the kernel was replaced):
            // either way the kernel answers again.
            #expect(try await kernel.run("1 + 1").resultText == "2")
        }
    }
    // snippet.end
}
