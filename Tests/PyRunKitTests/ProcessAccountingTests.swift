import Foundation
import Logging
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the process layer reports of a live kernel at its exit: memory, OOM kills, and the
/// last signal the host sent (issue 9, item 1).
@Suite struct ProcessAccountingTests {
    private static let linuxProc = ProcessTable.isAvailable

    @Test func thePeakIsTheKernelsOwnOnlyAboveTheHostsPeakAtSpawn() {
        let mebibyte = 1 << 20
        // ru_maxrss at or below the host's peak may be the host's: only a sample is known.
        #expect(
            KernelProcess.peakResidentBytes(
                reported: 80 * mebibyte, hostPeakAtSpawn: 90 * mebibyte, sampled: 12 * mebibyte) == 12 * mebibyte)
        #expect(
            KernelProcess.peakResidentBytes(reported: 80 * mebibyte, hostPeakAtSpawn: 90 * mebibyte, sampled: nil)
                == nil)
        #expect(
            KernelProcess.peakResidentBytes(
                reported: 400 * mebibyte, hostPeakAtSpawn: 90 * mebibyte, sampled: 12 * mebibyte) == 400 * mebibyte)
        // Without a host figure (macOS) the OS's count stands.
        #expect(
            KernelProcess.peakResidentBytes(reported: 30 * mebibyte, hostPeakAtSpawn: nil, sampled: nil) == 30
                * mebibyte)
    }

    // MARK: - A live process

    @Test(.enabled(if: linuxProc)) func memoryIsSampledWhileItLivesAndReportedAtTheExit() async throws {
        let hostPeak = try #require(ResidentMemory.sampleHost()?.peak)
        let (process, log) = try startStandIn("import sys\nprint('ready')\nsys.stdin.read()")
        #expect(await log.printedLine() == "ready")
        let sampled = try #require(process.sampleResidentMemory())
        #expect(sampled > 1 << 20)
        let memory = try #require(ResidentMemory.sample(process.pid))
        try #require(memory.peak < hostPeak, "this test needs a host larger than a small python")
        process.closeInput()
        let exit = try #require(await log.exited())
        #expect(exit.lastResidentBytes == sampled)
        // The OS's figure for this small process is the host's peak carried over at spawn:
        // what is reported is what was sampled, never the host's own size.
        let peak = try #require(exit.peakResidentBytes)
        #expect(peak >= sampled)
        #expect(peak < hostPeak)
        #expect(process.sampleResidentMemory() == nil, "sampled after reaping")
    }

    @Test(.enabled(if: linuxProc)) func aLargeAllocationIsThePeakAtTheExit() async throws {
        let hostPeak = try #require(ResidentMemory.sampleHost()?.peak)
        let size = hostPeak + 256 << 20
        let (_, log) = try startStandIn(
            "block = bytearray(\(size))\nfor i in range(0, len(block), 4096): block[i] = 1\nprint('touched')")
        #expect(await log.printedLine() == "touched")
        let exit = try #require(await log.exited())
        #expect(exit.status == .exited(0))
        let peak = try #require(exit.peakResidentBytes)
        #expect(peak >= size)
        #expect(exit.lastResidentBytes == nil, "never sampled")
    }

    @Test func theLastSignalThatIsNotAnInterruptIsReported() async throws {
        let (process, log) = try startStandIn(
            """
            import signal, sys, time
            signal.signal(signal.SIGINT, lambda *_: print("interrupted"))
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(9))
            print("ready")
            time.sleep(120)
            """)
        #expect(await log.printedLine() == "ready")
        process.signal(SIGINT)
        #expect(await log.printedLine(1) == "interrupted")
        process.signal(SIGTERM)
        let exit = try #require(await log.exited())
        #expect(exit.status == .exited(9))
        #expect(exit.hostSignal == SIGTERM)
    }

    @Test func outOfMemoryKillsAreCountedWhereTheCgroupSaysSo() async throws {
        let available = OutOfMemoryCounter.forProcess(getpid())?.read() != nil
        let (_, log) = try startStandIn("pass")
        let exit = try #require(await log.exited())
        #expect((exit.outOfMemoryKills != nil) == available)
        // Nothing here was killed for memory, nor (being a test machine) anything near it.
        if let kills = exit.outOfMemoryKills { #expect(kills == 0) }
    }

    @Test(.enabled(if: linuxProc)) func aKernelsDeathCarriesTheMemoryThisLayerSaw() async throws {
        // The kernel layer samples at every `done`; the death then says what was last seen,
        // and the peak is the kernel's own, not the host's carried over at spawn.
        let hostPeak = try #require(ResidentMemory.sampleHost()?.peak)
        try await withKernel(configuration: .forTests) { kernel throws in
            #expect(try await kernel.run("x = 1").status == .ok)
            let result = try await kernel.run("import os\nos._exit(3)")
            let death = try #require(result.death)
            let last = try #require(death.memory.lastResidentBytes)
            #expect(last > 1 << 20)
            let peak = try #require(death.memory.peakResidentBytes)
            #expect(peak >= last)
            #expect(peak < hostPeak, "the host's own peak was reported as the kernel's")
        }
    }
}
