#if canImport(Glibc)
import Glibc
#endif
import VXShared

/// The live screen on a terminal: a few lines at the bottom of stderr, redrawn in place, showing
/// what the chat is doing, the partial transcript as it forms, the reply as it streams and the
/// last turn's latency. Log lines are printed above it.
public final class LiveView: @unchecked Sendable {
    public struct Screen: Equatable, Sendable {
        public var state = "starting"
        public var heard = ""
        public var reply = ""
        public var lastTurn = ""
        public var summary = ""
        public init() {}
    }

    private let fd: Int32
    private let lock = Lock()
    private var screen = Screen()
    private var drawnLines = 0

    public init(fd: Int32 = 2) { self.fd = fd }

    /// Changes what the screen shows and redraws it.
    public func update(_ change: (inout Screen) -> Void) {
        lock.withLock {
            var next = screen
            change(&next)
            guard next != screen else { return }
            screen = next
            redraw()
        }
    }

    /// Prints `text` above the screen.
    public func printAbove(_ text: String) {
        lock.withLock {
            clear()
            LogSink.writeAll(fd, text)
            redraw(clearFirst: false)
        }
    }

    /// Leaves the last screen on the terminal, with the cursor below it.
    public func finish() {
        lock.withLock { drawnLines = 0 }
    }

    private func clear() {
        guard drawnLines > 0 else { return }
        // Up to the first line of the screen, then clear to the end of the display.
        LogSink.writeAll(fd, "\r\u{1B}[\(drawnLines)A\u{1B}[J")
        drawnLines = 0
    }

    private func redraw(clearFirst: Bool = true) {
        if clearFirst { clear() }
        let width = max(20, Self.columns(fd) - 1)
        let lines = [
            "── vx-chat ── \(screen.state)" + (screen.summary.isEmpty ? "" : " ── \(screen.summary)"),
            "  you: " + screen.heard,
            "  vx:  " + screen.reply,
            "  " + screen.lastTurn,
        ].map { Self.fit($0, width) }
        LogSink.writeAll(fd, lines.joined(separator: "\n") + "\n")
        drawnLines = lines.count
    }

    /// The line cut to `width` characters, keeping its end when it is the text being spoken or heard.
    static func fit(_ line: String, _ width: Int) -> String {
        let flat = line.map { $0 == "\n" || $0 == "\t" ? " " : $0 }
        guard flat.count > width else { return String(flat) }
        return String(flat.prefix(width - 1)) + "…"
    }

    static func columns(_ fd: Int32) -> Int {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}
