import Foundation
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A kernel for one test, shut down when the body returns, whatever happened. The default
/// interrupt grace is long so a loaded CI machine never turns an interrupt into a kill.
func withKernel<T>(
    _ configuration: KernelConfiguration = KernelConfiguration(interruptGrace: .seconds(10)),
    _ body: (PythonKernel) async throws -> T
) async throws -> T {
    let kernel = PythonKernel(configuration: configuration)
    do {
        let value = try await body(kernel)
        await kernel.shutdown(grace: .seconds(1))
        return value
    } catch {
        await kernel.shutdown(grace: .seconds(1))
        throw error
    }
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
