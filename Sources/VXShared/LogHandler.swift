#if canImport(Glibc)
import Glibc
#endif
import Logging

/// How log lines look: logfmt for people, JSON lines for machines.
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt, json
}

/// Writes one line per record to stderr, naming the tool:
///
///     ts=2026-11-22T03:52:50.123Z level=info tool=vx-play msg="listening" socket=/run/vx/play.sock
///     {"ts":"2026-11-22T03:52:50.123Z","level":"info","tool":"vx-play","msg":"listening","socket":"/run/vx/play.sock"}
public struct VXLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let tool: String
    public let format: LogFormat
    /// Where each finished line (with its newline) goes: stderr unless told otherwise.
    public let output: @Sendable (String) -> Void

    private static let lock = Lock()

    public init(tool: String, level: Logger.Level, format: LogFormat, output: (@Sendable (String) -> Void)? = nil) {
        self.tool = tool
        self.logLevel = level
        self.format = format
        self.output = output ?? { Self.write($0) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [("ts", Self.timestamp()), ("level", "\(event.level)"), ("tool", tool),
                                          ("msg", "\(event.message)")]
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        let line = format == .json ? Self.json(fields) : Self.logfmt(fields)
        output(line + "\n")
    }

    static func write(_ text: String) {
        lock.withLock {
            var text = text
            text.withUTF8 { try? SystemCall.writeAll(2, UnsafeRawBufferPointer($0), what: "stderr") }
        }
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0.value < 0x7f }
            if plain { return "\(key)=\(value)" }
            var quoted = ""
            JSONValue.writeString(value, to: &quoted)
            return "\(key)=\(quoted)"
        }.joined(separator: " ")
    }

    static func json(_ fields: [(String, String)]) -> String {
        var out = "{"
        for (i, (key, value)) in fields.enumerated() {
            if i > 0 { out += "," }
            JSONValue.writeString(key, to: &out)
            out += ":"
            JSONValue.writeString(value, to: &out)
        }
        return out + "}"
    }

    /// UTC wall-clock time with milliseconds, e.g. 2026-11-22T03:52:50.123Z.
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ n: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
