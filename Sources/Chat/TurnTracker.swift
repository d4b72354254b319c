import VXShared

/// Follows the events that reach the end of the pipeline and turns them into what the chat shows
/// and measures: its phase, the partial transcript and streaming reply, one `TurnRecord` per turn,
/// barge-in figures, and the feedback the stages upstream need (`playing`/`played` for vx-vad,
/// `heard` for vx-llm).
///
/// It is a plain value fed one event at a time with the instant it arrived (monotonic clock), so
/// tests can drive it with made-up times.
public struct TurnTracker: Sendable {
    public enum Phase: String, Sendable {
        case listening
        case hearing = "hearing you"
        case thinking
        case speaking
    }

    public enum Action: Sendable, Equatable {
        /// Feedback for vx-vad (playback is audible / has ended).
        case toVAD(Event)
        /// Feedback for vx-llm (what the user heard of an interrupted reply).
        case toLLM(Event)
        case turn(TurnRecord)
        case bargeIn(BargeInRecord)
        case phase(Phase)
        case partial(String)
        case reply(String)
        case pong(String)
        case error(String)
    }

    /// A user turn from its final transcript until its reply's first sample is played.
    private struct Pending {
        var index: Int
        var text: String
        var endAt: Duration
        var decidedAt: Duration
        var silence: Double
        var transcriptAt: Duration
        var sttFinal: Double?
        var replyID: String?
        var firstTokenAt: Duration?
        var lastEngineMs: Double?
        var llmEngine: Double?
        var firstSpokenAt: Duration?
        var ttsSynth: Double?
        var replyText = ""
    }

    /// A sentence of the assistant's and where its audio lies on vx-tts's output clock.
    private struct Span {
        var text: String
        var start: UInt64
        var end: UInt64
        var id: String?
    }

    public private(set) var phase = Phase.listening
    public private(set) var turns = 0
    public private(set) var records: [TurnRecord] = []
    public private(set) var bargeIns: [BargeInRecord] = []
    private var utteranceOpen = false
    /// The last voice-stopped: the end of speech and the decision on the monotonic clock, and the window.
    private var lastStop: (endAt: Duration, decidedAt: Duration, silence: Double, at: Duration)?
    private var pending: [Pending] = []
    private var spans: [Span] = []
    private var replyOpen: String?
    private var replyText = ""
    private var playing = false
    private var interruptOnset: Duration?
    public private(set) var lastEventAt: Duration = .zero

    public init() {}

    /// True when nothing is under way: no one speaking, every transcript answered and every reply played.
    public var isIdle: Bool { !utteranceOpen && pending.isEmpty && replyOpen == nil && !playing }

    /// Idle, and no utterance ended in the last 5 s without its transcript (an utterance that was
    /// only noise gets none).
    public func isIdle(at now: Duration) -> Bool {
        isIdle && (lastStop.map { now - $0.at > .seconds(5) } ?? true)
    }

