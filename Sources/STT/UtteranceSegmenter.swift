import Logging
import VXAudio
import VXShared

/// The reading side of vx-stt: turns the frame stream into events to forward
/// and decoder commands, in order. It consumes audio (audio-start, audio
/// frames, audio-stop) and forwards every other event unchanged.
///
/// Utterances: with a VAD upstream, voice-started … voice-stopped, starting at
/// voice-started's `preroll_ns` from a ring of recent audio (sample-accurate
/// through the frames' timestamps); without one, each stretch, audio-start …
/// audio-stop. In `auto` mode a stretch is decoded as one utterance until the
/// first voice event shows a VAD is upstream; that provisional utterance is then
/// cancelled and voice events decide from there on. An utterance longer than
/// `maxUtterance` is finished there and the audio after it starts a new one.
///
/// Audio in another format is converted to 16 kHz mono 16-bit first. No
/// threads, no clock: frames in, steps out.
struct UtteranceSegmenter {
    enum Step: Equatable {
        case forward(Event)
        case decode(DecodeCommand)
    }

    private enum Kind { case voice, stretch }

    private struct Stretch {
        var format: AudioFormat
        /// Stream time of sample index 0; from audio-start, else the first frame.
        var origin: UInt64?
        /// nil when the audio is already 16 kHz mono 16-bit.
        var converter: SampleConverter?
        var ring: AudioRing
    }

    private struct Open {
        var kind: Kind
        var startIndex: Int
        /// Samples before this index have been sent to the decoder.
        var fedUpTo: Int
    }

    let configuration: STTConfiguration
    private let logger: Logger
    private let maxSamples: Int
    private let ringSamples: Int
    private var stretch: Stretch?
    private var open: Open?
    /// A VAD is upstream: a voice event has been seen.
    private(set) var voiceSeen = false
    private var nextID = 1
    private var steps: [Step] = []

    init(configuration: STTConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        maxSamples = STTConfiguration.samples(configuration.maxUtterance)
        ringSamples = STTConfiguration.samples(configuration.prerollBuffer)
    }

    /// What to do with `frame`: events to forward and commands for the decoder, in order.
    /// `readAt` is when it was read (for latency figures only).
    mutating func handle(_ frame: Frame, readAt: Duration? = nil) throws -> [Step] {
        steps.removeAll(keepingCapacity: true)
        switch frame {
        case .audio(let chunk):
            audio(chunk, readAt: readAt)
        case .event(let event):
            switch event.type {
            case EventType.audioStart: try audioStart(event, readAt: readAt)
            case EventType.audioStop: audioStop(event, readAt: readAt)
            case EventType.voiceStarted:
                steps.append(.forward(event))
                voiceStarted(event, readAt: readAt)
            case EventType.voiceStopped:
                steps.append(.forward(event))
                voiceStopped(event, readAt: readAt)
            default:
                steps.append(.forward(event))
            }
        }
        return steps
    }

    /// The input is over: an utterance still open is transcribed.
    mutating func finishInput(readAt: Duration? = nil) -> [Step] {
        steps.removeAll(keepingCapacity: true)
        endStretch(stopNs: nil, reason: "end-of-input", readAt: readAt)
        return steps
    }

    // MARK: Audio

    private mutating func audioStart(_ event: Event, readAt: Duration?) throws {
        if stretch != nil { endStretch(stopNs: nil, reason: "audio-start", readAt: readAt) }
        let format = try event.audioFormat().get()
        let converter = format == .pipeline
            ? nil : try SampleConverter(inputRate: format.rate, inputChannels: format.channels, output: .pipeline)
        stretch = Stretch(format: format, origin: event.timestampNanoseconds, converter: converter,
                          ring: AudioRing(capacity: ringSamples))
        let wholeStretch = configuration.segmentation == .stretch || (configuration.segmentation == .auto && !voiceSeen)
        if wholeStretch { openUtterance(.stretch, at: 0) }
    }

    private mutating func audio(_ chunk: AudioChunk, readAt: Duration?) {
        guard stretch != nil else { return }  // FrameReader lets no audio through without an audio-start
        if stretch!.origin == nil { stretch!.origin = chunk.timestamp }
        var samples = convert(chunk.pcm, in: stretch!)
        // Same rate: place the samples where their timestamp says, so a gap or
        // an overlap in the input keeps every later sample at its stream time.
        if stretch!.format.rate == AudioFormat.pipeline.rate {
            let expected = index(of: chunk.timestamp, in: stretch!)
            let end = stretch!.ring.end
            if expected > end {
                logger.debug("gap in the audio; filled with silence", metadata: ["samples": "\(expected - end)"])
                stretch!.ring.appendSilence(expected - end)
            } else if expected < end {
                logger.debug("audio overlaps what came before; overlap dropped", metadata: ["samples": "\(end - expected)"])
                samples.removeFirst(min(samples.count, end - expected))
            }
        }
        stretch!.ring.append(samples)
        feedAvailable(readAt: readAt)
    }

