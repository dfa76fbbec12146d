import ArgumentParser
import Foundation

/// One `--host-fn NAME=COMMAND`: the code calls `host.NAME(...)`, and COMMAND answers.
struct HostFunctionAssignment: ExpressibleByArgument, Equatable {
    var name: String
    var command: String

    /// Splits at the first `=`. Never fails, so that `validate(_:)` can say what is missing: a
    /// value without `=` or without a command has an empty `command`.
    init(argument: String) {
        guard let equals = argument.firstIndex(of: "=") else {
            name = argument.trimmingCharacters(in: .whitespaces)
            command = ""
            return
        }
        name = String(argument[..<equals]).trimmingCharacters(in: .whitespaces)
        command = String(argument[argument.index(after: equals)...])
    }

    /// What a name must be, as the usage error says it.
    static let nameRule =
        "NAME must be a Python identifier that is not a keyword, not call and not a __dunder__ name (the code calls host.NAME, and host.call and the dunders are the host object's own)"

    /// Checks that each value has a command, every name against `nameRule`, and that none is
    /// given twice.
    /// - Throws: `ValidationError` naming `--host-fn`, the value and what is wrong with it.
    static func validate(_ assignments: [HostFunctionAssignment]) throws(ValidationError) {
        var names: Set<String> = []
        for assignment in assignments {
            if let problem = problem(with: assignment.name) {
                throw ValidationError("--host-fn \(String(reflecting: assignment.name)): \(problem); \(nameRule)")
            }
            guard !assignment.command.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError(
                    "--host-fn \(assignment.name): no command; give NAME=COMMAND, the shell command that answers host.\(assignment.name)(...)"
                )
            }
            guard names.insert(assignment.name).inserted else {
                throw ValidationError("--host-fn \(assignment.name) is given twice")
            }
        }
    }

    /// Why `host.name` would not reach the function, or nil when it would: the runner sets an
    /// attribute for each identifier but `call`, and a dunder would replace a part of the
    /// `host` module itself.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "the name is empty" }
        if !isIdentifier(name) {
            let normalized = name.precomposedStringWithCompatibilityMapping
            if normalized != name, isIdentifier(normalized) {
                return "Python reads it as \(String(reflecting: normalized))"
            }
            return "not a Python identifier (letters, digits and _, not starting with a digit)"
        }
        if pythonKeywords.contains(name) { return "a Python keyword (host.\(name) would not parse)" }
        if name == "call" { return "host.call is the host object's own (it calls a function by name)" }
        if name.hasPrefix("__"), name.hasSuffix("__") { return "a __dunder__ name, which the host object has itself" }
        return nil
    }

    /// Python's rule for identifiers (`str.isidentifier()`): a letter or `_`, then letters,
    /// digits and `_`, in Unicode's XID sense. A name that NFKC normalization would change is
    /// refused too: Python normalizes `host.NAME` in the code, so it would look up another name.
    private static func isIdentifier(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, first == "_" || first.properties.isXIDStart else { return false }
        guard scalars.dropFirst().allSatisfy({ $0.properties.isXIDContinue }) else { return false }
        return Array(name.precomposedStringWithCompatibilityMapping.unicodeScalars) == scalars
    }

    /// The keywords of Python 3.9 to 3.13: `host.class` would not parse.
    private static let pythonKeywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
        "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ]
}