    public mutating func handle(_ event: Event, at now: Duration) -> [Action] {
        lastEventAt = now
        var actions: [Action] = []
        func setPhase(_ p: Phase) {
            if p != phase { phase = p; actions.append(.phase(p)) }
        }
        switch event.type {
        case EventType.voiceStarted:
            utteranceOpen = true
            setPhase(.hearing)
            actions.append(.partial(""))
        case EventType.transcriptChunk:
            actions.append(.partial(event["text"]?.string ?? ""))
        case EventType.voiceStopped:
            utteranceOpen = false
            let decidedAt = Self.decisionInstant(event, arrival: now)
            let window = Self.window(event)
            lastStop = (decidedAt - .nanoseconds(Int64(window)), decidedAt, Double(window) / 1e6, now)
            if pending.isEmpty && replyOpen == nil { setPhase(playing ? .speaking : .listening) }
        case EventType.transcript:
            let text = event["text"]?.string ?? ""
            guard !text.isEmpty else { break }
            turns += 1
            let stop = lastStop ?? (now, now, 0, now)
            lastStop = nil
            pending.append(Pending(index: turns, text: text, endAt: stop.endAt, decidedAt: stop.decidedAt, silence: stop.silence,
                                   transcriptAt: now, sttFinal: event["final_ms"]?.double))
            actions.append(.partial(text))
            setPhase(.thinking)
        case EventType.replyChunk:
            let id = event["id"]?.string ?? ""
            if replyOpen != id {
                replyOpen = id
                replyText = ""
                // Transcripts that came while a reply streamed are answered together: the newest one
                // carries the turn, the others are merged into it.
                if let last = pending.lastIndex(where: { $0.replyID == nil }) {
                    let merged = pending[..<last].filter { $0.replyID == nil }.map(\.text)
                    let keep = pending[last].index
                    pending.removeAll { $0.replyID == nil && $0.index != keep }
                    if let i = pending.lastIndex(where: { $0.replyID == nil }) {
                        pending[i].replyID = id
                        pending[i].firstTokenAt = now
                        if !merged.isEmpty { pending[i].text = (merged + [pending[i].text]).joined(separator: " ") }
                    }
                }
            }
            replyText += event["text"]?.string ?? ""
            if let i = pending.firstIndex(where: { $0.replyID == id }) {
                pending[i].lastEngineMs = event["engine_ms"]?.double ?? pending[i].lastEngineMs
                pending[i].replyText = replyText
            }
            actions.append(.reply(replyText))
        case ChatEvent.spoken:
            guard let start = event.timestampNanoseconds, let end = event["end_ns"]?.int, end >= 0 else { break }
            let id = event["id"]?.string ?? replyOpen
            spans.append(Span(text: event["text"]?.string ?? "", start: start, end: UInt64(end), id: id))
            if let i = pending.firstIndex(where: { $0.replyID != nil && $0.replyID == id && $0.firstSpokenAt == nil }) {
                pending[i].firstSpokenAt = now
                pending[i].llmEngine = pending[i].lastEngineMs
                pending[i].ttsSynth = event["synth_ms"]?.double
            }
        case ChatEvent.playing:
            playing = true
            actions.append(.toVAD(event))
            setPhase(.speaking)
            if let i = pending.firstIndex(where: { $0.firstSpokenAt != nil }) {
                let record = Self.record(pending[i], playedAt: now)
                records.append(record)
                pending.remove(at: i)
                actions.append(.turn(record))
            }
        case EventType.reply:
            let id = event["id"]?.string
            // A sentence is complete only once the text after it (or the end of the reply) has come:
            // when the reply ends before the first sentence is spoken, the model's time runs to its end.
            if let i = pending.firstIndex(where: { $0.replyID != nil && $0.replyID == id && $0.firstSpokenAt == nil }),
               let total = event["engine_ms"]?.double {
                pending[i].lastEngineMs = total
            }
            if event["interrupted"]?.bool == true {
                // A reply cut before any of it played has no latency to report.
                pending.removeAll { $0.replyID != nil && $0.replyID == id }
            }
            if replyOpen == id || id == nil { replyOpen = nil }
            if let text = event["text"]?.string, !text.isEmpty { actions.append(.reply(text)) }
            if !playing && pending.isEmpty { setPhase(utteranceOpen ? .hearing : .listening) }
        case EventType.played:
            playing = false
            actions.append(.toVAD(event))
            if event["interrupted"]?.bool == true {
                let end = UInt64(max(0, event["end_ns"]?.int ?? 0))
                let stretchStart = event.timestampNanoseconds ?? 0
                let (heard, id) = heardText(stretchStart: stretchStart, end: end, samples: event["samples"]?.int ?? 0)
                var data: [String: JSONValue] = ["text": .string(heard)]
                if let id { data["id"] = .string(id) }
                actions.append(.toLLM(Event(ChatEvent.heard, data)))
                if let onset = interruptOnset {
                    let record = BargeInRecord(onsetToSilence: Self.milliseconds(now - onset), heard: heard)
                    bargeIns.append(record)
                    actions.append(.bargeIn(record))
                }
                spans.removeAll()
            } else if let end = event["end_ns"]?.int {
                spans.removeAll { $0.end <= UInt64(max(0, end)) }
            }
            interruptOnset = nil
            if pending.isEmpty && replyOpen == nil { setPhase(utteranceOpen ? .hearing : .listening) }
        case EventType.interrupt:
            guard let onset = event.timestampNanoseconds, let decided = event["decided_ns"]?.int, decided >= 0 else { break }
            let decidedAt = Self.decisionInstant(event, arrival: now)
            interruptOnset = decidedAt - .nanoseconds(Int64(UInt64(decided) &- min(onset, UInt64(decided))))
        case EventType.pong:
            actions.append(.pong(event["text"]?.string ?? ""))
        case EventType.error:
            actions.append(.error(event["text"]?.string ?? "error"))
        default:
            break
        }
        return actions
    }

