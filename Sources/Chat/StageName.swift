/// The six stages of a chat, in pipeline order.
public enum StageName: String, CaseIterable, Sendable, Comparable {
    case capture, vad, stt, llm, tts, play

    /// The executable: `vx-capture`, `vx-vad`, ...
    public var tool: String { "vx-\(rawValue)" }

    public static func < (a: StageName, b: StageName) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
