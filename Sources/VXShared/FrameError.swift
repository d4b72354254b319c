/// What is wrong with a frame stream, and where. Every case names a byte offset
/// into the stream; descriptions are one line, for users.
public enum FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The very first bytes are not a vx frame header nor a JSON text line.
    case notAFrameStream(firstBytes: [UInt8])
    case unsupportedVersion(UInt8, offset: Int)
    case badMagic(offset: Int, found: [UInt8])
    case unknownKind(UInt8, offset: Int)
    case frameTooLarge(offset: Int, length: Int, limit: Int)
    case truncatedFrame(offset: Int, expected: Int, got: Int)
    case badEvent(offset: Int, reason: String)
    case badAudio(offset: Int, reason: String)
    /// A problem in the JSON-lines text form.
    case badTextLine(line: Int, offset: Int, reason: String)

    public var description: String {
        switch self {
        case .notAFrameStream(let bytes):
            return "input is not a vx frame stream (did you mean vx-capture?): it starts with \(Self.describe(bytes))"
        case .unsupportedVersion(let v, let offset):
            return "unsupported vx frame version \(v) at byte offset \(offset) (this build reads version \(Frame.version))"
        case .badMagic(let offset, let found):
            return "corrupt frame stream: no frame header at byte offset \(offset) (found \(Self.describe(found)))"
        case .unknownKind(let kind, let offset):
            return "corrupt frame stream: unknown frame kind 0x\(Self.hex(kind)) at byte offset \(offset)"
        case .frameTooLarge(let offset, let length, let limit):
            return "frame at byte offset \(offset) is \(length) bytes, over the \(limit)-byte limit (raise it with --max-frame)"
        case .truncatedFrame(let offset, let expected, let got):
            return "stream ends inside the frame at byte offset \(offset): expected \(expected) bytes, got \(got)"
        case .badEvent(let offset, let reason):
            return "bad event frame at byte offset \(offset): \(reason)"
        case .badAudio(let offset, let reason):
            return "bad audio frame at byte offset \(offset): \(reason)"
        case .badTextLine(let line, let offset, let reason):
            return "bad text frame on line \(line) (byte offset \(offset)): \(reason)"
        }
    }

    static func hex(_ b: UInt8) -> String {
        let h = String(b, radix: 16)
        return h.count == 1 ? "0" + h : h
    }

    /// A short, printable rendering of some bytes: the text if it is text, else hex.
    static func describe(_ bytes: [UInt8]) -> String {
        let head = Array(bytes.prefix(8))
        if !head.isEmpty, head.allSatisfy({ (0x20..<0x7f).contains($0) || $0 == 0x0a || $0 == 0x09 }) {
            let text = String(decoding: head, as: UTF8.self)
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t")
            return "\"\(text)\""
        }
        return head.map { hex($0) }.joined(separator: " ")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
