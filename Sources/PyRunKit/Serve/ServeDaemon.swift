import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole pyrun server: a `SessionHost`, its Unix-socket front end in the private run
/// directory, and the connection file that lets clients find it. What `pyrun serve` runs.
///
/// Other front ends (a browser console) use `host`, so they share its sessions and journals.
/// `stop()` — or a client's `stop` request — shuts every kernel down, ends every connection,
/// and removes the socket and the connection file.
public final class ServeDaemon: Sendable {
    /// The sessions, for any front end.
    public let host: SessionHost
    /// The directory of the socket and the connection file.
    public let runDirectory: RunDirectory
    /// What clients read to find the server.
    public let connectionFile: ConnectionFile
    private let frontEnd: UnixSocketFrontEnd
    private let finished = SetOnceValue<Bool>()

    /// Starts a server named `name`: prepares the run directory, removes a stale connection
    /// file of the same name, listens, and writes the connection file.
    /// - Parameters:
    ///   - name: the server's name (see `ServeNames.validateServerName`).
    ///   - poolConfiguration: how the sessions' kernels start and live.
    ///   - journalLimits: how much each session's journal keeps.
    ///   - runDirectory: where the socket and connection file go.
    ///   - logger: where the server, its sessions and kernels log; the library never
    ///     bootstraps logging.
    /// - Throws: `ServeError`: an invalid name, a server of that name already running, or a
    ///   run directory that cannot be used.
    public init(
        name: String, poolConfiguration: PoolConfiguration = PoolConfiguration(),
        journalLimits: JournalLimits = JournalLimits(), runDirectory: RunDirectory = .standard(),
        logger: Logger = Logger(label: "pyrun.serve")
    ) throws(ServeError) {
        try ServeNames.validateServerName(name)
        try runDirectory.prepare()
        let filePath = runDirectory.connectionFilePath(server: name)
        let socketPath = runDirectory.socketPath(server: name)
        if let existing = ConnectionFile(contentsOf: filePath) {
            guard !existing.isLive else {
                throw ServeError(
                    .alreadyRunning,
                    "a pyrun server named '\(name)' is already running (pid \(existing.pid)); stop it with: pyrun stop \(name)"
                )
            }
            existing.remove()
        }
        // A socket left without its connection file (a server killed while starting).
        unlink(socketPath)
        let host = SessionHost(
            name: name, poolConfiguration: poolConfiguration, journalLimits: journalLimits, logger: logger)
        let frontEnd = try UnixSocketFrontEnd(host: host, socketPath: socketPath, logger: logger)
        let file = ConnectionFile(
            name: name, pid: getpid(), socketPath: socketPath, startedAt: host.startedAt,
            protocolVersion: ServeProtocol.version, path: filePath)
        do {
            try file.write()
        } catch {
            frontEnd.close()
            throw error
        }
        self.host = host
        self.runDirectory = runDirectory
        self.connectionFile = file
        self.frontEnd = frontEnd
        let finished = self.finished
        // Whoever stops the host (a client's `stop`, or `stop()`), the rest is torn down too.
        Task {
            await host.waitUntilStopped()
            file.remove()
            frontEnd.close()
            finished.fulfill(true)
        }
    }

    /// Stops the server: every session closes, every kernel shuts down (the library's
    /// escalation), every connection ends, and the files are removed; returns when all is done.
    public func stop() async {
        await host.stop()
        // All done means all done, even for a caller that is cancelled meanwhile.
        let finished = self.finished
        _ = await Task { await finished.wait() }.value
    }

    /// Returns once the server has stopped and its files are gone, whoever stopped it, or once
    /// the calling task is cancelled (so it can race another wait in a task group).
    public func waitUntilFinished() async {
        _ = await finished.wait()
    }
}
