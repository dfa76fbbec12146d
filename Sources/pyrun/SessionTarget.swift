import ArgumentParser
import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a client command goes: `[SERVER:]SESSION`.
struct SessionTarget: ExpressibleByArgument, Equatable {
    var server: String?
    var session: String

    init(server: String?, session: String) {
        self.server = server
        self.session = session
    }

    /// `[SERVER:]SESSION`, as it is written, for `--help`.
    var defaultValueDescription: String { server.map { "\($0):\(session)" } ?? session }

    init?(argument: String) {
        if let colon = argument.firstIndex(of: ":") {
            let server = String(argument[..<colon])
            let session = String(argument[argument.index(after: colon)...])
            self.server = server.isEmpty ? nil : server
            self.session = session.isEmpty ? ServeNames.defaultSession : session
        } else {
            self.server = nil
            self.session = argument.isEmpty ? ServeNames.defaultSession : argument
        }
    }
}

/// The label a client shows others: `alice exec 4242` (user, command, pid) unless `--as` gives one.
func clientLabel(command: String, chosen: String?) -> String {
    if let chosen, !chosen.isEmpty { return chosen }
    let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
    return "\(user) \(command) \(getpid())"
}
