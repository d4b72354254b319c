import VXShared

/// What can go wrong in speech-to-text, in words a user understands.
public enum STTError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A model file or directory is missing or unreadable.
    case missingModelFile(path: String, role: String)
    /// The engine would not load its model.
    case modelLoadFailed(reason: String)
    /// A decoder call failed in the middle of an utterance.
    case decodeFailed(call: String, code: Int32)

    public var description: String {
        switch self {
        case .missingModelFile(let path, let role):
            "cannot read the \(role) \(path): no such file, or not readable"
        case .modelLoadFailed(let reason):
            "cannot load the speech model: \(reason)"
        case .decodeFailed(let call, let code):
            "pocketsphinx \(call) failed (\(code))"
        }
    }

    /// The one-line message and exit status a tool reports for this error.
    public var toolError: ToolError {
        switch self {
        case .missingModelFile: ToolError(description, exit: .noInput)
        case .modelLoadFailed: ToolError(description, exit: .unavailable)
        case .decodeFailed: ToolError(description, exit: .software)
        }
    }
}
