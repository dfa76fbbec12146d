/// Replaces the values of the server's secret-looking environment variables with
/// `[redacted]` wherever they appear in text returned to the model.
///
/// A variable looks secret when its name contains `KEY`, `TOKEN`, `SECRET` or `PASSWORD`
/// (in any case). Values shorter than `minimumSecretLength` are left alone: a secret-named
/// variable holding `1`, `true` or `dev` would otherwise blank those words in every output,
/// and such values protect nothing.
public struct SecretRedactor: Sendable, Hashable {
    /// The words that make a variable name look secret.
    public static let secretNameWords = ["KEY", "TOKEN", "SECRET", "PASSWORD"]
    /// Values shorter than this (in characters) are not treated as secrets.
    public static let minimumSecretLength = 8
    /// What a secret becomes.
    public static let replacement = "[redacted]"

    /// The values replaced, longest first (so a secret that contains another goes whole).
    public let secrets: [String]

    /// A redactor for the secret-looking variables of `environment`.
    public init(environment: [String: String]) {
        self.init(
            secrets: environment.compactMap { name, value in
                Self.looksSecret(name) ? value : nil
            })
    }

    /// A redactor for these values (short ones and duplicates dropped).
    public init(secrets: some Sequence<String>) {
        let kept = Set(secrets.filter { $0.count >= Self.minimumSecretLength })
        self.secrets = kept.sorted { ($0.count, $0) > ($1.count, $1) }
    }

    /// A redactor that changes nothing (`--no-redact`).
    public static let disabled = SecretRedactor(secrets: [])

    /// Whether a variable of this name is treated as a secret.
    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretNameWords.contains { upper.contains($0) }
    }

    /// `text` with every secret replaced.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacing(secret, with: Self.replacement)
        }
        return result
    }

    /// The length of the longest end of `text` that is the start of a secret (but not a whole
    /// one): what a stream must hold back until it knows how the text goes on.
    func heldBackLength(_ text: String) -> Int {
        guard let longest = secrets.first?.count, longest > 1 else { return 0 }
        let scalarsTail = text.suffix(longest - 1)
        var candidate = scalarsTail[...]
        while !candidate.isEmpty {
            if secrets.contains(where: { $0.hasPrefix(candidate) }) { return candidate.count }
            candidate = candidate.dropFirst()
        }
        return 0
    }
}

/// Redacts a stream of chunks, so a secret split between two chunks is still caught: it holds
/// back the end of what it has seen while that end could be the start of a secret.
public struct StreamingRedactor: Sendable {
    public let redactor: SecretRedactor
    private var heldBack = ""

    public init(_ redactor: SecretRedactor) {
        self.redactor = redactor
    }

    /// The redacted text that is safe to pass on after `chunk`.
    public mutating func feed(_ chunk: String) -> String {
        if redactor.secrets.isEmpty { return chunk }
        let text = redactor.redact(heldBack + chunk)
        let keep = redactor.heldBackLength(text)
        heldBack = String(text.suffix(keep))
        return String(text.dropLast(keep))
    }

    /// What is held back, redacted as if the stream ended now (for a look at a running stream
    /// that does not end it).
    public var pending: String { redactor.redact(heldBack) }

    /// Ends the stream: the held-back rest.
    public mutating func finish() -> String {
        defer { heldBack = "" }
        return heldBack
    }
}
