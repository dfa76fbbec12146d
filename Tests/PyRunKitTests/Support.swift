import Foundation
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension KernelConfiguration {
    /// What most tests use: the interrupt grace is long so a loaded CI machine never turns an
    /// interrupt into a kill.
    static let forTests = KernelConfiguration(interruptGrace: .seconds(10))
}

/// Writes an executable shell script.
func writeScript(_ path: String, _ text: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
}

/// Reads the pid a Python snippet printed on its last stdout line.
func lastInteger(in text: String) -> Int32? {
    text.split(separator: "\n").last.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
}
