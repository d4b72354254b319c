import Logging

/// Frames written to an endpoint on a thread of its own, so whoever sends them never waits for the
/// peer: a feedback connection, a monitor copy of played audio. Frames queue while the peer is
/// away (a connecting sink reconnects as section 6 of docs/PROTOCOL.md says); past `limit` the
/// oldest are dropped, since such frames are only worth having while they are fresh. A failed
/// write is logged once per outage, and the next frames try a new connection.
///
/// The thread starts with the first frame, so a tool that installs `TerminationSignals` before
/// sending anything keeps SIGINT and SIGTERM blocked in it too.
public final class QueuedFrameWriter: @unchecked Sendable {
    public let endpoint: Endpoint
    private let limit: Int
    private let logger: Logger
    private let monitor = Monitor()
    private var queue: [Frame] = []
    private var closed = false
    private var started = false

    public init(endpoint: Endpoint, limit: Int = 64, logger: Logger) {
        self.endpoint = endpoint
        self.limit = limit
        self.logger = logger
    }

    public func send(_ frames: [Frame]) {
        monitor.withLock {
            queue += frames
            if queue.count > limit { queue.removeFirst(queue.count - limit) }
            if !started {
                started = true
                startThread("vx-queued-writer") { [self] in run() }
            }
            monitor.signal()
        }
    }

    /// Writes what is queued, then closes the connection.
    public func close() {
        monitor.withLock {
            closed = true
            monitor.signal()
        }
    }

    private func run() {
        var writer: FrameWriter?
        var failing = false
        while true {
            let frames: [Frame] = monitor.withLock {
                while queue.isEmpty && !closed { monitor.wait() }
                defer { queue.removeAll() }
                return queue
            }
            if frames.isEmpty { break }
            do {
                if writer == nil { writer = FrameWriter(sink: try Transport(logger: logger).sink(endpoint)) }
                try writer?.write(frames)
                failing = false
            } catch {
                if !failing { logger.warning("frames not delivered", metadata: ["to": "\(endpoint)", "error": "\(error)"]) }
                failing = true
                writer = nil
            }
        }
        writer?.close()
    }
}
