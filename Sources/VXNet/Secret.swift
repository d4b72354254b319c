/// A credential such as an API key. It prints as `[redacted]` in every form (`description`,
/// `debugDescription`, `dump`), so a configuration holding one can be logged safely; only
/// `value` gives the text, for the one place that sends it.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "[redacted]" }
    public var debugDescription: String { "[redacted]" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Replaces every occurrence of each secret in `text` with `[redacted]`.
func redact(_ text: String, _ secrets: [String]) -> String {
    var text = text
    // Longest first, so a token inside a longer header value does not leave the rest behind.
    for secret in secrets.sorted(by: { $0.count > $1.count }) where !secret.isEmpty {
        text = text.replacing(secret, with: "[redacted]")
    }
    return text
}
