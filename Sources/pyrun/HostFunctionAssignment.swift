import ArgumentParser
import Foundation

/// One `--host-fn NAME=COMMAND`: the code calls `host.NAME(...)`, and COMMAND answers.
struct HostFunctionAssignment: ExpressibleByArgument, Equatable {
    var name: String
    var command: String

    /// Splits at the first `=`; nil without one or without a command. The name is checked
    /// by `validate(_:)`, which can say what is wrong with it.
    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "=") else { return nil }
        name = String(argument[..<equals]).trimmingCharacters(in: .whitespaces)
        command = String(argument[argument.index(after: equals)...])
        guard !command.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
    }

    /// What a name must be, as the usage error says it.
    static let nameRule =
        "NAME must be a Python identifier that is not a keyword, not call and not a __dunder__ name (the code calls host.NAME, and host.call and the dunders are the host object's own)"

    /// Checks every name against `nameRule` and that none is given twice.
    /// - Throws: `ValidationError` naming `--host-fn`, the name and the rule it breaks.
    static func validate(_ assignments: [HostFunctionAssignment]) throws(ValidationError) {
        var names: Set<String> = []
        for assignment in assignments {
            guard isUsable(assignment.name) else {
                throw ValidationError("--host-fn \(String(reflecting: assignment.name)): \(nameRule)")
            }
            guard names.insert(assignment.name).inserted else {
                throw ValidationError("--host-fn \(assignment.name) is given twice")
            }
        }
    }

    /// Whether `host.name` reaches the function: the runner sets an attribute for each
    /// identifier but `call`, and a dunder would replace a part of the `host` module itself.
    static func isUsable(_ name: String) -> Bool {
        isIdentifier(name) && !pythonKeywords.contains(name) && name != "call"
            && !(name.hasPrefix("__") && name.hasSuffix("__"))
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
