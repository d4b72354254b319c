import Logging
import VXShared

/// Sends events (forwarded ones, and `playing` and `played` reports) in order on a thread of
/// its own, so a slow or absent reader never holds up playback.
///
/// When stdout's reader goes away, events are dropped and playback goes on;
/// any other failure to deliver ends the tool through `onFailure`.
final class EventOutput: @unchecked Sendable {
    private enum Target {
        case frames(FrameWriter)
        case text(any ByteSink)
        case log
    }

    private let target: Target
    private let logger: Logger
    private let onFailure: @Sendable (any Error) -> Void
    private let monitor = Monitor()
    private var pending: [Event] = []
    private var writing = false
    private var dropping = false
    private var finished = false

    init(_ destination: EventDestination, transport: Transport, logger: Logger,
         onFailure: @escaping @Sendable (any Error) -> Void) throws {
        switch destination {
        case .frames(let endpoint): target = .frames(FrameWriter(sink: try transport.sink(endpoint)))
        case .text: target = .text(try transport.sink(.stdio))
        case .log: target = .log
        }
        self.logger = logger
        self.onFailure = onFailure
    }

    /// Starts the sending thread. Call after `TerminationSignals.install`.
    func start() {
        startThread("vx-play-events") { [self] in run() }
    }

    func send(_ events: [Event]) {
        guard !events.isEmpty else { return }
        monitor.withLock {
            guard !dropping && !finished else { return }
            pending.append(contentsOf: events)
            monitor.broadcast()
        }
    }

    /// Waits until every event sent so far has been delivered (at most `timeout`,
    /// when given), then closes the output. False when it timed out.
    @discardableResult
    func finish(timeout: Duration? = nil) -> Bool {
        let deadline = timeout.map { SystemClock().now + $0 }
        let delivered = monitor.withLock {
            while !pending.isEmpty || writing {
                if let deadline {
                    if !monitor.wait(until: deadline) && (!pending.isEmpty || writing) { return false }
                } else {
                    monitor.wait()
                }
            }
            finished = true
            return true
        }
        if delivered, case .frames(let writer) = target { writer.close() }
        return delivered
    }

    private func run() {
        while true {
            let batch: [Event] = monitor.withLock {
                while pending.isEmpty { monitor.wait() }
                writing = true
                defer { pending.removeAll() }
                return pending
            }
            do {
                try deliver(batch)
            } catch TransportError.outputClosed(let name) {
                logger.notice("event output closed by its reader; events are no longer sent", metadata: ["output": "\(name)"])
                monitor.withLock { dropping = true }
            } catch {
                monitor.withLock { dropping = true }
                onFailure(error)
            }
            monitor.withLock {
                writing = false
                monitor.broadcast()
            }
        }
    }

    private func deliver(_ events: [Event]) throws {
        switch target {
        case .frames(let writer):
            try writer.write(events.map { .event($0) })
        case .text(let sink):
            var text = ""
            for event in events { text += TextForm.line(for: .event(event), format: nil) + "\n" }
            try text.utf8CString.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        case .log:
            for event in events {
                logger.notice("event", metadata: ["event.type": "\(event.type)", "event.data": "\(JSONValue.object(event.data).jsonText)"])
            }
        }
    }
}
