import Synchronization
import VXShared

/// The output side of vx-tts: forwarded events, and synthesised speech as audio stretches on
/// vx-tts's own clock. Shared by the reader thread (events, interrupts) and the synthesis
/// thread (audio); every write happens under one lock, so the two interleave frame by frame.
///
/// **Clock.** Audio is stamped with vx-tts's output clock: nanoseconds of audio synthesised since
/// vx-tts started, continuous across stretches. A sentence's span is taken from the clock when its
/// `spoken` event goes out, so if an interrupt cuts the sentence, the rest of its span is skipped,
/// not reused: every instant of the clock belongs to at most one sentence, and a `played` report's
/// `end_ns` falls inside the `spoken` span of the sentence that was being heard.
///
/// **Interrupts.** `beginInterrupt` bumps `epoch` (an atomic the synthesis thread checks before
/// each frame); `finishInterrupt` then takes the lock and writes the interrupt, then `audio-stop`
/// for an open stretch. Audio is written only under the lock by a caller whose epoch is still
/// current, so no audio of an interrupted reply can follow the forwarded interrupt: at most the
/// one frame being written when the epoch moved on goes out, and it goes out before the interrupt.
///
/// **Frames.** Each sentence is padded with silence to a whole number of frames, so every audio
/// frame lasts exactly `chunkMilliseconds` and a stretch's timestamps run on without gaps.
final class SpeechOutput: @unchecked Sendable {
    let writer: FrameWriter
    let format: AudioFormat
    /// Sample frames in one audio frame (20 ms by default).
    let framesPerChunk: Int
    /// Bumped by each interrupt; speech made under an older epoch is dropped.
    let epoch = Atomic<Int>(0)

    private let lock = Lock()
    /// The output clock, in sample frames since vx-tts started.
    private var clock = 0
    /// The open stretch, if any: where its audio written so far ends.
    private var openStretchEnd: Int?

    init(writer: FrameWriter, format: AudioFormat, chunkMilliseconds: Int = 20) {
        self.writer = writer
        self.format = format
        framesPerChunk = max(format.rate * chunkMilliseconds / 1000, 1)
    }

    var currentEpoch: Int { epoch.load(ordering: .acquiring) }

    /// Passes an event on.
    func forward(_ event: Event) throws {
        try lock.withLock { try writer.write(.event(event)) }
    }

    /// Barge-in, first step: audio of the current epoch is no longer written (a frame being
    /// written right now is the last). Returns the epoch that now begins.
    @discardableResult
    func beginInterrupt() -> Int {
        epoch.add(1, ordering: .acquiringAndReleasing).newValue
    }

    /// Barge-in, second step: the interrupt is forwarded and the open stretch closed. Waits for
    /// a frame being written to finish.
    func finishInterrupt(_ event: Event) throws {
        try lock.withLock {
            var frames: [Frame] = [.event(event)]
            if let end = openStretchEnd {
                frames.append(.event(.audioStop(timestamp: format.nanoseconds(forFrames: end))))
                openStretchEnd = nil
            }
            try writer.write(frames)
        }
    }

    /// What a sentence's `spoken` event says besides its text and span.
    struct SentenceDetails: Sendable, Equatable {
        /// Milliseconds from the synthesis thread taking the sentence to its audio being ready.
        var synthMilliseconds: Int64?
        /// The reply it belongs to; nil for a `synthesize` request.
        var replyID: JSONValue?
    }

    /// Sends one sentence: `audio-start` if no stretch is open, the `spoken` event, then the
    /// audio in `framesPerChunk` frames (the last padded with silence, so every frame has the
    /// same length and sentences follow each other without gaps). Returns false, having written
    /// nothing more, as soon as an interrupt has ended `epoch`.
    func speak(_ text: String, pcm: [UInt8], epoch expected: Int, details: SentenceDetails = SentenceDetails(),
               onFirstFrame: () -> Void = {}) throws -> Bool {
        let chunkBytes = framesPerChunk * format.bytesPerFrame
        guard !pcm.isEmpty else { return true }
        var padded = pcm
        if padded.count % chunkBytes != 0 { padded += [UInt8](repeating: 0, count: chunkBytes - padded.count % chunkBytes) }
        let chunks = padded.count / chunkBytes
        var start = 0
        for index in 0..<chunks {
            let written: Bool = try lock.withLock {
                guard currentEpoch == expected else { return false }
                var frames: [Frame] = []
                if index == 0 {
                    if openStretchEnd == nil {
                        frames.append(.event(.audioStart(format, timestamp: format.nanoseconds(forFrames: clock))))
                        openStretchEnd = clock
                    }
                    start = clock
                    clock += chunks * framesPerChunk
                    frames.append(.event(.spoken(text, start: format.nanoseconds(forFrames: start),
                                                 end: format.nanoseconds(forFrames: clock),
                                                 synthMilliseconds: details.synthMilliseconds, replyID: details.replyID)))
                }
                let at = start + index * framesPerChunk
                frames.append(.audio(AudioChunk(timestamp: format.nanoseconds(forFrames: at),
                                                pcm: Array(padded[index * chunkBytes..<(index + 1) * chunkBytes]))))
                try writer.write(frames)
                openStretchEnd = at + framesPerChunk
                return true
            }
            guard written else { return false }
            if index == 0 { onFirstFrame() }
        }
        return true
    }

    /// Ends the open stretch, if `expected` is still the current epoch.
    func endStretch(epoch expected: Int) throws {
        try lock.withLock {
            guard currentEpoch == expected, let end = openStretchEnd else { return }
            openStretchEnd = nil
            try writer.write(.event(.audioStop(timestamp: format.nanoseconds(forFrames: end))))
        }
    }

    /// Writes what is needed to leave the stream whole (an `audio-stop` for an open stretch) and
    /// closes the output. Later writes are dropped.
    func close() {
        epoch.add(1, ordering: .acquiringAndReleasing)
        lock.withLock {
            var frames: [Frame] = []
            if let end = openStretchEnd {
                frames.append(.event(.audioStop(timestamp: format.nanoseconds(forFrames: end))))
                openStretchEnd = nil
            }
            writer.close(after: frames)
        }
    }
}

extension Event {
    /// vx's `spoken`: the sentence whose audio follows, and its span on vx-tts's output clock
    /// (`timestamp` in ms and `timestamp_ns` where it starts, `end_ns` just after it); `synth_ms`,
    /// the milliseconds its audio took to be ready; `id`, the reply it belongs to.
    public static func spoken(_ text: String, start: UInt64, end: UInt64, synthMilliseconds: Int64? = nil,
                              replyID: JSONValue? = nil) -> Event {
        var data: [String: JSONValue] = [
            "text": .string(text), "timestamp": .int(Int64(start / 1_000_000)), "timestamp_ns": .int(Int64(start)),
            "end_ns": .int(Int64(end)),
        ]
        if let synthMilliseconds { data["synth_ms"] = .int(synthMilliseconds) }
        if let replyID { data["id"] = replyID }
        return Event(EventType.spoken, data)
    }
}

extension EventType {
    /// vx: vx-tts is about to send a sentence's audio.
    public static let spoken = "spoken"
}
