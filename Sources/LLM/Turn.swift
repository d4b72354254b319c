/// One turn of the conversation: what the user said, or what the assistant replied.
public struct Turn: Sendable, Equatable {
    public enum Role: String, Sendable {
        case user, assistant
    }

    public var role: Role
    public var text: String
    /// An assistant turn cut short by a barge-in: `text` is what was said (or heard) before it.
    public var interrupted: Bool
    /// The reply's id (`reply`'s `id`), so a later refinement can find it; nil for user turns.
    public var id: String?

    public init(_ role: Role, _ text: String, interrupted: Bool = false, id: String? = nil) {
        self.role = role
        self.text = text
        self.interrupted = interrupted
        self.id = id
    }

    public static func user(_ text: String) -> Turn { Turn(.user, text) }

    public static func assistant(_ text: String, interrupted: Bool = false, id: String? = nil) -> Turn {
        Turn(.assistant, text, interrupted: interrupted, id: id)
    }
}
