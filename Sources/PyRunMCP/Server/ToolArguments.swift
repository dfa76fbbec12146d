import PyRunKit

/// A tool call that cannot be served as asked: a missing or malformed argument, an unknown
/// run or session. The model gets `message` in an `isError` reply and can correct the call.
struct ToolCallError: Error, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// A tool call's arguments, read with the checks the tool's input schema states (clients do
/// not all validate before calling).
struct ToolArguments {
    private let values: [String: JSONValue]
    private let tool: String

    init(_ values: [String: JSONValue]?, tool: String, allowed: Set<String>) throws(ToolCallError) {
        self.values = values ?? [:]
        self.tool = tool
        let unknown = self.values.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ToolCallError(
                "\(tool) has no argument \(unknown.joined(separator: ", ")); it takes \(allowed.sorted().joined(separator: ", "))"
            )
        }
    }

    func string(_ name: String) throws(ToolCallError) -> String? {
        guard let value = present(name) else { return nil }
        guard let text = value.stringValue else { throw mistyped(name, "a string", value) }
        return text
    }

    func requiredString(_ name: String) throws(ToolCallError) -> String {
        guard let text = try string(name) else { throw ToolCallError("\(tool) needs the argument \(name)") }
        return text
    }

    func bool(_ name: String) throws(ToolCallError) -> Bool? {
        guard let value = present(name) else { return nil }
        guard let flag = value.boolValue else { throw mistyped(name, "true or false", value) }
        return flag
    }

    /// A number within `range`.
    func number(_ name: String, in range: ClosedRange<Double>, excludingLowerBound: Bool = false) throws(ToolCallError)
        -> Double?
    {
        guard let value = present(name) else { return nil }
        guard let number = value.doubleValue else { throw mistyped(name, "a number", value) }
        let tooLow = excludingLowerBound ? number <= range.lowerBound : number < range.lowerBound
        guard number.isFinite, !tooLow, number <= range.upperBound else {
            let lower =
                excludingLowerBound
                ? "more than \(Self.text(range.lowerBound))" : "at least \(Self.text(range.lowerBound))"
            throw ToolCallError(
                "\(name) must be \(lower) and at most \(Self.text(range.upperBound)); got \(Self.text(number))")
        }
        return number
    }

    /// A whole number within `range`.
    func integer(_ name: String, in range: ClosedRange<Int>) throws(ToolCallError) -> Int? {
        guard let value = present(name) else { return nil }
        guard let integer = value.intValue else { throw mistyped(name, "a whole number", value) }
        guard range.contains(integer) else {
            throw ToolCallError("\(name) must be from \(range.lowerBound) to \(range.upperBound); got \(integer)")
        }
        return integer
    }

    /// The `session` argument, or the default session.
    func session() throws(ToolCallError) -> String {
        guard let name = try string("session") else { return ToolCatalog.defaultSession }
        guard !name.isEmpty, name.count <= 64, name.allSatisfy(Self.isSessionCharacter) else {
            throw ToolCallError(
                "session must be 1 to 64 letters, digits, '_', '.' or '-' (it names files); got \(String(reflecting: name))"
            )
        }
        return name
    }

    private func present(_ name: String) -> JSONValue? {
        guard let value = values[name], value != .null else { return nil }
        return value
    }

    private func mistyped(_ name: String, _ expected: String, _ value: JSONValue) -> ToolCallError {
        ToolCallError("\(name) must be \(expected); got \(value)")
    }

    private static func isSessionCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "_.-".contains(character))
    }

    private static func text(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}
