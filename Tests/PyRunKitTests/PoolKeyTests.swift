import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keys, configurations, reset and listing.
@Suite struct PoolKeyTests {
    // MARK: - Isolation and ordering

    @Test func keysDoNotShareState() async throws {
        try await withPool { pool in
            _ = try await pool.run("secret = 'only A'", key: "A")
            let fromB = try await pool.run("secret", key: "B")
            #expect(fromB.status == .error)
            #expect(fromB.error?.name == "NameError")
            #expect(try await pool.run("secret", key: "A").resultText == "'only A'")
            #expect(try await kernelPID(pool, key: "A") != (try await kernelPID(pool, key: "B")))
        }
    }

    @Test func theDefaultKeyIsDefault() async throws {
        try await withPool { pool in
            _ = try await pool.run("n = 5")
            #expect(try await pool.run("n", key: KernelPool.defaultKey).resultText == "5")
            #expect(await pool.keys == ["default"])
        }
    }

    @Test func differentKeysRunInParallel() async throws {
        try await withTemporaryDirectory { directory in
            try await withPool { pool in
                // Each key's code announces itself and then waits for the other's announcement:
                // run one after the other, the first would wait until its deadline and fail.
                func meet(_ me: String, _ other: String) -> String {
                    """
                    import os, time
                    open(os.path.join(\(directory.debugDescription), \(me.debugDescription)), "w").close()
                    deadline = time.monotonic() + 60
                    while not os.path.exists(os.path.join(\(directory.debugDescription), \(other.debugDescription))):
                        if time.monotonic() > deadline:
                            raise TimeoutError("the other key never ran at the same time")
                        time.sleep(0.01)
                    """
                }
                async let left = pool.run(meet("left", "right"), key: "left")
                async let right = pool.run(meet("right", "left"), key: "right")
                let results = try await [left, right]
                #expect(results.map(\.status) == [.ok, .ok], "\(results.map { $0.error?.description ?? "ok" })")
            }
        }
    }

