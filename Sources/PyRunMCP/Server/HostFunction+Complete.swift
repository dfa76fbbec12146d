import PyRunKit

/// `host.complete(prompt, max_tokens=1024, system=None, temperature=None)`: the client's
/// model, through MCP sampling, for the sessions of a client that declared the `sampling`
/// capability.
extension HostFunction {
    /// The Python name.
    static let completeName = "complete"
    /// `max_tokens` when the code does not say.
    static let completeDefaultMaximumTokens = 1024
    /// A client may ask its user before it samples, so a call may wait longer than most.
    static let completeTimeout: Duration = .seconds(300)

    /// Sends each call's prompt to the client as `sampling/createMessage` (one user text
    /// message) and returns the answer's text, its text blocks joined; the model and the stop
    /// reason are not returned. A refusal or error of the client is a `HostCallError` of type
    /// `SamplingError` with the client's message; an answer without text is one of type
    /// `InvalidSamplingResult`.
    static func complete(through sampling: ClientSampling) -> HostFunction {
        HostFunction(
            name: completeName,
            summary: "Ask the MCP client's model: the prompt as one user message; returns the reply's text.",
            parameters: [
                "type": "object", "required": ["prompt"], "additionalProperties": false,
                "properties": [
                    "prompt": ["type": "string", "description": "The user message."],
                    "max_tokens": [
                        "type": "integer", "minimum": 1, "default": .number(Double(completeDefaultMaximumTokens)),
                        "description": "The most tokens to generate.",
                    ],
                    "system": ["type": "string", "description": "A system prompt."],
                    "temperature": ["type": "number", "minimum": 0, "description": "The sampling temperature."],
                ],
            ],
            timeout: completeTimeout
        ) { call in
            let reply = try await sampling.createMessage(samplingParameters(of: call))
            return .string(try text(of: reply))
        }
    }

    /// The `sampling/createMessage` params for a call (its arguments are checked by the runner).
    static func samplingParameters(of call: HostCall) -> JSONValue {
        var params: [String: JSONValue] = [
            "messages": [["role": "user", "content": ["type": "text", "text": call["prompt"] ?? ""]]],
            "maxTokens": .number(Double(call["max_tokens"]?.intValue ?? completeDefaultMaximumTokens)),
        ]
        if let system = call["system"], system != .null { params["systemPrompt"] = system }
        if let temperature = call["temperature"], temperature != .null { params["temperature"] = temperature }
        return .object(params)
    }

    /// The text of a `sampling/createMessage` result, whose `content` is one block or a list.
    static func text(of result: JSONValue) throws(HostCallError) -> String {
        let blocks: [JSONValue]
        switch result["content"] {
        case .array(let list)?: blocks = list
        case .object(let block)?: blocks = [.object(block)]
        default:
            throw HostCallError(
                type: "InvalidSamplingResult", message: "the client's answer has no content: \(result)")
        }
        let texts = blocks.filter { $0["type"]?.stringValue == "text" }.compactMap { $0["text"]?.stringValue }
        guard !texts.isEmpty else {
            let kinds = blocks.compactMap { $0["type"]?.stringValue }.joined(separator: ", ")
            throw HostCallError(
                type: "InvalidSamplingResult", message: "the client's answer holds no text (content: \(kinds))")
        }
        return texts.joined()
    }
}
