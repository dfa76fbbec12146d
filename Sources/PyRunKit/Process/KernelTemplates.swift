import Foundation
import Logging

/// The host's kernel templates, one per `KernelTemplate.Key`, started on first use and kept
/// for the life of the host (a template dies with it).
package actor KernelTemplates {
    /// The process-wide registry.
    package static let shared = KernelTemplates()

    private enum Entry {
        case starting(Task<Result<KernelTemplate, TemplateFailure>, Never>)
        case failed(TemplateFailure)
    }

    private var entries: [KernelTemplate.Key: Entry] = [:]
    /// The started templates, least recently used first.
    private var recency: [KernelTemplate] = []

    /// How many templates may stay alive at once; past it, those that run no kernel are ended,
    /// least recently used first (a run whose every file has its own working directory would
    /// otherwise keep one template per file).
    static let liveTemplateLimit = 8

    /// How long a template may take to be prepared (interpreter, preloads, prelude) at most,
    /// whatever the kernel's own start-up timeout.
    static let startTimeoutLimit: Double = 60

    /// The template for `key`, started if there is none. A template that has died is
    /// forgotten and reported as the failure: this start goes the ordinary way, the next one
    /// starts a fresh template. A template that could not start (within `timeout`, or at all)
    /// is not tried again.
    func template(
        for key: KernelTemplate.Key, runner: RunnerInstallation, timeout: Duration, logger: Logger
    ) async throws(TemplateFailure) -> KernelTemplate {
        if let entry = entries[key] {
            switch entry {
            case .failed(let failure):
                throw failure
            case .starting(let task):
                let template = try await task.value.get()
                if template.reserveFork() {
                    noteUse(of: template)
                    return template
                }
                if case .starting(let current) = entries[key], current == task { entries[key] = nil }
                throw TemplateFailure(description: "the kernel template (pid \(template.pid)) died")
            }
        }
        let command = LaunchCommand.template(python: key.executable, runner: runner)
        let seconds = min(Self.startTimeoutLimit, Double(timeout.components.seconds) + 1)
        let task = Task { await Self.start(key: key, command: command, timeout: seconds, logger: logger) }
        entries[key] = .starting(task)
        do throws(TemplateFailure) {
            let template = try await task.value.get()
            // Reserved before the others are counted: a template just started is not idle.
            guard template.reserveFork() else {
                if case .starting(let current) = entries[key], current == task { entries[key] = nil }
                throw TemplateFailure(description: "the kernel template (pid \(template.pid)) died")
            }
            noteUse(of: template)
            endIdleTemplates(over: Self.liveTemplateLimit)
            return template
        } catch {
            entries[key] = .failed(error)
            throw error
        }
    }

    private func noteUse(of template: KernelTemplate) {
        recency.removeAll { $0 === template }
        recency.append(template)
    }

    /// Ends the least recently used templates that run no kernel, until at most `limit` are
    /// alive (fewer cannot be: a template whose kernels run stays).
    private func endIdleTemplates(over limit: Int) {
        recency.removeAll { $0.isGone }
        var live = recency.count
        for template in recency where live > limit && template.terminateIfIdle() {
            live -= 1
            recency.removeAll { $0 === template }
            if case .starting = entries[template.key] { entries[template.key] = nil }
        }
    }

    /// Ends the templates whose kernels' environment sets every variable of `environment` to
    /// its value (all, for an empty one) and that run no kernel, and forgets those that could
    /// not start, so that the next kernel tries again. Returns once the ended ones are gone,
    /// with how many they were. See `KernelPool.endIdleTemplates(matching:)`.
    func endIdleTemplates(matching environment: [String: String]) async -> Int {
        func matches(_ key: KernelTemplate.Key) -> Bool {
            environment.allSatisfy { key.environment[$0.key] == $0.value }
        }
        recency.removeAll { $0.isGone }
        for (key, entry) in entries where matches(key) {
            if case .failed = entry { entries[key] = nil }
        }
        var ended: [KernelTemplate] = []
        for template in recency where matches(template.key) {
            guard template.terminateIfIdle() else { continue }
            ended.append(template)
            if case .starting = entries[template.key] { entries[template.key] = nil }
        }
        recency.removeAll { template in ended.contains { $0 === template } }
        for template in ended { _ = await template.waitForEnd() }
        return ended.count
    }

    /// Ends every template (their kernels die with them); later kernels start new ones.
    func terminateAll() async {
        let running = entries.values
        entries = [:]
        recency = []
        for case .starting(let task) in running {
            (try? await task.value.get())?.terminate()
        }
    }

    /// Starts a template on a thread of its own: preparing it blocks for as long as the
    /// interpreter start and the prelude take.
    private static func start(
        key: KernelTemplate.Key, command: LaunchCommand, timeout: Double, logger: Logger
    ) async -> Result<KernelTemplate, TemplateFailure> {
        await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<KernelTemplate, TemplateFailure>, Never>) in
            let thread = Thread {
                do throws(TemplateFailure) {
                    let template = try KernelTemplate(
                        key: key, command: command, logger: logger, timeout: timeout)
                    continuation.resume(returning: .success(template))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "pyrun.template.start"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
