import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The runner source, written once from the bytes embedded in this binary to a private
/// directory, under a name derived from its content. A binary copied alone elsewhere still
/// works, and two versions of pyrun never run each other's runner.
struct RunnerInstallation: Sendable, Hashable {
    /// The private directory (mode 0700, owned by this user).
    let directory: String
    /// The module name, `runner_<content hash>`.
    let moduleName: String

    /// Full path of the runner file.
    var path: String { "\(directory)/\(moduleName).py" }

    /// The runner source embedded at build time from `runner/runner.py`.
    static var source: [UInt8] { PackageResources.runner_py }

    private static let cached = Mutex<RunnerInstallation?>(nil)

    /// Installs the runner if this process has not yet, and returns where it is.
    static func current() throws(KernelError) -> RunnerInstallation {
        try cached.withLock { cached throws(KernelError) in
            if let cached, FileManager.default.fileExists(atPath: cached.path) { return cached }
            let installation = try install(source, into: try privateDirectory())
            cached = installation
            return installation
        }
    }

    /// Where runner files live: `$PYRUN_RUNTIME_DIR`, else `pyrun-<uid>` in
    /// `$XDG_RUNTIME_DIR` or the temp directory.
    static func privateDirectory() throws(KernelError) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["PYRUN_RUNTIME_DIR"], !explicit.isEmpty {
            return try ensurePrivate(explicit)
        }
        let base = environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return try ensurePrivate("\(base)/pyrun-\(getuid())")
    }

    /// Creates `path` with mode 0700, or checks that an existing one is ours and private:
    /// a directory another user prepared in /tmp must never feed us code.
    static func ensurePrivate(_ path: String) throws(KernelError) -> String {
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw KernelError(.runnerInstallFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw KernelError(.runnerInstallFailed, "cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(), (info.st_mode & 0o077) == 0 else {
            throw KernelError(
                .runnerInstallFailed,
                "\(path) is not a private directory of this user (it must be a directory with mode 0700); remove it or set PYRUN_RUNTIME_DIR"
            )
        }
        return path
    }

    /// Writes `source` as `runner_<hash>.py` unless it is already there, atomically.
    static func install(_ source: [UInt8], into directory: String) throws(KernelError) -> RunnerInstallation {
        let installation = RunnerInstallation(
            directory: directory, moduleName: "runner_" + String(contentHash(source), radix: 16))
        var info = stat()
        if stat(installation.path, &info) == 0, Int(info.st_size) == source.count {
            return installation
        }
        let temporary = "\(installation.path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw KernelError(.runnerInstallFailed, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = source.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == source.count, rename(temporary, installation.path) == 0 else {
            unlink(temporary)
            throw KernelError(.runnerInstallFailed, "cannot write the runner to \(installation.path)")
        }
        return installation
    }

    /// 64-bit FNV-1a: enough to tell runner versions apart; this is a name, not a signature.
    static func contentHash(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
