import Logging
import VXShared

/// A feedback connection to one stage (`connect:PATH` to its `--feedback listen:PATH`), written on a
/// thread of its own so the supervisor never waits for it. While the stage restarts, the link
/// reconnects (VXShared's connecting sink) and events queue; past `limit` the oldest are dropped,
/// since feedback is only worth having while it is fresh.
final class FeedbackLink: @unchecked Sendable {
    let path: String
    private let logger: Logger
    private let monitor = Monitor()
    private var queue: [Event] = []
    private var closed = false
    private let limit = 64

    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
        startThread("vx-chat-feedback") { [self] in run() }
    }

    func send(_ event: Event) {
        monitor.withLock {
            queue.append(event)
            if queue.count > limit { queue.removeFirst(queue.count - limit) }
            monitor.signal()
        }
    }

    func close() {
        monitor.withLock {
            closed = true
            monitor.signal()
        }
    }

    private func run() {
        var writer: FrameWriter?
        while true {
            let next: Event? = monitor.withLock {
                while queue.isEmpty && !closed { monitor.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let event = next else { break }
            do {
                if writer == nil {
                    writer = FrameWriter(sink: try Transport(logger: logger).sink(.connect(path)))
                }
                try writer?.write(.event(event))
            } catch {
                logger.warning("feedback not delivered", metadata: ["socket": "\(path)", "event": "\(event.type)", "error": "\(error)"])
                writer = nil
            }
        }
        writer?.close()
    }
}
