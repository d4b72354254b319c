import Logging
import VXShared

/// The supervisor's end of the pipeline: listens where vx-play writes its output, feeds every event
/// to the `TurnTracker` and carries out what it asks: feedback to vx-vad and vx-llm, turn reports,
/// the live screen.
final class EventMonitor: @unchecked Sendable {
    private let reader: FrameReader
    private let logger: Logger
    private let clock = SystemClock()
    private let vadFeedback: QueuedFrameWriter
    private let llmFeedback: QueuedFrameWriter
    private let onAction: @Sendable (TurnTracker.Action) -> Void
    private let monitor = Monitor()
    private var tracker = TurnTracker()
    private var pongs: Set<String> = []

    init(listen path: String, vadFeedback: QueuedFrameWriter, llmFeedback: QueuedFrameWriter, logger: Logger,
         onAction: @escaping @Sendable (TurnTracker.Action) -> Void) throws {
        let source = try Transport(logger: logger).source(.listen(path))
        reader = FrameReader(source: source, logger: logger)
        self.vadFeedback = vadFeedback
        self.llmFeedback = llmFeedback
        self.logger = logger
        self.onAction = onAction
        startThread("vx-chat-events") { [self] in run() }
    }

    /// A copy of the tracker, for idle checks and the summary.
    var snapshot: TurnTracker { monitor.withLock { tracker } }

    /// Waits until a `pong` carrying `text` has come, or `deadline` passes.
    func waitForPong(_ text: String, until deadline: Duration) -> Bool {
        monitor.withLock {
            while !pongs.contains(text) {
                if !monitor.wait(until: min(deadline, clock.now + .milliseconds(100))) && clock.now >= deadline { return false }
            }
            return true
        }
    }

    func stop() { reader.source.close() }

    private func run() {
        while true {
            let frame: Frame?
            do { frame = try reader.next() } catch {
                // A listening reader drops a bad peer and serves the next; anything else ends the watch.
                logger.warning("event stream failed", metadata: ["error": "\(error)"])
                if reader.source.servesPeersInTurn { continue }
                return
            }
            guard let frame else { return }
            guard let event = frame.event else { continue }
            let now = clock.now
            let actions = monitor.withLock {
                let actions = tracker.handle(event, at: now)
                for case .pong(let text) in actions { pongs.insert(text) }
                monitor.broadcast()
                return actions
            }
            for action in actions {
                switch action {
                case .toVAD(let e): vadFeedback.send([.event(e)])
                case .toLLM(let e): llmFeedback.send([.event(e)])
                default: break
                }
                onAction(action)
            }
        }
    }
}
