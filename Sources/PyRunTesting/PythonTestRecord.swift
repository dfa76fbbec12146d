import Foundation
import PyRunKit

/// How one Python test ended.
public enum PythonTestOutcome: String, Sendable, Hashable, CaseIterable {
    case passed
    /// An assertion or exception in the test.
    case failed
    /// The test could not be run as written (a parameter other than `tmp_path`, a
    /// generator), or it ended its kernel.
    case error
    case skipped
    /// It ran past the timeout and was interrupted.
    case timedOut
    /// The run was interrupted (Ctrl-C) while it ran.
    case interrupted
}

/// What one test did, from `pyrun_testing.run`'s record and the execution around it.
public struct PythonTestRecord: Sendable, Hashable {
    /// `path::Class::name`, or `module file::qualified name` for a doctest.
    public var id: String
    public var name: String
    /// Its `Test*` class, for a method.
    public var className: String?
    /// The line it is defined on.
    public var line: Int?
    public var outcome: PythonTestOutcome
    /// Its own run time, as the kernel measured it.
    public var duration: Duration
    /// The exception's class name, when it raised.
    public var exceptionName: String?
    /// One line: `AssertionError: assert a == b`, a skip reason, a timeout.
    public var message: String?
    /// The traceback of the test's own frames.
    public var traceback: [String]
    /// What a failed `assert` compared, when one did.
    public var assertion: PythonAssertion?
    /// What the test wrote.
    public var stdout: String
    public var stderr: String

    /// Creates a record.
    public init(
        id: String, name: String, className: String? = nil, line: Int? = nil, outcome: PythonTestOutcome,
        duration: Duration = .zero, exceptionName: String? = nil, message: String? = nil, traceback: [String] = [],
        assertion: PythonAssertion? = nil, stdout: String = "", stderr: String = ""
    ) {
        self.id = id
        self.name = name
        self.className = className
        self.line = line
        self.outcome = outcome
        self.duration = duration
        self.exceptionName = exceptionName
        self.message = message
        self.traceback = traceback
        self.assertion = assertion
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A failed `assert` explained: its source, what it evaluated to, the values of its parts.
public struct PythonAssertion: Sendable, Hashable {
    /// The asserted expression as written.
    public var source: String
    /// The comparison with values in place (`[1, 2] == [1, 3]`), when it was one.
    public var evaluated: String?
    /// Sub-expressions and their values (`result = [1, 2]`).
    public var values: [Part]
    /// Where two values differ, line by line.
    public var details: [String]
    /// The assert's own message, if it had one.
    public var message: String?

    /// One sub-expression of an assertion and the `repr` of its value.
    public struct Part: Sendable, Hashable {
        public var source: String
        public var value: String

        public init(source: String, value: String) {
            self.source = source
            self.value = value
        }
    }
}

/// Why a test file could not be loaded: it does not compile, or it raised while importing.
public struct PythonCollectionError: Sendable, Hashable {
    public var exceptionName: String
    public var message: String
    /// The line of the test file it happened on.
    public var line: Int?
    public var traceback: [String]
}

/// Everything one unit (a test file, or a module's doctests) gave.
public struct PythonTestFileReport: Sendable, Hashable {
    public var unit: PythonTestUnit
    /// The tests that ran, in order.
    public var records: [PythonTestRecord]
    /// Set when the file could not be loaded; then no test ran.
    public var collectionError: PythonCollectionError?
    /// Set when the file skipped itself while loading (a module-level `skip()`).
    public var skipReason: String?
    /// Tests that `-k` left out.
    public var deselected: Int
    /// How many fresh kernels it needed beyond the first (a test that ignored an interrupt,
    /// or ended its kernel).
    public var kernelReplacements: Int

    /// Creates a report.
    public init(
        unit: PythonTestUnit, records: [PythonTestRecord] = [], collectionError: PythonCollectionError? = nil,
        skipReason: String? = nil, deselected: Int = 0, kernelReplacements: Int = 0
    ) {
        self.unit = unit
        self.records = records
        self.collectionError = collectionError
        self.skipReason = skipReason
        self.deselected = deselected
        self.kernelReplacements = kernelReplacements
    }

    /// Whether anything in it failed (a test, or the file's collection).
    public var hasFailures: Bool {
        collectionError != nil || records.contains { [.failed, .error, .timedOut].contains($0.outcome) }
    }
}

extension PythonTestRecord {
    /// Reads `pyrun_testing.run`'s record.
    init?(json: JSONValue, stdout: String, stderr: String) {
        guard let id = json["id"]?.stringValue, let outcomeName = json["outcome"]?.stringValue else { return nil }
        let outcome: PythonTestOutcome =
            switch outcomeName {
            case "passed": .passed
            case "failed": .failed
            case "skipped": .skipped
            case "interrupted": .interrupted
            default: .error
            }
        self.init(
            id: id, name: Self.name(of: id), outcome: outcome,
            duration: .microseconds(Int64(((json["durationMs"]?.doubleValue ?? 0) * 1000).rounded())),
            exceptionName: json["ename"]?.stringValue, message: json["message"]?.stringValue,
            traceback: json["traceback"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            assertion: json["assertion"].flatMap(PythonAssertion.init(json:)), stdout: stdout, stderr: stderr)
    }

    /// The last part of an id: `test_x` of `path::Class::test_x`.
    static func name(of id: String) -> String {
        id.components(separatedBy: "::").last ?? id
    }
}

extension PythonAssertion {
    init?(json: JSONValue) {
        guard let source = json["source"]?.stringValue else { return nil }
        self.source = source
        evaluated = json["evaluated"]?.stringValue
        values = (json["values"]?.arrayValue ?? []).compactMap { pair in
            guard let items = pair.arrayValue, items.count == 2, let source = items[0].stringValue,
                let value = items[1].stringValue
            else { return nil }
            return Part(source: source, value: value)
        }
        details = json["details"]?.arrayValue?.compactMap(\.stringValue) ?? []
        message = json["message"]?.stringValue
    }
}

extension PythonCollectionError {
    init?(json: JSONValue) {
        guard let name = json["ename"]?.stringValue else { return nil }
        exceptionName = name
        message = json["evalue"]?.stringValue ?? ""
        line = json["line"]?.intValue
        traceback = json["traceback"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}
