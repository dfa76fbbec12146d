import Foundation
import PyRunKit

/// What a one-shot says when a kernel behind a launcher (`--via`) ends by itself with a status.
///
/// The launcher's status is all the host sees of the far side: ssh exits with its command's
/// status when the runner exits (`os._exit(3)`), but with 255 when the connection drops or the
/// far side's runner is killed by a signal, and what it knows of why goes to its stderr. So an
/// exit with status 255, or with anything on the launcher's stderr, is explained; any other
/// status with nothing said is the code's own exit, which ends a one-shot without comment, as
/// it does locally.
enum RemoteKernelEnd {
    /// The status ssh exits with on its own failures and when the far side's command is
    /// killed by a signal.
    static let launcherFailureStatus: Int32 = 255

    /// One sentence for the death of a kernel behind `launcher`; nil for a local kernel, a
    /// death that is not an exit, or an exit that was the code's own.
    /// - Parameter cpuLimit: the kernel's `--cpu-limit`, which the far side enforces with a
    ///   signal that only shows here as the launcher's 255.
    static func explanation(of death: KernelDeath, launcher: KernelLauncher, cpuLimit: Int?) -> String? {
        guard launcher.isRemote, case .exited(let code) = death.cause else { return nil }
        let said = death.diagnostics.trimmingCharacters(in: .whitespacesAndNewlines)
        guard code == launcherFailureStatus || !said.isEmpty else { return nil }
        let program = launcher.programName
        var text = "the connection to the kernel ended: \(program) exited with status \(code)"
        if let executionID = death.executionID { text += " while running execution \(executionID)" }
        if said.isEmpty {
            text += "; \(program) said nothing, so the far side's runner was likely killed by a signal"
            if let cpuLimit { text += " (SIGXCPU, when its --cpu-limit of \(cpuLimit) s runs out)" }
        } else {
            text += "; \(program) said: " + said.split(separator: "\n").suffix(5).joined(separator: "\n")
        }
        return text
    }
}
