import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few socket calls pyrun's server and clients need, for Unix-domain stream sockets.
enum UnixSocket {
    /// The longest path a socket address holds (with its terminating zero).
    static let maximumPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// A new stream socket, close-on-exec, so kernels never inherit it.
    static func makeSocket() throws(ServeError) -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        if fd >= 0 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        #endif
        guard fd >= 0 else { throw ServeError(.runDirectory, "cannot make a socket: \(errnoText())") }
        return fd
    }

    /// Runs `body` with the address of `path`.
    /// - Throws: `ServeError` when the path is too long for a socket address.
    static func withAddress<T>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
    ) throws(ServeError) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count <= maximumPathBytes else {
            throw ServeError(
                .runDirectory,
                "the socket path \(path) is \(bytes.count) bytes, more than the \(maximumPathBytes) a socket address holds; use a shorter run directory (XDG_RUNTIME_DIR)"
            )
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// A socket listening at `path`, readable and writable by its owner only (mode 0600).
    /// The socket is made in the run directory, whose mode 0700 already keeps others out
    /// between `bind` and `chmod`.
    static func listen(at path: String) throws(ServeError) -> Int32 {
        let fd = try makeSocket()
        let bound = try withAddress(path) { bind(fd, $0, $1) }
        guard bound == 0 else {
            let reason = errnoText()
            close(fd)
            throw ServeError(.runDirectory, "cannot listen at \(path): \(reason)")
        }
        guard chmod(path, 0o600) == 0, systemListen(fd, 64) == 0 else {
            let reason = errnoText()
            close(fd)
            unlink(path)
            throw ServeError(.runDirectory, "cannot listen at \(path): \(reason)")
        }
        return fd
    }

    /// A socket connected to the server listening at `path`.
    /// - Throws: `ServeError` with `.serverNotFound` when nothing listens there (or the caller
    ///   may not reach it).
    static func connect(to path: String) throws(ServeError) -> Int32 {
        let fd = try makeSocket()
        var result: Int32
        repeat {
            result = try withAddress(path) { systemConnect(fd, $0, $1) }
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let reason = errnoText()
            close(fd)
            throw ServeError(.serverNotFound, "cannot connect to \(path): \(reason)")
        }
        return fd
    }

    /// The user id of the process at the other end of a connected socket; nil where it
    /// cannot be told.
    static func peerUserID(of fd: Int32) -> uid_t? {
        #if os(Linux)
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, not imported without _GNU_SOURCE.
        var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials.1
        #else
        var user: uid_t = 0
        var group: gid_t = 0
        guard getpeereid(fd, &user, &group) == 0 else { return nil }
        return user
        #endif
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// `connect(2)`, under a name the static `connect(to:)` does not shadow.
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}

/// `listen(2)`, under a name the static `listen(at:)` does not shadow.
private func systemListen(_ fd: Int32, _ backlog: Int32) -> Int32 {
    listen(fd, backlog)
}
