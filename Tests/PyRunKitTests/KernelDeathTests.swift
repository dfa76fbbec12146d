import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 10 item 1: a death says who ended the kernel, and "out of memory" only with evidence.
@Suite struct KernelDeathTests {
    // MARK: - Classification

    private func cause(
        _ status: TerminationStatus, hostSignal: Int32? = nil, stopReason: KernelDeath.StopReason? = nil,
        interruptReason: KernelDeath.StopReason? = nil, selfSignal: Int32? = nil, memoryLimit: Int? = nil,
        peak: Int? = nil, outOfMemoryKills: Int? = nil, diagnostics: String = ""
    ) -> KernelDeath.Cause {
        KernelDeath.classify(
            KernelDeath.Evidence(
                status: status, hostSignal: hostSignal, stopReason: stopReason, interruptReason: interruptReason,
                selfSignal: selfSignal, memoryLimitBytes: memoryLimit, peakResidentBytes: peak,
                outOfMemoryKills: outOfMemoryKills, diagnostics: diagnostics))
    }

    @Test func aKillPyrunSentIsPyrunsWhateverElseIsKnown() {
        let grace = KernelDeath.StopReason.interruptNotHonoured(grace: .seconds(2))
        #expect(cause(.signaled(SIGKILL), hostSignal: SIGKILL, stopReason: grace) == .stoppedByPyrun(grace))
        // Also when the process had announced a kill of its own, or memory was short.
        #expect(
            cause(
                .signaled(SIGKILL), hostSignal: SIGKILL, stopReason: .shutdown, selfSignal: SIGKILL, outOfMemoryKills: 1
            )
                == .stoppedByPyrun(.shutdown))
        // A process asked to stop that exits by itself was stopped by pyrun.
        #expect(cause(.exited(0), stopReason: .eviction) == .stoppedByPyrun(.eviction))
        // But a signal pyrun did not send, while it was stopping the process, is not pyrun's.
        #expect(cause(.signaled(SIGSEGV), hostSignal: SIGTERM, stopReason: .shutdown) == .crashed(signal: SIGSEGV))
    }

    @Test func aKillTheCodeAnnouncedIsItsOwn() {
        #expect(cause(.signaled(SIGKILL), selfSignal: SIGKILL) == .killedItself(signal: SIGKILL))
        #expect(cause(.signaled(SIGABRT), selfSignal: SIGABRT) == .killedItself(signal: SIGABRT))
        // An announcement of another signal does not explain this one.
        #expect(cause(.signaled(SIGKILL), selfSignal: SIGTERM) == .killedFromOutside(signal: SIGKILL))
    }

    @Test func outOfMemoryNeedsEvidence() {
        #expect(cause(.signaled(SIGKILL)) == .killedFromOutside(signal: SIGKILL))
        #expect(cause(.signaled(SIGKILL), outOfMemoryKills: 0) == .killedFromOutside(signal: SIGKILL))
        #expect(cause(.signaled(SIGKILL), outOfMemoryKills: 2) == .outOfMemory(.cgroupOutOfMemoryKills(2)))
        let limit = 256 << 20
        #expect(
            cause(.signaled(SIGKILL), memoryLimit: limit, peak: 250 << 20)
                == .outOfMemory(.memoryLimitReached(limitBytes: limit)))
        #expect(
            cause(
                .signaled(SIGABRT), memoryLimit: limit, peak: 30 << 20, diagnostics: "Fatal Python error: MemoryError")
                == .outOfMemory(.memoryLimitReached(limitBytes: limit)))
        // A limit far from reached is no evidence.
        #expect(cause(.signaled(SIGKILL), memoryLimit: limit, peak: 30 << 20) == .killedFromOutside(signal: SIGKILL))
        #expect(cause(.exited(77), memoryLimit: limit) == .outOfMemory(.memoryLimitReached(limitBytes: limit)))
        #expect(cause(.exited(77)) == .exited(code: 77))
    }

    @Test func signalsAreSortedByWhatTheyMean() {
        for crash in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT] {
            #expect(cause(.signaled(crash)) == .crashed(signal: crash))
        }
        #expect(cause(.signaled(SIGXCPU)) == .limitReached(.cpuTime, signal: SIGXCPU))
        #expect(cause(.signaled(SIGXFSZ)) == .limitReached(.fileSize, signal: SIGXFSZ))
        #expect(cause(.signaled(SIGTERM)) == .killedFromOutside(signal: SIGTERM))
        #expect(cause(.exited(3)) == .exited(code: 3))
        #expect(cause(.exited(76)) == .stoppedByPyrun(.frameChannelLost))
        // The host's own interrupt, when the code had restored SIGINT's default action.
        #expect(cause(.signaled(SIGINT), interruptReason: .interrupted) == .stoppedByPyrun(.interrupted))
        #expect(
            cause(.signaled(SIGINT), interruptReason: .timeout(after: .seconds(1)))
                == .stoppedByPyrun(.timeout(after: .seconds(1))))
        #expect(cause(.signaled(SIGINT)) == .killedFromOutside(signal: SIGINT))
    }

    @Test func onlyAnOutOfMemoryCauseSaysOutOfMemory() {
        let causes: [KernelDeath.Cause] = [
            .stoppedByPyrun(.interruptNotHonoured(grace: .seconds(2))), .stoppedByPyrun(.timeout(after: .seconds(5))),
            .stoppedByPyrun(.interrupted), .stoppedByPyrun(.shutdown), .stoppedByPyrun(.eviction),
            .stoppedByPyrun(.idleCull), .stoppedByPyrun(.reset), .stoppedByPyrun(.configurationChanged),
            .stoppedByPyrun(.frameChannelLost), .stoppedByPyrun(.hostExit), .exited(code: 3), .crashed(signal: SIGSEGV),
            .killedItself(signal: SIGKILL), .limitReached(.cpuTime, signal: SIGXCPU),
            .killedFromOutside(signal: SIGKILL),
        ]
        for cause in causes {
            let death = KernelDeath(cause: cause, status: .signaled(SIGKILL), processID: 1)
            #expect(!death.description.lowercased().contains("out of memory"), "\(cause)")
            #expect(!death.description.contains("Optional("), "\(cause)")
        }
        for evidence: KernelDeath.OutOfMemoryEvidence in [
            .cgroupOutOfMemoryKills(1), .memoryLimitReached(limitBytes: 1 << 30),
        ] {
            let death = KernelDeath(cause: .outOfMemory(evidence), status: .signaled(SIGKILL), processID: 1)
            #expect(death.description.contains("out of memory"))
        }
    }

    @Test func theDeathMessageReadsAsASentence() {
        let death = KernelDeath(
            cause: .killedFromOutside(signal: SIGKILL), status: .signaled(SIGKILL), processID: 7, executionID: "e3")
        #expect(
            death.description.hasPrefix(
                "the kernel was killed from outside pyrun with signal 9 (SIGKILL) while running execution e3"))
        #expect(TerminationStatus.signaled(SIGKILL).description == "was killed by signal 9 (SIGKILL)")
        #expect(!"\(TerminationStatus.signaled(SIGKILL))".contains("OOM"))
    }

    // MARK: - Real kernels

    @Test func anIgnoredInterruptIsPyrunsKillNotAnOutsideOne() async throws {
        try await withKernel(configuration: KernelConfiguration(interruptGrace: .milliseconds(500))) { kernel throws in
            let execution = await kernel.execute(
                "import time\nwhile True:\n    try:\n        print('ready', flush=True)\n        time.sleep(100)\n    except KeyboardInterrupt:\n        pass"
            )
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .stdout = event { break }
            }
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            let death = try #require(result.death)
            #expect(death.cause == .stoppedByPyrun(.interruptNotHonoured(grace: .milliseconds(500))))
            #expect(death.status == .signaled(SIGKILL))
            #expect(!death.description.contains("outside"))
            #expect(!death.description.contains("out of memory"))
            #expect(await kernel.lastDeath == death)
        }
    }

    @Test func aTimeoutThatEndsTheProcessThroughSIGINTIsATimeout() async throws {
        // The code restores SIGINT's default action, so the interrupt kills the process.
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run(
                "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\nprint('waiting', flush=True)\ntime.sleep(60)",
                options: ExecutionOptions(timeout: .seconds(1)))
            #expect(result.status == .timedOut)
            #expect(result.stdout == "waiting\n")
            #expect(result.death?.cause == .stoppedByPyrun(.timeout(after: .seconds(1))))
            #expect(result.notices.map(\.kind).contains(.timedOut(after: .seconds(1))))
        }
    }

    @Test func aSegfaultIsACrash() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("import ctypes\nctypes.string_at(0)")
            #expect(result.status == .kernelDied)
            #expect(result.death?.cause == .crashed(signal: SIGSEGV))
            #expect(result.death?.executionID == result.id)
        }
    }

    @Test func theCPULimitIsALimitReached() async throws {
        try await withKernel(configuration: KernelConfiguration(limits: ResourceLimits(cpuSeconds: 1))) {
            kernel throws in
            let result = try await kernel.run("while True: pass")
            #expect(result.status == .kernelDied)
            #expect(result.death?.cause == .limitReached(.cpuTime, signal: SIGXCPU))
            #expect(result.death?.description.contains("CPU time limit") == true)
        }
    }

    @Test func anExitIsTheProcesssOwn() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("import os\nos._exit(3)")
            #expect(result.death?.cause == .exited(code: 3))
            #expect(result.notices.first?.kind == .died(try #require(result.death)))
            #expect(result.notices.first?.stateLost == true)
        }
    }

    @Test func codeThatKillsItsOwnProcessIsBlamedForIt() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
            #expect(result.status == .kernelDied)
            #expect(result.death?.cause == .killedItself(signal: SIGKILL))
            #expect(result.death?.description.contains("own code") == true)
            #expect(!(result.death?.description.contains("outside") ?? true))
        }
    }
}
