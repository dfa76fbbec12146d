import Foundation
import PyRunKit

// The smallest real use of the library: run the Python code given as the first argument
// (or a default snippet) in a fresh kernel and print what it produced.
let code = CommandLine.arguments.dropFirst().first ?? "import sys\nprint('hello from Python', sys.version.split()[0])\n6 * 7"
let kernel = PythonKernel()
let result = try await kernel.run(code)
print(result.stdout, terminator: "")
FileHandle.standardError.write(Data(result.stderr.utf8))
if let error = result.error {
    FileHandle.standardError.write(Data((error.traceback.joined(separator: "\n") + "\n").utf8))
}
if let value = result.resultText { print(value) }
await kernel.shutdown()
exit(result.succeeded ? 0 : 1)