    /// What the user heard of the interrupted stretch: the sentences whose audio ended before `end`,
    /// and of the one cut, as many words as the share of its audio played.
    private func heardText(stretchStart: UInt64, end: UInt64, samples: Int) -> (String, String?) {
        let mine = spans.filter { $0.start >= stretchStart }
        let id = mine.last?.id ?? spans.last?.id
        guard samples > 0 else { return ("", id) }
        var words: [Substring] = []
        for span in mine {
            if span.end <= end {
                words += span.text.split(separator: " ")
            } else if span.start < end {
                let all = span.text.split(separator: " ")
                let share = Double(end - span.start) / Double(max(1, span.end - span.start))
                words += all.prefix(Int((share * Double(all.count)).rounded(.down)))
            }
        }
        return (words.joined(separator: " "), id)
    }

    /// When the stage decided: its own monotonic stamp (`clock_ns`) when it sent one, else when the
    /// event arrived here.
    private static func decisionInstant(_ event: Event, arrival: Duration) -> Duration {
        if let clock = event["clock_ns"]?.int, clock > 0 { return .nanoseconds(clock) }
        return arrival
    }

    /// `decided_ns − timestamp_ns`: how long after the real end (or onset) the stage decided.
    private static func window(_ event: Event) -> UInt64 {
        guard let at = event.timestampNanoseconds, let decided = event["decided_ns"]?.int, decided >= 0,
              UInt64(decided) >= at else { return 0 }
        return UInt64(decided) - at
    }

    private static func record(_ p: Pending, playedAt: Duration) -> TurnRecord {
        let toTranscript = milliseconds(p.transcriptAt - p.decidedAt)
        let toFirstToken = milliseconds((p.firstTokenAt ?? p.transcriptAt) - p.transcriptAt)
        let toFirstAudio = milliseconds((p.firstSpokenAt ?? playedAt) - (p.firstTokenAt ?? p.transcriptAt))
        let toFirstPlayed = milliseconds(playedAt - (p.firstSpokenAt ?? playedAt))
        let v2v = milliseconds(playedAt - p.decidedAt)
        var engines: Double?
        if let stt = p.sttFinal, let llm = p.llmEngine, let tts = p.ttsSynth { engines = stt + llm + tts }
        return TurnRecord(index: p.index, text: p.text, reply: p.replyText, playedAt: playedAt, silenceWindow: p.silence,
                          toTranscript: toTranscript, toFirstToken: toFirstToken, toFirstAudio: toFirstAudio,
                          toFirstPlayed: toFirstPlayed, voiceToVoice: v2v, voiceToVoiceWithSilence: v2v + p.silence,
                          engines: engines)
    }

    static func milliseconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}

/// Events of the chat that VXShared does not name (their stages' modules do).
enum ChatEvent {
    /// vx-tts: a sentence and where its audio lies on the output clock.
    static let spoken = "spoken"
    /// vx-play: a stretch's first sample is being played.
    static let playing = "playing"
    /// What the user heard of a reply (supervisor → vx-llm, on its feedback input).
    static let heard = "heard"
}
