#if canImport(Glibc)
import Glibc
#endif
import Logging
import VXShared

/// The conversation history on disk: one JSON object a line, appended as turns happen, so a
/// restarted vx-llm picks the conversation up where it stopped.
///
///     {"role":"user","text":"What is the capital of France?","ts":"2026-11-22T05:10:03.120Z"}
///     {"id":"r-1a2b3c-1","interrupted":false,"role":"assistant","text":"Paris.","ts":"…"}
///     {"refines":"r-1a2b3c-1","role":"assistant","text":"Par","ts":"…"}      (what was heard of it)
///
/// The file is created with mode 0600 (and its directory 0700): it holds what the user said. A
/// line that is not a turn (a crash mid-write, an edit by hand) is skipped with a warning; it never
/// stops the tool. Lines are written whole with one `write(2)` to an `O_APPEND` descriptor.
public final class SessionStore: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let logger: Logger
    private let lock = Lock()

    /// Opens (creating) the session file for appending. Throws a `ToolError` naming the file.
    public init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        try Self.makeDirectories(for: path)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ToolError.io("cannot open the session file \(path): \(String(cString: strerror(errno))) (--no-session runs without one)")
        }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & 0o077 != 0 {
            fchmod(fd, 0o600)
            logger.notice("made the session file private (mode 0600)", metadata: ["session": "\(path)"])
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The turns in the file, oldest first, at most the newest `keep`. Refinements are applied.
    public func load(keep: Int = 1000) -> [Turn] {
        guard let bytes = Self.readAll(path) else {
            logger.warning("cannot read the session file; starting a new conversation",
                           metadata: ["session": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            return []
        }
        var turns: [Turn] = []
        var skipped = 0
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) {
            switch Self.record(line) {
            case .success(.turn(let turn)):
                turns.append(turn)
                if turns.count > 2 * keep { turns.removeFirst(turns.count - keep) }
            case .success(.refinement(let id, let text)):
                if let i = turns.lastIndex(where: { $0.id == id }) {
                    turns[i].text = text
                    turns[i].interrupted = true
                }
            case .failure(let reason):
                skipped += 1
                logger.warning("skipped a line of the session file that is not a turn",
                               metadata: ["session": "\(path)", "line": "\(index + 1)", "reason": "\(reason)"])
            }
        }
        if turns.count > keep { turns.removeFirst(turns.count - keep) }
        logger.info("resumed the conversation", metadata: [
            "session": "\(path)", "session.turns": "\(turns.count)", "session.skipped": "\(skipped)",
        ])
        return turns
    }

    /// Appends a turn. A failed write is logged, not thrown: losing history must not stop replies.
    public func append(_ turn: Turn) {
        var fields: [String: JSONValue] = ["role": .string(turn.role.rawValue), "text": .string(turn.text),
                                           "ts": .string(VXLogHandler.timestamp())]
        if turn.role == .assistant {
            fields["interrupted"] = .bool(turn.interrupted)
            if let id = turn.id { fields["id"] = .string(id) }
        }
        write(fields)
    }

    /// Appends a refinement: the reply `id` is now known to have been heard only as `text`.
    public func appendRefinement(of id: String, heard text: String) {
        write(["role": "assistant", "refines": .string(id), "text": .string(text), "ts": .string(VXLogHandler.timestamp())])
    }

    private func write(_ fields: [String: JSONValue]) {
        var line = Array(JSONValue.object(fields).jsonText.utf8)
        line.append(UInt8(ascii: "\n"))
        lock.withLock {
            do {
                try line.withUnsafeBytes { try SystemCall.writeAll(fd, $0, what: path) }
            } catch {
                logger.warning("cannot write the session file", metadata: ["error": "\(error)"])
            }
        }
    }

    enum Record: Equatable {
        case turn(Turn)
        case refinement(id: String, text: String)
    }

    /// One line of the file as a record, or why it is not one.
    static func record(_ line: some Collection<UInt8>) -> Result<Record, Reason> {
        let json: JSONValue
        do {
            json = try JSONValue.parse(line)
        } catch {
            return .failure(Reason(text: error.reason))
        }
        guard case .object(let object) = json else { return .failure(Reason(text: "not a JSON object")) }
        guard let role = object["role"]?.string.flatMap(Turn.Role.init(rawValue:)) else {
            return .failure(Reason(text: "no \"role\" of user or assistant"))
        }
        guard let text = object["text"]?.string else { return .failure(Reason(text: "no \"text\" string")) }
        if let id = object["refines"]?.string { return .success(.refinement(id: id, text: text)) }
        return .success(.turn(Turn(role, text, interrupted: object["interrupted"]?.bool ?? false,
                                   id: object["id"]?.string)))
    }

    struct Reason: Error, Equatable, CustomStringConvertible {
        var text: String
        var description: String { text }
    }

    /// `mkdir -p` of the file's directory, new directories 0700.
    private static func makeDirectories(for path: String) throws {
        guard let slash = path.lastIndex(of: "/") else { return }
        var directory = path.hasPrefix("/") ? "" : "."
        for part in path[..<slash].split(separator: "/") {
            directory += "/" + part
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw ToolError.io("cannot create \(directory) for the session file: \(String(cString: strerror(errno))) (--no-session runs without one)")
            }
        }
    }

    private static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            guard let n = try? chunk.withUnsafeMutableBytes({ try SystemCall.read(fd, into: $0, what: path) }) else { return nil }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}
