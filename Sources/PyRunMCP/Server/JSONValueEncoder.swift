import PyRunKit

/// Encodes a report straight into a `JSONValue`, for a reply's `structuredContent`: one walk
/// over the `Encodable`, with no JSON text in between. The reports hold strings, numbers,
/// booleans, arrays and objects only; a date or URL would encode as its own parts.
enum JSONValueEncoder {
    /// - Throws: `EncodingError` for a value that encodes nothing.
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let root = Node()
        try value.encode(to: TreeEncoder(node: root, codingPath: []))
        guard let result = root.value else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: [], debugDescription: "the value encoded nothing"))
        }
        return result
    }
}

/// A value being built: a leaf, or an object or array whose members are still being filled.
private final class Node {
    enum Content {
        case empty
        case leaf(JSONValue)
        case object([(String, Node)])
        case array([Node])
    }

    var content = Content.empty

    var value: JSONValue? {
        switch content {
        case .empty: nil
        case .leaf(let value): value
        case .object(let members):
            .object(Dictionary(members.compactMap { key, node in node.value.map { (key, $0) } }) { _, last in last })
        case .array(let elements): .array(elements.compactMap(\.value))
        }
    }

    func member(_ key: String) -> Node {
        let node = Node()
        if case .object(var members) = content {
            members.append((key, node))
            content = .object(members)
        } else {
            content = .object([(key, node)])
        }
        return node
    }

    func element() -> Node {
        let node = Node()
        if case .array(var elements) = content {
            elements.append(node)
            content = .array(elements)
        } else {
            content = .array([node])
        }
        return node
    }
}

private struct TreeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.content {} else { node.content = .object([]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(node: node, codingPath: codingPath)
    }
}

/// Turns one encodable into a value on `node`, leaves directly and the rest through a
/// nested encoder.
private func store(_ value: some Encodable, in node: Node, at codingPath: [any CodingKey]) throws {
    switch value {
    case let text as String: node.content = .leaf(.string(text))
    case let flag as Bool: node.content = .leaf(.bool(flag))
    case let number as Int: node.content = .leaf(.number(Double(number)))
    case let number as Double: node.content = .leaf(.number(number))
    case let value as JSONValue: node.content = .leaf(value)
    default: try value.encode(to: TreeEncoder(node: node, codingPath: codingPath))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).content = .leaf(.null) }

    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        try store(value, in: node.member(key.stringValue), at: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.member(key.stringValue)
        child.content = .object([])
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.member(key.stringValue)
        child.content = .array([])
        return UnkeyedContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { TreeEncoder(node: node.member("super"), codingPath: codingPath) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let elements) = node.content { elements.count } else { 0 }
    }

    mutating func encodeNil() throws { node.element().content = .leaf(.null) }

    mutating func encode(_ value: some Encodable) throws {
        try store(value, in: node.element(), at: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        let child = node.element()
        child.content = .object([])
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = node.element()
        child.content = .array([])
        return UnkeyedContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder { TreeEncoder(node: node.element(), codingPath: codingPath) }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .leaf(.null) }

    mutating func encode(_ value: some Encodable) throws {
        try store(value, in: node, at: codingPath)
    }
}