    private mutating func audioStop(_ event: Event, readAt: Duration?) {
        endStretch(stopNs: event.timestampNanoseconds, reason: "audio-stop", readAt: readAt)
    }

    /// Takes the converter's tail, finishes an open utterance and forgets the stretch.
    private mutating func endStretch(stopNs: UInt64?, reason: String, readAt: Duration?) {
        guard stretch != nil else { return }
        if let converter = stretch?.converter {
            var tail: [UInt8] = []
            converter.flush(into: &tail)
            stretch!.ring.append(PCM16.samples(tail))
            feedAvailable(readAt: readAt)
        }
        close(endNs: stopNs ?? endTime, reason: reason, readAt: readAt)
        stretch = nil
    }

    private func convert(_ pcm: [UInt8], in stretch: Stretch) -> [Int16] {
        guard let converter = stretch.converter else { return PCM16.samples(pcm) }
        var out: [UInt8] = []
        converter.convert(pcm: pcm, format: stretch.format, into: &out)
        return PCM16.samples(out)
    }

    // MARK: Voice events

    private mutating func voiceStarted(_ event: Event, readAt: Duration?) {
        voiceSeen = true
        guard configuration.segmentation != .stretch else { return }
        cancelProvisional()
        if open != nil {
            logger.debug("voice-started inside an utterance; the utterance goes on")
            return
        }
        guard let current = stretch else {
            logger.debug("voice-started outside any audio stretch; nothing to transcribe")
            return
        }
        let from = event["preroll_ns"]?.int.flatMap { $0 >= 0 ? UInt64($0) : nil } ?? event.timestampNanoseconds
        var startIndex = from.map { index(of: $0, in: current) } ?? current.ring.end
        if startIndex < current.ring.start {
            logger.debug("pre-roll reaches further back than the buffer; starting at its oldest sample",
                         metadata: ["missing_ms": "\((current.ring.start - startIndex) / 16)"])
            startIndex = current.ring.start
        }
        openUtterance(.voice, at: startIndex)
        feedAvailable(readAt: readAt)
    }

    private mutating func voiceStopped(_ event: Event, readAt: Duration?) {
        voiceSeen = true
        guard configuration.segmentation != .stretch else { return }
        cancelProvisional()
        guard open != nil else { return }
        close(endNs: event.timestampNanoseconds ?? endTime, reason: event["reason"]?.string ?? "voice-stopped",
              readAt: readAt)
    }

    /// In auto mode, the first voice event shows a VAD upstream: the stretch
    /// being decoded as one utterance is dropped, voice events take over.
    private mutating func cancelProvisional() {
        guard let current = open, current.kind == .stretch else { return }
        logger.debug("voice events upstream: utterances follow voice-started and voice-stopped from here on")
        open = nil
        steps.append(.decode(.cancel))
    }

    // MARK: Utterances

    private mutating func openUtterance(_ kind: Kind, at index: Int) {
        open = Open(kind: kind, startIndex: index, fedUpTo: index)
        steps.append(.decode(.start(Utterance(id: nextID, startNs: time(of: index)))))
        nextID += 1
    }

    /// Sends the open utterance the audio it has not had yet, cutting it at `maxUtterance`.
    private mutating func feedAvailable(readAt: Duration?) {
        guard let ring = stretch?.ring else { return }
        while let current = open, current.fedUpTo < ring.end {
            let from = max(current.fedUpTo, ring.start)
            let limit = current.startIndex + maxSamples
            let to = min(ring.end, limit)
            if to > from { steps.append(.decode(.feed(ring.samples(from..<to)))) }
            open?.fedUpTo = to
            guard to == limit else { break }
            logger.info("utterance reached the maximum length; transcribing it and starting another",
                        metadata: ["max_s": "\(configuration.maxUtterance)"])
            close(endNs: time(of: limit), reason: "max-utterance", readAt: readAt)
            openUtterance(current.kind, at: limit)
        }
    }

    private mutating func close(endNs: UInt64, reason: String, readAt: Duration?) {
        guard open != nil else { return }
        open = nil
        steps.append(.decode(.finish(UtteranceEnd(endNs: endNs, reason: reason, readAt: readAt))))
    }

    // MARK: Stream time

    /// Stream time just after the newest sample of the stretch.
    private var endTime: UInt64 { stretch.map { time(of: $0.ring.end) } ?? 0 }

    private func time(of index: Int) -> UInt64 {
        (stretch?.origin ?? 0) + AudioFormat.pipeline.nanoseconds(forFrames: index)
    }

    /// The 16 kHz sample index of stream time `ns` (sample-accurate: the nearest sample).
    private func index(of ns: UInt64, in stretch: Stretch) -> Int {
        let origin = stretch.origin ?? ns
        return ns <= origin ? 0 : AudioFormat.pipeline.frames(forNanoseconds: ns - origin)
    }
}
