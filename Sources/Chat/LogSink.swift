#if canImport(Glibc)
import Glibc
#endif
import Logging
import VXShared

/// Where the chat's log lines go: every stage's lines and vx-chat's own, merged as they come.
/// Each line already names its tool (`tool=vx-stt`). Lines at `info` and up go to the log file;
/// lines at the chosen level and up to stderr, above the live screen when one is shown.
public final class LogSink: @unchecked Sendable {
    private let level: Logger.Level
    private let file: Int32?
    private let view: LiveView?
    private let lock = Lock()

    public init(level: Logger.Level, file: Int32?, view: LiveView?) {
        self.level = level
        self.file = file
        self.view = view
    }

    /// The level stages should log at: what stderr shows, or info for the file if that is lower.
    public var stageLevel: Logger.Level { min(level, .info) }

    /// vx-chat's own logger, writing through this sink.
    public func logger() -> Logger {
        let level = stageLevel
        return Logger(label: "vx-chat") { _ in
            VXLogHandler(tool: "vx-chat", level: level, format: .logfmt, output: { [self] in self.write($0) })
        }
    }

    /// One line (or a few), ending in a newline or not.
    public func write(_ text: String) {
        var text = text
        if !text.hasSuffix("\n") { text += "\n" }
        let lineLevel = Self.level(of: text)
        lock.withLock {
            if let file, lineLevel.map({ $0 >= .info }) ?? true { Self.writeAll(file, text) }
            if lineLevel.map({ $0 >= level }) ?? true {
                if let view { view.printAbove(text) } else { Self.writeAll(2, text) }
            }
        }
    }

    /// A line for the log file only (turn records when the live screen shows them).
    public func writeFileOnly(_ text: String) {
        guard let file else { return }
        lock.withLock { Self.writeAll(file, text.hasSuffix("\n") ? text : text + "\n") }
    }

    /// The level a logfmt (`level=info`) or JSON (`"level":"info"`) line names, if any.
    static func level(of line: String) -> Logger.Level? {
        for marker in [" level=", "\"level\":\""] {
            guard let range = line.firstRange(of: marker) else { continue }
            let rest = line[range.upperBound...]
            let word = rest.prefix { $0.isLetter }
            if let level = Logger.Level(rawValue: String(word)) { return level }
        }
        return nil
    }

    public static func writeAll(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { try? SystemCall.writeAll(fd, UnsafeRawBufferPointer($0), what: "log") }
    }
}
