import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The runner file in the private directory is used only when it holds exactly the source
/// this binary carries (issue 9: "a runner file of the right size is reused without checking
/// its content").
@Suite struct RunnerInstallationTests {
    private let source = Array("print('the runner')\n".utf8)

    private func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    @Test func aFileWithTheRightContentIsReusedAsIs() async throws {
        try await withTemporaryDirectory { directory in
            let first = try RunnerInstallation.install(source, into: directory)
            let identity = try #require(FileIdentity(path: first.path))
            let second = try RunnerInstallation.install(source, into: directory)
            #expect(second == first)
            #expect(FileIdentity(path: second.path) == identity, "an intact runner was rewritten")
        }
    }

    @Test func aFileOfTheRightSizeButOtherContentIsReplacedWithItsBytecode() async throws {
        try await withTemporaryDirectory { directory in
            let installation = try RunnerInstallation.install(source, into: directory)
            var tampered = source
            tampered[7] = UInt8(ascii: "X")
            try Data(tampered).write(to: URL(fileURLWithPath: installation.path))
            let cache = "\(directory)/__pycache__"
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let stale = "\(cache)/\(installation.moduleName).cpython-311.pyc"
            let unrelated = "\(cache)/other.cpython-311.pyc"
            for path in [stale, unrelated] { try Data([1]).write(to: URL(fileURLWithPath: path)) }

            #expect(try RunnerInstallation.install(source, into: directory) == installation)
            #expect(contents(installation.path) == source)
            #expect(!FileManager.default.fileExists(atPath: stale), "bytecode of the tampered file was kept")
            #expect(FileManager.default.fileExists(atPath: unrelated))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).allSatisfy { !$0.hasSuffix(".tmp") })
        }
    }

    @Test func aTruncatedOrLongerFileIsReplaced() async throws {
        try await withTemporaryDirectory { directory in
            let installation = try RunnerInstallation.install(source, into: directory)
            for wrong in [Array(source.dropLast(3)), source + Array("# more\n".utf8), []] {
                try Data(wrong).write(to: URL(fileURLWithPath: installation.path))
                _ = try RunnerInstallation.install(source, into: directory)
                #expect(contents(installation.path) == source)
            }
        }
    }

    @Test func theCheckComparesEveryByte() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/file.py"
            try Data(source).write(to: URL(fileURLWithPath: path))
            #expect(RunnerInstallation.fileHolds(path, exactly: source))
            for index in source.indices {
                var other = source
                other[index] ^= 0x20
                #expect(!RunnerInstallation.fileHolds(path, exactly: other), "a change at byte \(index) went unseen")
            }
            #expect(!RunnerInstallation.fileHolds("\(directory)/missing.py", exactly: source))
            #expect(!RunnerInstallation.fileHolds(directory, exactly: source))
        }
    }
}
