import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh private directory under the temporary directory, removed with everything in it
/// by `remove()`: where a harness keeps a kernel's workspace and temporary files.
struct ScratchDirectory: Sendable {
    let url: URL

    /// Creates `<temporary directory>/<prefix>XXXXXX` with mode 0700.
    init(prefix: String) throws {
        var template = Array(
            FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)XXXXXX").path.utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessFailure("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        // The real path: tracebacks and os.getcwd() in the kernel name it this way.
        url = URL(fileURLWithPath: String(cString: made)).resolvingSymlinksInPath()
    }

    /// A new directory inside, named `name`.
    func subdirectory(_ name: String) throws -> URL {
        let directory = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
