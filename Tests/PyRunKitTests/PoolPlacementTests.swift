import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

/// Issue 16: a pool places keys on launchers. Each launcher here is `env PYRUN_PLACE=NAME`
/// in front of the far side's `python3`, so a kernel says where it was placed by reading
/// that variable; the ssh one goes through a private OpenSSH server on loopback.
@Suite(.serialized) struct PoolPlacementTests {
    static func place(_ name: String) -> KernelLauncher {
        .command(["/usr/bin/env", "PYRUN_PLACE=\(name)"])
    }

    static func pool(_ placement: KernelPlacement, warmSpares: Int = 0) -> PoolConfiguration {
        PoolConfiguration(
            defaultConfiguration: KernelConfiguration(startupTimeout: .seconds(60)), warmSpares: warmSpares,
            placement: placement)
    }

    /// Where `key`'s kernel runs, as it says.
    static func placeOf(_ key: String, in pool: KernelPool, configuration: KernelConfiguration? = nil) async throws
        -> String?
    {
        try await pool.run(
            "import os\nprint(os.environ.get('PYRUN_PLACE', 'here'))", key: key, configuration: configuration
        ).stdout.split(separator: "\n").first.map(String.init)
    }

    @Test func roundRobinTakesTheLaunchersInTurn() async throws {
        let placement = KernelPlacement([Self.place("a"), Self.place("b")], strategy: .roundRobin)
        try await withPool(configuration: Self.pool(placement)) { pool throws in
            var places: [String?] = []
            for key in ["k1", "k2", "k3", "k4"] { places.append(try await Self.placeOf(key, in: pool)) }
            #expect(places == ["a", "b", "a", "b"])
            // A key keeps its place while its kernel lives.
            #expect(try await Self.placeOf("k1", in: pool) == "a")
        }
    }

    @Test func theListingOfAPlacedKernelNamesItsLauncherAndTheRunnersOwnPid() async throws {
        let placement = KernelPlacement([Self.place("a")], strategy: .roundRobin)
        try await withPool(configuration: Self.pool(placement)) { pool throws in
            let farPID = try await pool.run("import os\nos.getpid()", key: "k").resultText
            let listing = try #require(await pool.list().first)
            // The runner's pid, as its hello and the pool's events say (`env` execs python,
            // so here it is also the launcher's; the ssh test below tells them apart).
            #expect(listing.pid.map(String.init) == farPID)
            #expect(listing.pid == (await pool.processID(of: "k")))
            #expect(listing.launcher == Self.place("a"))
            #expect(listing.residentMemoryBytes == nil, "the far side's memory is not measured here")
            #expect(listing.interpreter?.source == .farSide)
            #expect(listing.interpreter?.version.major == 3)
            #expect(listing.description.contains("via /usr/bin/env PYRUN_PLACE=a"))
        }
    }

    @Test func leastLoadedFillsTheLauncherWithFewestLiveKernels() async throws {
        let placement = KernelPlacement([Self.place("a"), Self.place("b")], strategy: .leastLoaded)
        try await withPool(configuration: Self.pool(placement)) { pool throws in
            #expect(try await Self.placeOf("k1", in: pool) == "a")
            #expect(try await Self.placeOf("k2", in: pool) == "b")
            #expect(try await Self.placeOf("k3", in: pool) == "a")  // a tie: the earliest given
            // "a" empties; round robin would now say "b" (the fourth turn).
            await pool.shutdown("k1")
            await pool.shutdown("k3")
            #expect(try await Self.placeOf("k4", in: pool) == "a")
            #expect(try await Self.placeOf("k5", in: pool) == "a")
            #expect(try await Self.placeOf("k6", in: pool) == "b")
        }
    }

    @Test func aKeyWhoseConfigurationNamesALauncherRunsThereAndIsNotPlaced() async throws {
        let placement = KernelPlacement([Self.place("a"), Self.place("b")], strategy: .roundRobin)
        try await withPool(configuration: Self.pool(placement)) { pool throws in
            let pinned = KernelConfiguration(startupTimeout: .seconds(60), launcher: Self.place("pinned"))
            #expect(try await Self.placeOf("p", in: pool, configuration: pinned) == "pinned")
            #expect(try await Self.placeOf("k1", in: pool) == "a")
            #expect(try await Self.placeOf("p", in: pool) == "pinned")
            // Without a placement, a key's own launcher is all there is.
            try await withPool(configuration: PoolConfiguration()) { plain throws in
                #expect(try await Self.placeOf("p", in: plain, configuration: pinned) == "pinned")
                #expect(try await Self.placeOf("k", in: plain) == "here")
            }
        }
    }

    @Test func warmSparesArePlacedAndHandedToKeysOnTheirLauncher() async throws {
        let placement = KernelPlacement([Self.place("a"), Self.place("b")], strategy: .leastLoaded)
        try await withPool(configuration: Self.pool(placement, warmSpares: 2)) { pool throws in
            #expect(await eventually(within: 120) { await pool.readySpareCount == 2 })
            let events = pool.events
            #expect(try await Self.placeOf("k1", in: pool) == "a")
            #expect(try await Self.placeOf("k2", in: pool) == "b")
            let fromSpare = await firstEvent(in: events, within: 60) { event in
                if case .started(_, _, fromWarmSpare: true) = event.kind { return event.key == "k2" }
                return false
            }
            #expect(fromSpare != nil, "k2 took the spare started on b")
        }
    }

    @Test func overSSHAPlacementSpansALocalLauncherAndAnSSHOne() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let placement = KernelPlacement([.local, server.launcher()], strategy: .roundRobin)
        try await withPool(configuration: Self.pool(placement)) { pool throws in
            let parent = "import os\nprint(open('/proc/%d/comm' % os.getppid()).read().strip())"
            let local = try await pool.run(parent, key: "k1").stdout
            let remote = try await pool.run(parent, key: "k2").stdout
            #expect(!local.hasPrefix("sshd"), "k1's parent: \(local)")
            #expect(remote.hasPrefix("sshd"), "k2's parent: \(remote)")
            // The listing names the far runner's pid, not the local ssh's.
            let farPID = try await pool.run("import os\nos.getpid()", key: "k2").resultText
            let listing = try #require(await pool.list().first { $0.key == "k2" })
            #expect(listing.pid.map(String.init) == farPID)
            #expect(listing.launcher == server.launcher())
            #expect(listing.residentMemoryBytes == nil)
        }
    }
}
