#if canImport(Glibc)
import Glibc
#endif
import VXShared

/// One stage's process as the supervisor keeps it: the running child, its log lines (all merged
/// into the chat's log, the last few kept for a failure message) and its restart history.
final class StageProcess: @unchecked Sendable {
    let name: StageName
    private(set) var child: ChildProcess?
    /// When the running child was started (monotonic).
    private(set) var startedAt: Duration = .zero
    /// When vx-chat restarted it, within the restart window.
    var restarts: [Duration] = []
    /// When a restart is due, while the stage is down.
    var restartAt: Duration?
    private let lock = Lock()
    private var recent: [String] = []
    private let keep = 12

    init(name: StageName) { self.name = name }

    /// The last lines it wrote (its own log and anything else on stdout or stderr).
    var lastLines: [String] { lock.withLock { recent } }

    /// Starts the stage. `setpriv --pdeathsig KILL`, when there, makes the child die with vx-chat
    /// even if vx-chat is killed outright (this thread must outlive the child: the main thread does).
    func start(executable: String, arguments: [String], environment: [String: String], logs: LogSink,
               clock: any MonotonicClock) throws(IOError) {
        var program = executable
        var argv = arguments
        if access(Self.setpriv, X_OK) == 0 {
            program = Self.setpriv
            argv = ["--pdeathsig", "KILL", "--", executable] + arguments
        }
        let child = try ChildProcess(executable: program, arguments: argv, environment: environment)
        self.child = child
        lastPID = child.pid
        startedAt = clock.now
        restartAt = nil
        let name = name
        startThread("vx-chat-log-\(name.rawValue)") { [self] in
            pump(child, logs: logs, tool: name.tool)
        }
    }

    /// The pid of the last child started (it stays known after the child has ended).
    private(set) var lastPID: pid_t?

    /// Forgets the child once it has ended.
    func ended() { child = nil }

    private static let setpriv = "/usr/bin/setpriv"

    /// Copies the child's output, line by line, into the chat's log until it closes. Lines that are not
    /// a vx log line (a crash message, a fixture's print) are wrapped in one, naming the stage.
    private func pump(_ child: ChildProcess, logs: LogSink, tool: String) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        func emit(_ bytes: ArraySlice<UInt8>) {
            var line = String(decoding: bytes, as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            guard !line.isEmpty else { return }
            lock.withLock {
                recent.append(line)
                if recent.count > keep { recent.removeFirst(recent.count - keep) }
            }
            if line.contains("tool=") || line.contains("\"tool\":") {
                logs.write(line)
            } else {
                var quoted = ""
                JSONValue.writeString(line, to: &quoted)
                logs.write("ts=\(VXLogHandler.timestamp()) level=warning tool=\(tool) msg=\(quoted)")
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(child.output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let newline = pending.firstIndex(of: 10) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { emit(pending[...]) }
    }
}
