import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

/// The host against a scripted runner over a real pipe: what a buggy or newer runner may
/// send must never take the host down.
@Suite struct HostRobustnessTests {
    /// A stand-in interpreter: it answers the probe, then plays a runner that sends an
    /// unknown frame type, a line that is not JSON, a frame split across writes, and then a
    /// proper end for each execution.
    private static let scriptedRunner = #"""
        #!/usr/bin/env python3
        import json, os, sys, time
        if "-S" in sys.argv:  # the host's one-time probe: name this script as the executable
            print(json.dumps({"executable": os.path.abspath(sys.argv[0]), "version": [3, 11, 0]}))
            sys.exit(0)
        def send(text):
            os.write(1, text.encode())
        send(json.dumps({"type": "hello", "protocol": 1, "pid": os.getpid(), "python": "3.11.0",
                         "executable": sys.executable, "cwd": os.getcwd(), "futureField": [1, 2]}) + "\n")
        for line in sys.stdin:
            request = json.loads(line)
            ident = request.get("id")
            if request.get("type") != "execute":
                continue
            send(json.dumps({"type": "started", "id": ident, "executionCount": 1}) + "\n")
            send(json.dumps({"type": "progress", "id": ident, "percent": 50}) + "\n")
            send("this is not json\n")
            send('{"type":"stdout","id":"' + ident + '","da')
            time.sleep(0.05)
            send('ta":"split frame\\n"}\n')
            send(json.dumps({"type": "stdout", "id": ident, "data": "big:" + "y" * 300000}) + "\n")
            send(json.dumps({"type": "done", "id": ident, "status": "ok", "executionCount": 1,
                             "cancelled": False, "durationMs": 1, "cpuMs": 1, "peakRssBytes": 1}) + "\n")
        """#

    @Test func unknownFramesInvalidLinesAndSplitFramesAreHandled() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            try writeScript(fake, Self.scriptedRunner)
            try await withKernel(configuration: KernelConfiguration(interpreter: .path(fake))) { kernel throws in
                let execution = await kernel.execute("anything")
                var unknown: [JSONValue] = []
                var stdout = ""
                for await event in execution {
                    switch event {
                    case .unknown(let raw): unknown.append(raw)
                    case .stdout(let text): stdout += text
                    default: break
                    }
                }
                let result = try await execution.result()
                #expect(result.status == .ok)
                #expect(unknown.count == 1)
                #expect(unknown.first?["percent"]?.intValue == 50)
                #expect(stdout.hasPrefix("split frame\nbig:yyy"))
                #expect(stdout.utf8.count == "split frame\n".utf8.count + 4 + 300000)
                // The kernel is still there for the next execution.
                #expect(try await kernel.run("again").status == .ok)
            }
        }
    }
}
