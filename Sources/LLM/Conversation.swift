import VXShared

/// The conversation so far, in memory and (unless sessions are off) in a `SessionStore`.
/// Safe to use from any thread.
public final class Conversation: @unchecked Sendable {
    private let store: SessionStore?
    private let keep: Int
    private let lock = Lock()
    private var history: [Turn]

    /// Loads the history from `store`, keeping the newest `keep` turns in memory (prompts take
    /// fewer still: see `ContextBudget`).
    public init(store: SessionStore?, keep: Int = 1000) {
        self.store = store
        self.keep = keep
        history = store?.load(keep: keep) ?? []
    }

    public var turns: [Turn] { lock.withLock { history } }

    public func append(_ turn: Turn) {
        lock.withLock {
            history.append(turn)
            if history.count > 2 * keep { history.removeFirst(history.count - keep) }
        }
        store?.append(turn)
    }

    /// The hook for what the user really heard of a reply (vx-play's `played` tells how much of
    /// the audio came out; a supervisor can map that to text): replaces the text of the reply `id`
    /// (the newest reply when nil) and marks it interrupted, here and in the session file.
    /// Returns false when there is no such reply.
    @discardableResult
    public func refineReply(id: String? = nil, heard text: String) -> Bool {
        let found: String?? = lock.withLock {
            guard let i = history.lastIndex(where: { $0.role == .assistant && (id == nil || $0.id == id) }) else { return nil }
            history[i].text = text
            history[i].interrupted = true
            return .some(history[i].id)
        }
        guard let found else { return false }
        if let replyID = found { store?.appendRefinement(of: replyID, heard: text) }
        return true
    }
}
