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

    /// The installation this process made or checked, with the file's identity when it was
    /// checked: a later start trusts the file only while its identity is unchanged.
    private static let cached = Mutex<(installation: RunnerInstallation, identity: FileIdentity)?>(nil)

    /// Installs the runner if this process has not yet, and returns where it is. A file that
    /// changed since it was checked (edited, replaced, removed) is checked again.
    static func current() throws(KernelError) -> RunnerInstallation {
        try cached.withLock { cached throws(KernelError) in
            if let cached, FileIdentity(path: cached.installation.path) == cached.identity {
                return cached.installation
            }
            let installation = try install(source, into: try privateDirectory())
            guard let identity = FileIdentity(path: installation.path) else {
                throw KernelError(.runnerInstallFailed, "the runner vanished from \(installation.path) once written")
            }
            cached = (installation, identity)
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
        let base =
            environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
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

    /// Writes `source` as `runner_<hash>.py` unless a file with exactly that content is there.
    static func install(_ source: [UInt8], into directory: String) throws(KernelError) -> RunnerInstallation {
        let installation = RunnerInstallation(
            directory: directory, moduleName: "runner_" + String(contentHash(source), radix: 16))
        try writeOnce(source, to: installation.path)
        return installation
    }

    /// Writes `bytes` to `path` (a `.py` file) unless a file with exactly that content is
    /// there. A file that differs (a torn or edited copy, another source with the same name)
    /// is replaced atomically, so a concurrent start never reads half a file, and its cached
    /// bytecode removed: Python checks a `.pyc` against the source's size and modification
    /// second only, which a same-size rewrite within the second would pass.
    static func writeOnce(_ bytes: [UInt8], to path: String) throws(KernelError) {
        if fileHolds(path, exactly: bytes) { return }
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw KernelError(.runnerInstallFailed, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = writeAll(fd, bytes)
        close(fd)
        guard written, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KernelError(.runnerInstallFailed, "cannot write \(path)")
        }
        removeCachedBytecode(of: path)
    }

    /// Whether the file at `path` has exactly `content`: the bytes compared, not a digest of
    /// them, since the expected bytes are at hand (about 70 KB, read once per process).
    static func fileHolds(_ path: String, exactly content: [UInt8]) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) == content.count else {
            return false
        }
        var existing = [UInt8](repeating: 0, count: content.count + 1)  // one more: see it end
        var count = 0
        while count < existing.count {
            let got = existing.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if got > 0 {
                count += got
            } else if got < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        return count == content.count && existing.prefix(count).elementsEqual(content)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    /// Removes `__pycache__/<stem>.*.pyc` beside the `.py` file at `path`, left from a file
    /// that was just replaced.
    private static func removeCachedBytecode(of path: String) {
        let file = URL(fileURLWithPath: path)
        let stem = file.deletingPathExtension().lastPathComponent
        let cache = file.deletingLastPathComponent().appendingPathComponent("__pycache__").path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: cache) else { return }
        for name in names where name.hasPrefix(stem + ".") && name.hasSuffix(".pyc") {
            unlink("\(cache)/\(name)")
        }
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

/// What tells one file from another at a path without reading it: a replaced or edited file
/// gets a new inode or modification time.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modifiedSeconds: Int
    let modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(truncatingIfNeeded: info.st_dev)
        inode = UInt64(truncatingIfNeeded: info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modifiedSeconds = info.st_mtimespec.tv_sec
        modifiedNanoseconds = info.st_mtimespec.tv_nsec
        #else
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
        #endif
    }
}
