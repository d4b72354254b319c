import Logging
import VXAudio
import VXShared

/// One run of the player: the reader and player threads and what they share.
///
/// Locks: `sinkLock` guards the sink and is held for each write (one short
/// piece at a time), so an interrupt on the reader thread can silence the output
/// between two pieces; the ledger and queue have their own locks, taken inside it.
/// Reports (`playing`, `played`) are handed to `events` with it held, so they
/// leave in the order they were made, whichever thread made them.
final class PlaybackSession: @unchecked Sendable {
    let configuration: PlayerConfiguration
    let logger: Logger
    let clock = SystemClock()
    let queue: PlaybackQueue
    let ledger = StretchLedger()
    let sink: any AudioSink
    let sinkLock = Monitor()
    /// Guarded by `sinkLock`: the sink has been closed (end of input or a signal).
    var sinkClosed = false
    /// File and raw outputs wait out each piece's duration, as a device would.
    let paced: Bool
    private(set) var events: EventOutput!
    /// A copy of what is played, for a simulated echo.
    let monitor: PlaybackMonitor?
    private let reader: FrameReader

    private let completion = Monitor()
    private var playerDone = false
    private var failure: (any Error)?
    private var readError: (any Error)?

    init(configuration: PlayerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        queue = PlaybackQueue(limit: configuration.queueLimit)
        let transport = Transport(logger: logger)
        switch configuration.output {
        case .file(let path):
            try FileSink.checkCreatable(path)
            sink = FileSink(path: path, override: configuration.format, logger: logger)
        case .raw:
            sink = RawSink(output: try transport.sink(.stdio), override: configuration.format, logger: logger)
        case .device(let name):
            sink = DeviceSink(name: name, override: configuration.format, latency: configuration.deviceLatency, logger: logger)
        case .text:
            preconditionFailure("--text is played by TextDump")
        }
        paced = configuration.realtime && !sink.isDevice
        monitor = configuration.monitor.map { PlaybackMonitor(endpoint: $0, logger: logger) }
        reader = FrameReader(source: try transport.source(configuration.input), maxPayload: configuration.maxFrame,
                             logger: logger)
        events = try EventOutput(configuration.events, transport: transport, logger: logger) { [weak self] error in
            self?.fail(error)
        }
    }

    /// Plays until the input ends and everything has been heard and reported.
    func run() throws {
        TerminationSignals.install { [self] signal in terminate(signal: signal) }
        defer { reader.source.close() }
        events.start()
        startThread("vx-play-player") { [self] in play() }
        startThread("vx-play-reader") { [self] in read() }

        let (failed, readFailed): ((any Error)?, (any Error)?) = completion.withLock {
            while !playerDone && self.failure == nil { completion.wait() }
            return (self.failure, self.readError)
        }
        if let failed {
            queue.stop()
            _ = sinkLock.withLock(timeout: .seconds(2)) {
                sink.abandon()
                sinkClosed = true
            }
            events.finish(timeout: .seconds(2))
            throw failed
        }
        events.finish()
        if let readFailed { throw readFailed }
        if case .file(let path) = configuration.output, let file = sink as? FileSink, file.wroteNothing {
            logger.warning("the input held no audio; no file written", metadata: ["file": "\(path)"])
        }
    }

    /// Ends the run with `error` (the first one wins).
    func fail(_ error: any Error) {
        completion.withLock {
            if failure == nil { failure = error }
            completion.broadcast()
        }
        queue.stop()
    }

    /// The input ended in an error (bad data or a failed read).
    var inputFailed: Bool { completion.withLock { readError != nil } }

    func playerFinished() {
        completion.withLock {
            playerDone = true
            completion.broadcast()
        }
    }

    // MARK: Reader thread

    /// Reads frames as they come: audio and its markers go to the queue,
    /// interrupts act at once, other events are forwarded.
    private func read() {
        var open: StretchEntry?
        var nextID = 1

        func begin(_ format: AudioFormat, announced: UInt64?) -> Bool {
            let entry = StretchEntry(id: nextID, format: format, announced: announced)
            nextID += 1
            ledger.open(entry)
            open = entry
            logger.debug("stretch begins", metadata: ["stretch.id": "\(entry.id)", "stretch.format": "\(format)"])
            return queue.push(.start(entry))
        }

        do {
            while let frame = try reader.next() {
                let readAt = clock.now
                var accepted = true
                switch frame {
                case .event(let event) where event.type == EventType.audioStart:
                    if open != nil { accepted = queue.push(.stop) }
                    // FrameReader has checked the format and made it current.
                    accepted = accepted && begin(reader.format!, announced: event.timestampNanoseconds)
                case .event(let event) where event.type == EventType.audioStop:
                    if open != nil {
                        accepted = queue.push(.stop)
                        open = nil
                    } else {
                        logger.debug("audio-stop with no stretch open; nothing to end")
                    }
                case .event(let event) where event.type == EventType.interrupt:
                    interrupt(event, readAt: readAt)
                    open = nil
                case .event(let event) where event.type == EventType.ping:
                    // The end of the pipeline answers: a ping sent in at the head checks every stage.
                    events.send([Event(EventType.pong, event["text"].map { ["text": $0] } ?? [:])])
                case .event(let event) where event.type == EventType.describe:
                    events.send([Event.info(name: "vx-play", description: "plays vx frame streams")])
                case .event(let event):
                    events.send([event])
                case .audio(let chunk):
                    let format = reader.format!
                    if open == nil { accepted = begin(format, announced: chunk.timestamp) }
                    let frames = chunk.pcm.count / format.bytesPerFrame
                    accepted = accepted && queue.push(.audio(chunk), nanoseconds: format.nanoseconds(forFrames: frames))
                }
                if !accepted { return }  // the run is over (a failure or a signal)
            }
        } catch {
            logger.debug("input failed; playing what came before it (a file is not written)", metadata: ["error": "\(error)"])
            completion.withLock { readError = error }
        }
        if open != nil { queue.push(.stop) }
        queue.push(.end)
    }

    /// Drops everything queued, silences the output, then forwards the interrupt (so whoever reads
    /// the end of the pipeline sees it) followed by the `played` reports of what it cut.
    private func interrupt(_ event: Event, readAt: Duration) {
        queue.interrupt()
        let (reports, silence): ([Event], Duration) = sinkLock.withLock {
            let queued = sink.queuedFrames
            sink.drop()
            let silence = clock.now - readAt
            let reports = ledger.interruptAll(queued: queued, silence: silence)
            events.send([event] + reports)
            return (reports, silence)
        }
        logger.info("interrupted", metadata: [
            "silence_us": "\(Self.microseconds(silence))", "stretches": "\(reports.count)",
        ])
    }

    // MARK: Signal thread

    /// SIGINT/SIGTERM: stop reading and playing, silence the output, report the
    /// stretches cut short, close the output properly. The caller then exits 0.
    private func terminate(signal: Int32) {
        let receivedAt = clock.now
        queue.interrupt()
        queue.stop()
        let reports: [Event]? = sinkLock.withLock(timeout: .seconds(2)) {
            let queued = sink.queuedFrames
            sink.drop()
            let reports = ledger.interruptAll(queued: queued, silence: clock.now - receivedAt)
            events.send(reports)
            sink.close()
            sinkClosed = true
            return reports
        }
        if reports == nil {
            logger.warning("output still busy after 2 s; exiting without closing it")
        }
        events.finish(timeout: .seconds(2))
        reader.source.close()
        logger.info("stopped by signal", metadata: ["signal": "\(signal == 2 ? "SIGINT" : signal == 15 ? "SIGTERM" : "\(signal)")"])
    }

    static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
