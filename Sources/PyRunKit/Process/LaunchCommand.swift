import Foundation

/// The command line that starts a runner: the one place where it is built, so a remote
/// launcher (`ssh host …`, `kubectl exec -i pod -- …`) can replace the local one.
public struct LaunchCommand: Sendable, Hashable {
    /// Absolute path of the program to spawn.
    public var executable: String
    /// Arguments after the program name.
    public var arguments: [String]

    /// The program and its arguments.
    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// Runs the runner module from `directory` with the given interpreter. The module is
    /// imported rather than run as a script so Python caches its bytecode across starts
    /// (~10 ms a start for 70 KB of source), even where PYTHONDONTWRITEBYTECODE is set: the
    /// cache lives in pyrun's private directory, and the setting is restored for user code.
    static func local(python: String, runner: RunnerInstallation) -> LaunchCommand {
        loading(runner, python: python, entry: "main")
    }

    /// Starts a kernel template (see `KernelTemplate`) from the same module.
    static func template(python: String, runner: RunnerInstallation) -> LaunchCommand {
        loading(runner, python: python, entry: "serve_template")
    }

    private static func loading(_ runner: RunnerInstallation, python: String, entry: String) -> LaunchCommand {
        let escapedDirectory = runner.directory
            .replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "'", with: "\\'")
        let loader =
            "import sys;sys.path.insert(0,'\(escapedDirectory)');w=sys.dont_write_bytecode;"
            + "sys.dont_write_bytecode=False;import \(runner.moduleName) as r;sys.dont_write_bytecode=w;r.\(entry)()"
        return LaunchCommand(executable: python, arguments: ["-u", "-c", loader])
    }
}
