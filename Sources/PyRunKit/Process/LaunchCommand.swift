import Foundation

/// The command line that starts a runner: the one place where it is built, so a remote
/// launcher (`ssh host …`, `kubectl exec -i pod -- …`) can replace the local one.
public struct LaunchCommand: Sendable, Hashable {
    /// Absolute path of the program to spawn.
    public var executable: String
    /// Arguments after the program name.
    public var arguments: [String]

    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// Runs the runner module from `directory` with the given interpreter. The module is
    /// imported rather than run as a script so Python caches its bytecode across starts.
    static func local(python: String, runner: RunnerInstallation) -> LaunchCommand {
        let escapedDirectory = runner.directory
            .replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "'", with: "\\'")
        let loader =
            "__import__('sys').path.insert(0,'\(escapedDirectory)');__import__('\(runner.moduleName)').main()"
        return LaunchCommand(executable: python, arguments: ["-u", "-c", loader])
    }
}
