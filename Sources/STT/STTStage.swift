import Logging
import VXShared

/// vx-stt: frames in; transcripts, with everything but audio forwarded, out.
///
/// Two threads:
/// - the **reader** (a thread of its own) reads frames, forwards every event
///   that is not audio at once, in order, and turns audio and voice events into
///   decoder commands (`UtteranceSegmenter`), queued on a `DecodeQueue`;
/// - the **decoder** (the thread that calls `run()`) owns the engine, feeds it
///   each frame as it arrives and writes transcript-chunk, transcript and error
///   events (`TranscriptionWorker`).
///
/// Both write through one FrameWriter, which writes whole frames under a lock.
/// Forwarded events keep their order and are never held up by decoding: an
/// `interrupt` passes while a remote engine's `finish()` waits on HTTP. An
/// utterance's chunks and transcript come after its voice-started and its
/// transcript after its voice-stopped (the reader forwards the event before it
/// queues the command); chunks of one utterance all come before its transcript,
/// and one utterance's events before the next one's. When input arrives faster
/// than real time, a chunk can follow its voice-stopped; each chunk names its
/// utterance by `start_ns`. The queue holds at most `backlog` of audio: past that
/// the reader waits for the decoder (a file read at full speed), so memory stays bounded.
public final class STTStage: @unchecked Sendable {
    private let configuration: STTConfiguration
    private let reader: FrameReader
    private let writer: FrameWriter
    private let worker: TranscriptionWorker
    private let queue: DecodeQueue
    private let clock: any MonotonicClock
    private let logger: Logger
    private var segmenter: UtteranceSegmenter

    private let lock = Lock()
    private var inputFailure: (any Error)?
    private var outputFailure: (any Error)?

    public init(engine: any Transcriber, configuration: STTConfiguration, reader: FrameReader, writer: FrameWriter,
                clock: any MonotonicClock = SystemClock(), logger: Logger) {
        self.configuration = configuration
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.logger = logger
        worker = TranscriptionWorker(engine: engine, configuration: configuration, writer: writer, clock: clock,
                                     logger: logger)
        queue = DecodeQueue(limit: STTConfiguration.samples(configuration.backlog))
        segmenter = UtteranceSegmenter(configuration: configuration, logger: logger)
    }

    /// Runs until the input ends and every utterance in it has been transcribed.
    /// Throws the input's error (after transcribing what came before it) or the output's.
    public func run() throws {
        startThread("vx-stt-reader") { [self] in read() }
        var decodeFailure: (any Error)?
        do {
            try worker.run(queue)
        } catch {
            decodeFailure = error
            queue.abort()
        }
        let (input, output) = lock.withLock { (inputFailure, outputFailure) }
        if let failure = output ?? decodeFailure ?? input { throw failure }
    }

    /// Stops at once (SIGINT/SIGTERM): queued work is dropped and the output closed.
    public func stop() {
        queue.abort()
        writer.close()
        reader.source.close()
    }

    // MARK: Reader thread

    private func read() {
        do {
            while let frame = try reader.next() {
                let steps = try segmenter.handle(frame, readAt: clock.now)
                guard try apply(steps) else { return }
            }
            guard try apply(segmenter.finishInput(readAt: clock.now)) else { return }
            queue.close()
        } catch let failure as OutputFailure {
            lock.withLock { outputFailure = failure.error }
            queue.abort()
        } catch {
            // Bad input: what came before it is still transcribed, then the error is reported.
            logger.debug("input failed; transcribing what came before it", metadata: ["error": "\(error)"])
            lock.withLock { inputFailure = error }
            queue.close()
        }
    }

    /// Forwards and queues `steps` in order; false when the run is over.
    private func apply(_ steps: [UtteranceSegmenter.Step]) throws -> Bool {
        for step in steps {
            switch step {
            case .forward(let event):
                do {
                    try writer.write(.event(event))
                } catch {
                    throw OutputFailure(error: error)
                }
            case .decode(let command):
                guard queue.push(command) else { return false }
            }
        }
        return true
    }

    private struct OutputFailure: Error {
        var error: any Error
    }
}
