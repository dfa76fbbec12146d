#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One end of a `SOCK_SEQPACKET` Unix socket pair: whole messages, each with the descriptors
/// sent along with it (`SCM_RIGHTS`). The host talks to a kernel template through one.
struct ControlSocket: Sendable {
    let fd: Int32

    /// A connected pair, both ends close-on-exec (atomically on Linux, as `Spawn.makePipe`'s
    /// pipes are); nil (with `errno` set) when the system refuses. Call it holding
    /// `Spawn.spawnLock`, so that where the flag is set after the fact no concurrent spawn of
    /// the host inherits an end.
    static func pair() -> (ControlSocket, ControlSocket)? {
        var fds: [Int32] = [-1, -1]
        #if canImport(Glibc)
        let type = Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_SEQPACKET
        #endif
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { return nil }
        #if !canImport(Glibc)
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        #endif
        return (ControlSocket(fd: fds[0]), ControlSocket(fd: fds[1]))
    }

    /// Sends `message` as one message with `descriptors` attached (the receiver gets copies;
    /// the caller still owns and closes its own). Returns 0, or the `errno` of the failure.
    func send(_ message: [UInt8], descriptors: [Int32] = []) -> Int32 {
        // The CMSG_* macros are not imported into Swift; this is their layout: a header
        // padded to the alignment of size_t, then the descriptors.
        let alignment = MemoryLayout<Int>.size
        func aligned(_ size: Int) -> Int { (size + alignment - 1) & ~(alignment - 1) }
        let headerSize = aligned(MemoryLayout<cmsghdr>.size)
        let dataSize = descriptors.count * MemoryLayout<Int32>.size
        let controlSize = descriptors.isEmpty ? 0 : headerSize + aligned(dataSize)
        let control = UnsafeMutableRawPointer.allocate(byteCount: max(controlSize, 1), alignment: alignment)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: max(controlSize, 1))
        if !descriptors.isEmpty {
            let header = control.bindMemory(to: cmsghdr.self, capacity: 1)
            header.pointee.cmsg_len = .init(headerSize + dataSize)
            header.pointee.cmsg_level = SOL_SOCKET
            header.pointee.cmsg_type = Int32(SCM_RIGHTS)
            descriptors.withUnsafeBytes { bytes in
                (control + headerSize).copyMemory(from: bytes.baseAddress!, byteCount: dataSize)
            }
        }
        return message.withUnsafeBytes { bytes -> Int32 in
            var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int32 in
                var header = msghdr()
                header.msg_iov = vectorPointer
                header.msg_iovlen = 1
                if controlSize > 0 {
                    header.msg_control = control
                    header.msg_controllen = .init(controlSize)
                }
                while sendmsg(fd, &header, 0) < 0 {
                    if errno != EINTR { return errno }
                }
                return 0
            }
        }
    }

    /// Receives one message of at most `limit` bytes, without descriptors (the host expects
    /// none, and any sent are closed at once). Nil at end of file or on an error.
    func receive(limit: Int = 1 << 16) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: limit)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return Array(buffer[0..<count]) }
            if count < 0, errno == EINTR { continue }
            return nil
        }
    }

    func close() {
        closeDescriptor(fd)  // SocketLineChannel's: close(2) under a name this method can reach
    }
}
