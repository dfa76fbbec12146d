import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Python module pyrun carries inside its binary beside the runner: the default prelude
/// (`Resources/prelude/pyrun_prelude.py`) and the in-kernel test runner
/// (`Resources/testing/pyrun_testing.py`). Each is written once to a directory of its own
/// in the runner's private directory, named after its content
/// (`prelude-<hash>/pyrun_prelude.py`): the module keeps the name its code and doctests
/// use, two versions of pyrun never load each other's, and Python caches its bytecode there.
struct BundledModule: Sendable, Hashable {
    /// The module name, which is also the file's stem.
    let moduleName: String
    /// The start of its directory's name.
    let directoryPrefix: String

    /// The default agent prelude.
    static let prelude = BundledModule(moduleName: "pyrun_prelude", directoryPrefix: "prelude")
    /// The in-kernel half of `pyrun test`.
    static let testing = BundledModule(moduleName: "pyrun_testing", directoryPrefix: "testing")

    /// The source embedded at build time.
    var source: [UInt8] {
        self == .prelude ? PackageResources.pyrun_prelude_py : PackageResources.pyrun_testing_py
    }

    /// Module name → installed path, for what this process installed already.
    private static let installed = Mutex<[String: String]>([:])

    /// Installs the module if this process has not yet, and returns its file's path.
    func installedPath() throws(KernelError) -> String {
        try Self.installed.withLock { installed throws(KernelError) in
            if let path = installed[moduleName], access(path, F_OK) == 0 { return path }
            let bytes = source
            let directory = try RunnerInstallation.ensurePrivate(
                "\(try RunnerInstallation.privateDirectory())/\(directoryPrefix)-"
                    + String(RunnerInstallation.contentHash(bytes), radix: 16))
            let path = "\(directory)/\(moduleName).py"
            try RunnerInstallation.writeOnce(bytes, to: path)
            installed[moduleName] = path
            return path
        }
    }
}
