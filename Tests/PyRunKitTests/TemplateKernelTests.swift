import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kernels forked from a template (issue 15): ordinary kernels, with their statuses, family
/// kill and parent death as safe as a spawned kernel's. One at a time: the test of the limit on
/// live templates ends idle ones, such as another test's between a reset and the next fork.
@Suite(.enabled(if: ProcessTable.isAvailable), .serialized) struct TemplateKernelTests {
    /// A configuration with a template of its own: the environment is part of a template's
    /// key, so a test that kills its template touches no other test's.
    static func privateTemplate(preload: [String] = [], marker: String = UUID().uuidString) -> KernelConfiguration {
        var configuration = KernelConfiguration.forTests
        configuration.environment = .inheritUpdating([markerVariable: marker])
        configuration.usesTemplate = true
        configuration.preload = preload
        return configuration
    }

    /// The variable that keeps a test's template its own.
    static let markerVariable = "PYRUN_TEST_TEMPLATE"

    /// The parent of `pid`, from /proc.
    static func parent(of pid: Int32) -> Int32? {
        ProcessTable.record(of: pid).map(\.parent)
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard let record = ProcessTable.record(of: pid) else { return false }
        return !record.isGone
    }

    // MARK: - A forked kernel is an ordinary kernel

    @Test func aForkedKernelLeadsItsOwnSessionAndSaysItsOwnPid() async throws {
        let kernel = PythonKernel(configuration: Self.privateTemplate(preload: ["json"]))
        let hello = try await kernel.start()
        #expect(await kernel.templateUnavailable == nil)
        let template = try #require(Self.parent(of: hello.pid))
        #expect(template != getpid(), "the kernel was spawned, not forked")
        #expect(Self.parent(of: template) == getpid())
        #expect(getsid(hello.pid) == hello.pid)
        #expect(getpgid(hello.pid) == hello.pid)
        let result = try await kernel.run("import os, sys\n(os.getpid(), 'json' in sys.modules)")
        #expect(result.resultText == "(\(hello.pid), True)")
        await kernel.shutdown()
        #expect(await eventually { !Self.isAlive(hello.pid) })
    }

    @Test func twoKernelsOfOneTemplateShareNeitherNamesNorRandomNumbers() async throws {
        let configuration = Self.privateTemplate(preload: ["random"])
        let first = PythonKernel(configuration: configuration)
        let second = PythonKernel(configuration: configuration)
        let firstPID = try await first.start().pid
        let secondPID = try await second.start().pid
        #expect(Self.parent(of: firstPID) == Self.parent(of: secondPID))
        _ = try await first.run("x = 41")
        #expect(try await first.run("x + 1").resultText == "42")
        #expect(try await second.run("x").status == .error)
        let draw = "import random\nrandom.getrandbits(64)"
        #expect(try await first.run(draw).resultText != second.run(draw).resultText)
        await first.shutdown()
        await second.shutdown()
    }

    // MARK: - Remote launchers

    @Test func aKernelBehindALauncherStartsTheOrdinaryWayThoughATemplateIsAsked() async throws {
        // A template runs on this machine; the runner of a launcher runs on the far side, so
        // `usesTemplate` does not apply: here the far side is a local `sh`.
        var configuration = RemoteKernelTests.configuration(RemoteKernelTests.shellLauncher())
        configuration.environment = .inheritUpdating(["PYRUN_TEST_TEMPLATE": UUID().uuidString])
        configuration.usesTemplate = true
        #expect(!configuration.description.contains("from a template"))
        let kernel = PythonKernel(configuration: configuration)
        let hello = try await kernel.start()
        #expect(await kernel.templateUnavailable == nil)
        let launcher = try #require(Self.parent(of: hello.pid))
        #expect(Self.parent(of: launcher) == getpid(), "the runner's parent is not the launcher the host started")
        let name = try String(contentsOfFile: "/proc/\(launcher)/comm", encoding: .utf8)
        #expect(name.trimmingCharacters(in: .whitespacesAndNewlines) == "sh")
        #expect(try await kernel.run("1 + 1").resultText == "2")
        await kernel.shutdown()
        #expect(await eventually { !Self.isAlive(hello.pid) })
    }

    // MARK: - Statuses

    @Test func theExitCodeOfAForkedKernelIsReported() async throws {
        let kernel = PythonKernel(configuration: Self.privateTemplate())
        try await kernel.start()
        let result = try await kernel.run("import os\nos._exit(7)")
        #expect(result.status == .kernelDied)
        let death = try #require(await kernel.lastDeath)
        #expect(death.status == .exited(7))
    }

    @Test func theSignalThatKilledAForkedKernelIsReported() async throws {
        let kernel = PythonKernel(configuration: Self.privateTemplate())
        let pid = try await kernel.start().pid
        let running = await kernel.execute("import time\ntime.sleep(300)")
        #expect(kill(pid, SIGKILL) == 0)
        let result = try await running.result()
        #expect(result.status == .kernelDied)
        let death = try #require(await kernel.lastDeath)
        #expect(death.status == .signaled(SIGKILL))
        #expect(death.processID == pid)
    }

    // MARK: - The family kill

    @Test func whatAForkedKernelStartedInItsSessionDiesWithIt() async throws {
        // The host ends the kernel's family after the kernel exits, by its session id: safe
        // only because the template holds the kernel's zombie until the host releases it.
        let kernel = PythonKernel(configuration: Self.privateTemplate())
        try await kernel.start()
        let started = try await kernel.run("import subprocess\nsubprocess.Popen(['sleep', '300']).pid")
        let sleeper = try #require(started.resultText.flatMap { Int32($0) })
        #expect(Self.isAlive(sleeper))
        _ = try await kernel.run("import os\nos._exit(3)")
        #expect(await eventually(within: 30) { !Self.isAlive(sleeper) }, "the kernel's child outlived it")
        if Self.isAlive(sleeper) { kill(sleeper, SIGKILL) }
    }

    // MARK: - The template's death

    @Test func aKilledTemplateTakesItsKernelsAlongAndTheNextStartIsOrdinaryWithAnEvent() async throws {
        let configuration = Self.privateTemplate()
        let pool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: configuration))
        let events = pool.events
        let first = try await kernelPID(pool, key: "first")
        let template = try #require(Self.parent(of: first))
        #expect(template != getpid())
        #expect(kill(template, SIGKILL) == 0)
        #expect(await eventually(within: 30) { !Self.isAlive(first) }, "a forked kernel outlived its template")

        let second = try await kernelPID(pool, key: "second")
        #expect(Self.parent(of: second) == getpid(), "the start after the template's death was not ordinary")
        let event = await firstEvent(in: events) { event in
            if case .templateUnavailable = event.kind { event.key == "second" } else { false }
        }
        let reason = try #require(event.map { "\($0)" })
        #expect(reason.contains("died"))
        // The one after that has a fresh template.
        let third = try await kernelPID(pool, key: "third")
        let fresh = try #require(Self.parent(of: third))
        #expect(fresh != getpid() && fresh != template)
        await pool.shutdownAll()
    }

    @Test func aKernelWhoseTemplateIsKilledSaysSoAndItsKeyStartsAgainWithAnEvent() async throws {
        let pool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: Self.privateTemplate()))
        let deaths = pool.events
        let starts = pool.events
        let first = try await kernelPID(pool, key: "k")
        let template = try #require(Self.parent(of: first))
        #expect(template != getpid())
        let running = await pool.execute("import time\ntime.sleep(300)", key: "k")
        #expect(kill(template, SIGKILL) == 0)
        let result = try await running.result()
        #expect(result.status == .kernelDied)
        let death = try #require(result.death)
        // The template held the kernel's status: the kernel's end is told by the template's.
        #expect(death.cause == .templateDied(processID: template, status: .signaled(SIGKILL)))
        #expect(death.processID == first)
        #expect("\(death)".contains("template process (pid \(template)) was killed by signal 9 (SIGKILL)"), "\(death)")
        #expect(!"\(death)".contains("status -1"), "\(death)")
        let died = await firstEvent(in: deaths) { $0.key == "k" && $0.kind.isDied }
        #expect(died.map { "\($0)" }?.contains("template process (pid \(template))") == true)

        // The key's next start is an ordinary one, and an event says why.
        let second = try await kernelPID(pool, key: "k")
        #expect(second != first)
        #expect(Self.parent(of: second) == getpid(), "the start after the template's death was not ordinary")
        let unavailable = await firstEvent(in: starts) { event in
            if case .templateUnavailable = event.kind { event.key == "k" } else { false }
        }
        #expect(unavailable.map { "\($0)" }?.contains("died") == true, "\(String(describing: unavailable))")
        await pool.shutdownAll()
    }

    @Test func aResetForksAFreshKernelFromTheTemplate() async throws {
        let pool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: Self.privateTemplate()))
        let before = try await kernelPID(pool, key: "k")
        let template = try #require(Self.parent(of: before))
        #expect(template != getpid())
        try await pool.reset("k")
        let after = try await kernelPID(pool, key: "k")
        #expect(before != after)
        #expect(Self.parent(of: after) == template)
        await pool.shutdownAll()
    }

    @Test func templatesPastTheLimitThatRunNoKernelAreEnded() async throws {
        var templates: [Int32] = []
        for _ in 0...KernelTemplates.liveTemplateLimit {
            let kernel = PythonKernel(configuration: Self.privateTemplate())
            let pid = try await kernel.start().pid
            templates.append(try #require(Self.parent(of: pid)))
            await kernel.shutdown()
            #expect(await eventually { !Self.isAlive(pid) })
        }
        #expect(Set(templates).count == templates.count)
        #expect(!templates.contains(getpid()))
        // The oldest runs no kernel: it is ended to stay within the limit; the newest stays.
        #expect(
            await eventually(within: 30) { !Self.isAlive(templates[0]) }, "an idle template past the limit lives on")
        #expect(Self.isAlive(templates[templates.count - 1]))
    }

    // MARK: - Ending idle templates

    @Test func endingIdleTemplatesEndsThoseWithoutKernelsAndALaterStartForksAgain() async throws {
        let idleMarker = UUID().uuidString
        let busyMarker = UUID().uuidString
        let idle = PythonKernel(configuration: Self.privateTemplate(marker: idleMarker))
        let idleTemplate = try #require(Self.parent(of: try await idle.start().pid))
        let busy = PythonKernel(configuration: Self.privateTemplate(marker: busyMarker))
        let busyTemplate = try #require(Self.parent(of: try await busy.start().pid))
        #expect(![idleTemplate, busyTemplate].contains(getpid()))
        #expect(idleTemplate != busyTemplate)
        await idle.shutdown()

        #expect(await KernelPool.endIdleTemplates(matching: [Self.markerVariable: idleMarker]) == 1)
        #expect(!Self.isAlive(idleTemplate), "an idle template outlived endIdleTemplates")
        // A template whose kernel runs stays, and so does the kernel.
        #expect(await KernelPool.endIdleTemplates(matching: [Self.markerVariable: busyMarker]) == 0)
        #expect(Self.isAlive(busyTemplate))
        #expect(try await busy.run("1 + 1").resultText == "2")
        await busy.shutdown()
        #expect(await KernelPool.endIdleTemplates(matching: [Self.markerVariable: busyMarker]) == 1)
        #expect(!Self.isAlive(busyTemplate))

        // The next kernel of that configuration forks from a fresh template.
        let again = PythonKernel(configuration: Self.privateTemplate(marker: idleMarker))
        let againPID = try await again.start().pid
        #expect(await again.templateUnavailable == nil)
        let fresh = try #require(Self.parent(of: againPID))
        #expect(fresh != getpid() && fresh != idleTemplate)
        #expect(try await again.run("1 + 1").resultText == "2")
        await again.shutdown()
        #expect(await KernelPool.endIdleTemplates(matching: [Self.markerVariable: idleMarker]) == 1)
        #expect(!Self.isAlive(fresh))
    }

    /// Runs `body` with the path of a prelude that leaves a thread running (so no template can
    /// fork from it), in a temporary directory removed afterwards.
    private func withThreadedPrelude(_ body: (String) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let prelude = "\(directory)/threaded.py"
            try "import threading, time\nthreading.Thread(target=time.sleep, args=(300,), daemon=True).start()\n"
                .write(toFile: prelude, atomically: true, encoding: .utf8)
            try await body(prelude)
        }
    }

    @Test func aTemplateThatCouldNotStartIsTriedAgainOnceIdleTemplatesAreEnded() async throws {
        try await withThreadedPrelude { prelude in
            let marker = UUID().uuidString
            var configuration = Self.privateTemplate(marker: marker)
            configuration.prelude = [.file(URL(fileURLWithPath: prelude))]
            let refused = PythonKernel(configuration: configuration)
            try await refused.start()
            #expect(await refused.templateUnavailable != nil)
            await refused.shutdown()

            // The host edits the prelude in place; the failure is remembered until it ends them.
            try "threaded = False\n".write(toFile: prelude, atomically: true, encoding: .utf8)
            #expect(await KernelPool.endIdleTemplates(matching: [Self.markerVariable: marker]) == 0)
            let forked = PythonKernel(configuration: configuration)
            let pid = try await forked.start().pid
            #expect(await forked.templateUnavailable == nil)
            let template = try #require(Self.parent(of: pid))
            #expect(template != getpid())
            #expect(try await forked.run("threaded").resultText == "False")
            await forked.shutdown()
            #expect(await KernelPool.endIdleTemplates(matching: [Self.markerVariable: marker]) == 1)
        }
    }

    @Test func aPreludeThatStartsAThreadGetsNoTemplate() async throws {
        try await withThreadedPrelude { prelude in
            var configuration = Self.privateTemplate()
            configuration.prelude = [.file(URL(fileURLWithPath: prelude))]
            let kernel = PythonKernel(configuration: configuration)
            let hello = try await kernel.start()
            #expect(Self.parent(of: hello.pid) == getpid())
            let reason = try #require(await kernel.templateUnavailable)
            #expect(reason.contains("single-threaded"))
            await kernel.shutdown()
        }
    }
}