    @Test func oneKeyRunsOneExecutionAtATime() async throws {
        try await withPool { pool in
            _ = try await pool.run("log = []", key: "serial")
            try await withThrowingTaskGroup(of: ExecutionResult.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await pool.run(
                            "import time\nlog.append(('in', \(index)))\ntime.sleep(0.05)\nlog.append(('out', \(index)))",
                            key: "serial")
                    }
                }
                for try await result in group { #expect(result.succeeded) }
            }
            // Each execution's in/out pair is adjacent: none ran inside another.
            let check = try await pool.run(
                "all(log[i][0] == 'in' and log[i + 1] == ('out', log[i][1]) for i in range(0, len(log), 2)) and len(log) == 12",
                key: "serial")
            #expect(check.resultText == "True")
        }
    }

    @Test func executionsOfOneCallerRunInTheOrderGiven() async throws {
        try await withPool { pool in
            _ = try await pool.run("order = []", key: "k")
            for index in 0..<5 { _ = try await pool.run("order.append(\(index))", key: "k") }
            #expect(try await pool.run("order", key: "k").resultText == "[0, 1, 2, 3, 4]")
        }
    }

    // MARK: - Configuration

    @Test func aDifferentWorkingDirectoryRestartsOnlyThatKey() async throws {
        try await withTemporaryDirectory { first in
            try await withTemporaryDirectory { second in
                try await withPool { pool in
                    let events = pool.events
                    let firstConfiguration = KernelConfiguration(workingDirectory: first)
                    _ = try await pool.run("state = 1", key: "moving", configuration: firstConfiguration)
                    let movingPID = try await kernelPID(pool, key: "moving")
                    _ = try await pool.run("state = 2", key: "staying")
                    let stayingPID = try await kernelPID(pool, key: "staying")

                    let moved = try await pool.run(
                        "import os\nos.getcwd()", key: "moving",
                        configuration: KernelConfiguration(workingDirectory: second))
                    #expect(moved.resultText == "'\(second)'")
                    #expect(moved.notices.first?.description.contains("configuration of key 'moving' changed") == true)
                    #expect(moved.notices.first?.description.contains("working directory") == true)
                    #expect(moved.notices.first?.description.contains("earlier state is gone") == true)
                    #expect(try await pool.run("'state' in globals()", key: "moving").resultText == "False")
                    #expect(await waitUntilGone(movingPID))
                    let restarted = await firstEvent(in: events) {
                        $0.key == "moving" && $0.kind == .restarted(.configurationChanged)
                    }
                    #expect(restarted != nil)

                    #expect(try await pool.run("state", key: "staying").resultText == "2")
                    #expect(try await kernelPID(pool, key: "staying") == stayingPID)
                }
            }
        }
    }

    @Test func theSameConfigurationKeepsState() async throws {
        try await withTemporaryDirectory { directory in
            try await withPool { pool in
                let configuration = KernelConfiguration(
                    workingDirectory: directory, environment: .inheritUpdating(["POOL_TEST": "1"]))
                _ = try await pool.run("kept = 42", key: "k", configuration: configuration)
                let again = try await pool.run("kept", key: "k", configuration: configuration)
                #expect(again.resultText == "42")
                #expect(again.notices.isEmpty)
                // No configuration given: the key keeps the one it has.
                let unchanged = try await pool.run("import os\n(kept, os.environ['POOL_TEST'])", key: "k")
                #expect(unchanged.resultText == "(42, '1')")
            }
        }
    }

    @Test func anUnstartableConfigurationIsAnErrorAndOtherKeysCarryOn() async throws {
        try await withPool { pool in
            _ = try await pool.run("alive = True", key: "good")
            await #expect(throws: KernelError.self) {
                try await pool.run(
                    "1", key: "bad", configuration: KernelConfiguration(interpreter: .path("/nonexistent/python3")))
            }
            #expect(try await pool.run("alive", key: "good").resultText == "True")
            // A kernel that never started holds no place.
            #expect(await pool.keys == ["good"])
        }
    }

    // MARK: - Reset and shutdown of one key

    @Test func resetGivesOneKeyAFreshInterpreter() async throws {
        try await withPool { pool in
            let events = pool.events
            _ = try await pool.run("value = 'A'", key: "A")
            _ = try await pool.run("value = 'B'", key: "B")
            let oldPID = try await kernelPID(pool, key: "A")
            try await pool.reset("A")
            #expect(await waitUntilGone(oldPID))
            let afterReset = try await pool.run("'value' in globals()", key: "A")
            #expect(afterReset.resultText == "False")
            #expect(afterReset.notices.first?.description.contains("was reset") == true)
            #expect(try await pool.run("value", key: "B").resultText == "'B'")
            #expect(await firstEvent(in: events) { $0.key == "A" && $0.kind == .restarted(.reset) } != nil)
        }
    }

    @Test func shutdownOfOneKeyLeavesTheOthers() async throws {
        // A generous grace, so that only a kernel that never leaves is not `.graceful`.
        try await withPool(configuration: PoolConfiguration(shutdownGrace: .seconds(60))) { pool in
            let events = pool.events
            _ = try await pool.run("x = 1", key: "A")
            _ = try await pool.run("x = 2", key: "B")
            let pidA = try await kernelPID(pool, key: "A")
            #expect(await pool.shutdown("A") == .graceful)
            let shutDown = await firstEvent(in: events) { $0.key == "A" && $0.kind.isShutDown }
            #expect(shutDown?.kind == .shutDown(.graceful))
            #expect(await waitUntilGone(pidA))
            #expect(await pool.keys == ["B"])
            #expect(try await pool.run("x", key: "B").resultText == "2")
            let fresh = try await pool.run("'x' in globals()", key: "A")
            #expect(fresh.resultText == "False")
            #expect(fresh.notices.first?.description.contains("shut down") == true)
            #expect(await pool.shutdown("never-used") == .notRunning)
        }
    }

    // MARK: - Listing

    @Test func listingDescribesEveryLiveKey() async throws {
        try await withTemporaryDirectory { directory in
            try await withPool { pool in
                let before = Date()
                _ = try await pool.run(
                    "a = 1", key: "alpha", configuration: KernelConfiguration(workingDirectory: directory))
                let alphaPID = try await kernelPID(pool, key: "alpha")
                _ = try await pool.run("b = 1", key: "beta")

                let listing = await pool.list()
                #expect(listing.map(\.key) == ["alpha", "beta"])
                let alpha = try #require(listing.first)
                #expect(alpha.pid == alphaPID)
                #expect(alpha.workingDirectory == directory)
                #expect(alpha.interpreter?.version.major == 3)
                #expect(alpha.executionCount == 2)
                #expect(alpha.busy == false)
                #expect(try #require(alpha.startedAt) >= before.addingTimeInterval(-1))
                #expect(alpha.lastUsed >= alpha.startedAt!)
                #if os(Linux)
                let resident = try #require(alpha.residentMemoryBytes)
                #expect(resident > 1_000_000 && resident < 500_000_000)
                #endif

                let sleeper = Task { try await pool.run("import time\ntime.sleep(1.5)", key: "beta") }
                let sawBusy = await eventually { await pool.list().first { $0.key == "beta" }?.busy == true }
                #expect(sawBusy)
                _ = try await sleeper.value
                #expect(await pool.list().first { $0.key == "beta" }?.busy == false)
            }
        }
    }
}
