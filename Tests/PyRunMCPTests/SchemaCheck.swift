import MCP

/// Checks a value against the subset of JSON Schema the tools use (type, properties,
/// required, additionalProperties: false, enum, items, pattern-free), and returns every
/// violation with its path; empty means valid.
func schemaViolations(of value: Value, against schema: Value, at path: String = "$") -> [String] {
    guard let rules = schema.objectValue else { return ["\(path): schema is not an object"] }
    var problems: [String] = []
    if let type = rules["type"]?.stringValue, !matches(value, type: type) {
        return ["\(path): expected \(type), got \(value)"]
    }
    if let allowed = rules["enum"]?.arrayValue, !allowed.contains(value) {
        problems.append("\(path): \(value) is not one of \(allowed)")
    }
    if let object = value.objectValue {
        let properties = rules["properties"]?.objectValue ?? [:]
        for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
            problems.append("\(path): missing required \(name)")
        }
        for (name, member) in object {
            if let propertySchema = properties[name] {
                problems += schemaViolations(of: member, against: propertySchema, at: "\(path).\(name)")
            } else if rules["additionalProperties"] == .bool(false) {
                problems.append("\(path): unexpected property \(name)")
            }
        }
    }
    if let array = value.arrayValue, let items = rules["items"] {
        for (index, element) in array.enumerated() {
            problems += schemaViolations(of: element, against: items, at: "\(path)[\(index)]")
        }
    }
    return problems
}

private func matches(_ value: Value, type: String) -> Bool {
    switch (type, value) {
    case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int),
        ("number", .int), ("number", .double), ("null", .null):
        return true
    case ("integer", .double(let number)):
        return number.rounded() == number
    default:
        return false
    }
}
