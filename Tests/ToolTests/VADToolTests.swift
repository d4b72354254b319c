import Foundation
import Testing
import VXShared

/// vx-vad run as a user runs it, behind vx-capture, on speech made with flite
/// and padded and mixed with sox, so the truth is known.
///
/// Where the speech is: flite's output is normalised to a -1 dBFS peak and
/// trimmed with sox `silence 1 0.03 -35d` from the front and (reversed) from
/// the back: the onset is what the front trim removes, the end what the back
/// trim keeps, i.e. the first and last 30 ms stretch above 35 dB under the
/// peak. The speech is then padded with digital silence of known length.
@Suite(.serialized) struct VADToolTests {
    /// How far vx-vad's onset and end may be from the speech's.
    static let tolerance = 0.120
    let dir: URL
    init() throws { dir = try Tool.temporaryDirectory() }

    // MARK: Made audio

    struct Speech {
        var url: URL
        var onset: Double  // seconds into the file
        var end: Double
    }

    func sox(_ arguments: [String]) throws {
        let result = try Tool.shell(["sox"] + arguments)
        try #require(result.status == 0, "sox \(arguments.joined(separator: " ")): \(result.stderr)")
    }

    func seconds(_ url: URL) throws -> Double {
        let result = try Tool.shell(["soxi", "-D", url.path])
        return try #require(Double(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func file(_ name: String) -> URL { dir.appendingPathComponent(name) }

    /// A sentence from flite (the kal voice speaks at 8 kHz), with where its speech begins and ends.
    func speech(_ text: String, voice: String = "kal") throws -> Speech {
        let url = file("speech-\(UUID().uuidString.prefix(6)).wav")
        let made = try Tool.shell(["flite", "-voice", voice, "-t", text, "-o", url.path])
        try #require(made.status == 0, "flite: \(made.stderr)")
        let normalised = file("norm.wav"), front = file("front.wav"), back = file("back.wav")
        try sox([url.path, normalised.path, "norm", "-1"])
        try sox([normalised.path, front.path, "silence", "1", "0.03", "-35d"])
        try sox([normalised.path, back.path, "reverse", "silence", "1", "0.03", "-35d", "reverse"])
        return Speech(url: url, onset: try seconds(url) - seconds(front), end: try seconds(back))
    }

    /// Digital silence in the speech's format (8 kHz mono 16-bit).
    func silence(_ seconds: Double) throws -> URL {
        let url = file("silence-\(seconds).wav")
        try sox(["-n", "-r", "8000", "-c", "1", "-b", "16", url.path, "trim", "0", "\(seconds)"])
        return url
    }

    /// Speech and silences in a row; returns the file and the speeches' (onset, end) in it.
    func sequence(_ parts: [Either]) throws -> (URL, [(onset: Double, end: Double)]) {
        var paths: [String] = [], truths: [(Double, Double)] = [], at = 0.0
        for part in parts {
            switch part {
            case .silence(let s):
                paths.append(try silence(s).path)
                at += s
            case .speech(let speech):
                paths.append(speech.url.path)
                truths.append((at + speech.onset, at + speech.end))
                at += try seconds(speech.url)
            }
        }
        let url = file("sequence-\(UUID().uuidString.prefix(6)).wav")
        try sox(paths + [url.path])
        return (url, truths)
    }

    enum Either {
        case silence(Double)
        case speech(Speech)
    }

    enum Noise: String, CaseIterable, CustomTestStringConvertible {
        case pink, brown, white, hum
        var testDescription: String { rawValue }
    }

    /// `seconds` of repeatable noise at 8 kHz: pink/brown/white at `amplitude`, or
    /// mains hum (50 Hz at `amplitude`, its 3rd and 5th harmonics 30 and 35 dB under).
    func noise(_ kind: Noise, seconds: Double, amplitude: Double) throws -> URL {
        let url = file("noise-\(kind)-\(UUID().uuidString.prefix(6)).wav")
        let base = ["-R", "-n", "-r", "8000", "-c", "1", "-b", "16"]
        switch kind {
        case .hum:
            var parts: [URL] = []
            for (i, (frequency, level)) in [(50.0, amplitude), (150.0, amplitude / 31.6), (250.0, amplitude / 56.2)].enumerated() {
                let part = file("tone\(i).wav")
                try sox(base + [part.path, "synth", "\(seconds)", "sine", "\(frequency)", "vol", "\(level)"])
                parts.append(part)
            }
            try sox(["-m"] + parts.flatMap { ["-v", "1", $0.path] } + [url.path])
        default:
            try sox(base + [url.path, "synth", "\(seconds)", "\(kind)noise", "vol", "\(amplitude)"])
        }
        return url
    }

    /// `clean` with noise mixed in at `snr` dB under the speech's RMS level (over its speech only).
    func mix(_ clean: URL, speech: Speech, noise kind: Noise, snr: Double) throws -> URL {
        let active = file("active.wav")
        try sox([speech.url.path, active.path, "trim", "\(speech.onset)", "=\(speech.end)"])
        let speechRMS = try TestAudio.stat(active, "RMS     amplitude")
        let raw = try noise(kind, seconds: try seconds(clean), amplitude: 0.1)
        let noiseRMS = try TestAudio.stat(raw, "RMS     amplitude")
        let scaled = file("scaled.wav"), out = file("mixed-\(kind).wav")
        try sox(["-v", "\(speechRMS / pow(10, snr / 20) / noiseRMS)", raw.path, scaled.path])
        try sox(["-m", "-v", "1", clean.path, "-v", "1", scaled.path, out.path])
        return out
    }

    // MARK: Running it

    struct Run {
        var capture: [Frame]
        var output: [Frame]
        var status: Int32
        var stderr: String
        var voice: [Event] { output.compactMap(\.event).filter { $0.type.hasPrefix("voice-") } }
        /// What vx-vad inserted: voice events and its interrupts.
        var inserted: [Event] { output.compactMap(\.event).filter(VADToolTests.isInserted) }
    }

    static func isInserted(_ event: Event) -> Bool { event.type.hasPrefix("voice-") || event.type == "interrupt" }

    /// `vx-capture FILE | vx-vad ARGS`, and vx-capture's output on its own for comparison.
    func vad(_ url: URL, _ arguments: [String] = [], capture: [String] = []) throws -> Run {
        let captured = try Tool.run("vx-capture", capture + [url.path])
        try #require(captured.status == 0, "vx-capture: \(captured.stderr)")
        let result = try Tool.run("vx-vad", arguments, stdin: captured.stdout)
        return Run(capture: try decodeFrames(captured.stdout), output: try decodeFrames(result.stdout),
                   status: result.status, stderr: result.stderr)
    }

    static func time(_ event: Event) -> Double { Double(event.timestampNanoseconds ?? .max) / 1e9 }

    /// Checks one utterance against the truth and the stream rules; returns its errors (onset, end) in ms.
    @discardableResult
    static func check(_ started: Event, _ stopped: Event, against truth: (onset: Double, end: Double),
                      preRoll: Double = 0.4, stretchStart: Double = 0,
                      sourceLocation: SourceLocation = #_sourceLocation) -> (Int, Int) {
        #expect(started.type == "voice-started" && stopped.type == "voice-stopped", sourceLocation: sourceLocation)
        let onset = time(started), end = time(stopped)
        #expect(abs(onset - truth.onset) <= tolerance, "onset \(onset) s, speech begins at \(truth.onset) s",
                sourceLocation: sourceLocation)
        #expect(abs(end - truth.end) <= tolerance, "end \(end) s, speech ends at \(truth.end) s", sourceLocation: sourceLocation)
        #expect(started["timestamp"]?.int == started["timestamp_ns"]?.int.map { $0 / 1_000_000 }, sourceLocation: sourceLocation)
        let preroll = Double(started["preroll_ns"]?.int ?? -1) / 1e9
        #expect(abs(preroll - max(stretchStart, onset - preRoll)) < 1e-9, "preroll_ns \(preroll) s for onset \(onset) s",
                sourceLocation: sourceLocation)
        return (Int(((onset - truth.onset) * 1000).rounded()), Int(((end - truth.end) * 1000).rounded()))
    }

    /// vx-vad forwards vx-capture's frames unchanged and in order; it only inserts voice events.
    static func expectForwarded(_ run: Run, sourceLocation: SourceLocation = #_sourceLocation) {
        let forwarded = run.output.filter { !($0.event.map(isInserted) ?? false) }
        #expect(forwarded == run.capture, "\(forwarded.count) frames forwarded of \(run.capture.count)",
                sourceLocation: sourceLocation)
        let bytes = { (frames: [Frame]) in frames.reduce(0) { $0 + FrameEncoder.encode($1).count } }
        #expect(bytes(forwarded) == bytes(run.capture), sourceLocation: sourceLocation)
    }

    /// Each inserted event's `decided_ns` is the stream time just after the audio frame it follows, not before its `timestamp_ns`.
    static func expectDecided(_ run: Run, sourceLocation: SourceLocation = #_sourceLocation) {
        for (index, frame) in run.output.enumerated() {
            guard let event = frame.event, isInserted(event) else { continue }
            let last = run.output[..<index].last { $0.audio != nil }?.audio
            let end = last.map { $0.timestamp + UInt64($0.pcm.count / 2) * 62_500 }  // 16 kHz mono from vx-capture
            let decided = event["decided_ns"]?.int.map(UInt64.init)
            #expect(decided != nil && decided == end, "\(event.jsonText) after audio ending at \(end ?? 0)", sourceLocation: sourceLocation)
            #expect((decided ?? 0) >= (event.timestampNanoseconds ?? .max), "\(event.jsonText)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Speech

    static let sentence = "Please turn on the lights in the kitchen."

    @Test(arguments: ["webrtc", "energy"])
    func findsACleanUtteranceWithItsRealOnsetAndEnd(engine: String) throws {
        let speech = try speech(Self.sentence)
        let (url, truths) = try sequence([.silence(1.0), .speech(speech), .silence(1.0)])
        let run = try vad(url, ["--engine", engine])
        #expect(run.status == 0, "\(run.stderr)")
        try #require(run.voice.count == 2, "\(run.voice.map(\.jsonText))")
        Self.check(run.voice[0], run.voice[1], against: truths[0])
        #expect(run.voice[1]["reason"] == "silence")
        Self.expectForwarded(run)
        // Each event comes after the audio that decided it: past the onset by min-speech,
        // past the end by min-silence; and voice-stopped before the audio-stop.
        let audioBefore = { (event: Event) -> Double in
            let index = run.output.firstIndex { $0.event == event }!
            let last = run.output[..<index].last { $0.audio != nil }!.audio!
            return Double(last.timestamp) / 1e9 + Double(last.pcm.count / 2) / 16_000
        }
        #expect(audioBefore(run.voice[0]) >= Self.time(run.voice[0]) + 0.2)
        #expect(audioBefore(run.voice[1]) >= Self.time(run.voice[1]) + 0.6)
        #expect(run.output.last?.event?.type == "audio-stop")
        Self.expectDecided(run)
    }

    @Test(arguments: [(Noise.pink, 15.0), (Noise.brown, 15.0), (Noise.white, 15.0), (Noise.hum, 0.0)])
    func findsTheUtteranceInNoise(noise: Noise, snr: Double) throws {
        let speech = try speech(Self.sentence)
        let (clean, truths) = try sequence([.silence(1.5), .speech(speech), .silence(1.2)])
        let url = try mix(clean, speech: speech, noise: noise, snr: snr)
        let run = try vad(url)
        #expect(run.status == 0, "\(run.stderr)")
        try #require(run.voice.count == 2, "\(run.voice.map(\.jsonText))")
        Self.check(run.voice[0], run.voice[1], against: truths[0])
        Self.expectForwarded(run)
    }

    @Test(arguments: Noise.allCases)
    func silenceAndSteadyNoiseStartNothing(kind: Noise) throws {
        // Loud steady sounds: about -24 dBFS of noise, a -13 dBFS hum.
        let url = try noise(kind, seconds: 8, amplitude: kind == .hum ? 0.3 : 0.1)
        for source in [url, try silence(8)] {
            let run = try vad(source)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.voice.isEmpty, "\(source.lastPathComponent): \(run.voice.map(\.jsonText))")
            #expect(run.output == run.capture)
        }
    }

    @Test func twoUtterancesGiveTwoPairsInOrder() throws {
        let first = try speech(Self.sentence)
        let second = try speech("Remind me to call my sister at six o'clock this evening.")
        let (url, truths) = try sequence([.silence(1.0), .speech(first), .silence(1.5), .speech(second), .silence(1.0)])
        let run = try vad(url)
        #expect(run.status == 0, "\(run.stderr)")
        try #require(run.voice.map(\.type) == ["voice-started", "voice-stopped", "voice-started", "voice-stopped"],
                     "\(run.voice.map(\.jsonText))")
        Self.check(run.voice[0], run.voice[1], against: truths[0])
        Self.check(run.voice[2], run.voice[3], against: truths[1])
        Self.expectForwarded(run)
    }

    @Test func otherCaptureFormatsAreAnalysedAlikeAndForwardedUntouched() throws {
        let speech = try speech(Self.sentence)
        let (url, truths) = try sequence([.silence(1.0), .speech(speech), .silence(1.0)])
        let pipeline = try vad(url)
        let wide = try vad(url, capture: ["--rate", "48000", "--channels", "2", "--width", "4"])
        #expect(wide.status == 0, "\(wide.stderr)")
        try #require(wide.voice.count == 2, "\(wide.voice.map(\.jsonText))")
        Self.check(wide.voice[0], wide.voice[1], against: truths[0])
        Self.expectForwarded(wide)
        // The analysis copy is converted to 16 kHz mono: the same decisions within a frame.
        for (a, b) in zip(wide.voice, pipeline.voice) { #expect(abs(Self.time(a) - Self.time(b)) <= 0.010) }
    }

    @Test func maxUtteranceCutsAndDetectionGoesOn() throws {
        let speech = try speech("Remind me to call my sister at six o'clock this evening.")
        let (url, truths) = try sequence([.silence(1.0), .speech(speech), .silence(1.0)])
        let run = try vad(url, ["--max-utterance", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let types = run.voice.map(\.type)
        try #require(types.count >= 4 && types.count % 2 == 0, "\(run.voice.map(\.jsonText))")
        #expect(types == Array(repeating: ["voice-started", "voice-stopped"], count: types.count / 2).flatMap { $0 })
        #expect(run.voice[1]["reason"] == "max-utterance")
        #expect(abs(Self.time(run.voice[1]) - Self.time(run.voice[0]) - 1.0) < 0.011)
        // The next utterance needs min-speech again, from the cut on.
        #expect(Self.time(run.voice[2]) >= Self.time(run.voice[1]))
        #expect(run.voice.last?["reason"] == "silence")
        #expect(abs(Self.time(run.voice.last!) - truths[0].end) <= Self.tolerance)
        Self.expectForwarded(run)
    }

    @Test func speechRunningIntoTheEndOfTheStretchIsClosedBeforeAudioStop() throws {
        let speech = try speech(Self.sentence)
        let cut = file("cut.wav")
        try sox([speech.url.path, cut.path, "trim", "0", "\(speech.onset + 1.0)"])
        let (url, truths) = try sequence([.silence(1.0), .speech(Speech(url: cut, onset: speech.onset, end: speech.onset + 1.0))])
        let run = try vad(url)
        #expect(run.status == 0, "\(run.stderr)")
        let events = run.output.compactMap(\.event)
        #expect(events.map(\.type) == ["audio-start", "voice-started", "voice-stopped", "audio-stop"])
        try #require(run.voice.count == 2)
        #expect(run.voice[1]["reason"] == "audio-stop")
        Self.check(run.voice[0], run.voice[1], against: truths[0])
        Self.expectForwarded(run)
    }

    @Test func sigtermInsideAnUtteranceClosesItAndTheStretch() throws {
        let speech = try speech(Self.sentence)
        let (url, _) = try sequence([.silence(1.0), .speech(speech)])
        let captured = try Tool.run("vx-capture", [url.path])
        var frames = try decodeFrames(captured.stdout)
        let stop = frames.removeLast()  // upstream still going: no audio-stop, stdin stays open
        #expect(stop.event?.type == "audio-stop")
        let vad = try RunningTool("vx-vad", [])
        vad.write(Data(frames.flatMap { FrameEncoder.encode($0) }))
        // Wait until it has forwarded all the audio and said speech started, then stop it as the supervisor would.
        let audio = frames.filter { $0.audio != nil }.count
        #expect(vad.waitForOutput { data in
            guard let out = try? decodeFrames(data) else { return false }
            return out.contains { $0.event?.type == "voice-started" } && out.filter { $0.audio != nil }.count == audio
        })
        vad.signal(SIGTERM)
        let result = vad.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let output = try decodeFrames(result.stdout)
        #expect(output.suffix(2).compactMap(\.event).map(\.type) == ["voice-stopped", "audio-stop"])
        #expect(output.last?.event?.timestampNanoseconds == stop.event?.timestampNanoseconds)
    }

    // MARK: Barge-in and the feedback path

    /// The assistant's reply heard back through the microphone: flite `voice` at 16 kHz played at a
    /// -12 dBFS peak, 6 dB quieter at the microphone and 40 ms late (optionally with the room's reverb),
    /// then 1 s of the room. Returns the file and its peak amplitude.
    func echo(_ text: String, voice: String = "kal16", reverb: Bool = false) throws -> (url: URL, peak: Double) {
        let tts = file("tts-\(UUID().uuidString.prefix(6)).wav"), url = file("echo-\(UUID().uuidString.prefix(6)).wav")
        let made = try Tool.shell(["flite", "-voice", voice, "-t", text, "-o", tts.path])
        try #require(made.status == 0, "flite: \(made.stderr)")
        try sox([tts.path, "-r", "16000", url.path, "norm", "-12", "gain", "-6"] + (reverb ? ["reverb", "40", "50", "60"] : [])
                + ["pad", "0.04", "1.0"])
        return (url, try TestAudio.stat(url, "Maximum amplitude"))
    }

    /// The user (flite slt) saying `text` over `echo`, starting `at` seconds into it, with a peak `over` dB
    /// above the echo's. Returns the mix and where the user's speech begins in it.
    func userOver(_ echo: (url: URL, peak: Double), _ text: String, at: Double, over: Double) throws -> (url: URL, onset: Double) {
        let user = try speech(text, voice: "slt")
        let placed = file("user-\(UUID().uuidString.prefix(6)).wav"), url = file("mix-\(UUID().uuidString.prefix(6)).wav")
        try sox([user.url.path, "-r", "16000", placed.path, "norm", "\(20 * log10(echo.peak) + over)", "pad", "\(at)"])
        try sox(["-m", "-v", "1", echo.url.path, "-v", "1", placed.path, url.path])
        return (url, at + user.onset)
    }

    /// 16 kHz room silence before playback starts, then `url`.
    func afterRoom(_ url: URL, seconds: Double = 1.0) throws -> URL {
        let room = file("room.wav"), out = file("mic-\(UUID().uuidString.prefix(6)).wav")
        try sox(["-n", "-r", "16000", "-c", "1", "-b", "16", room.path, "trim", "0", "\(seconds)"])
        try sox([room.path, url.path, out.path])
        return out
    }

    static func encode<C: Collection>(_ frames: C) -> Data where C.Element == Frame {
        Data(frames.flatMap { FrameEncoder.encode($0) })
    }

    static func audioCount(_ data: Data) -> Int { ((try? decodeFrames(data)) ?? []).filter { $0.audio != nil }.count }

    /// `vx-capture FILE | vx-vad --feedback listen:SOCKET ARGS`, playing vx-play's part on the feedback
    /// socket: once vx-vad has forwarded the audio before `playingAt` seconds, `playing` goes to it; once it
    /// has read that, the rest of the audio follows. Nothing depends on how fast anything runs.
    func vadOverPlayback(_ url: URL, playingAt: Double, _ arguments: [String]) throws -> Run {
        let captured = try Tool.run("vx-capture", [url.path])
        try #require(captured.status == 0, "vx-capture: \(captured.stderr)")
        let frames = try decodeFrames(captured.stdout)
        let split = try #require(frames.firstIndex { ($0.audio?.timestamp ?? 0) >= UInt64(playingAt * 1e9) })
        let socket = dir.appendingPathComponent("run/vad-feedback.sock").path
        let vad = try RunningTool("vx-vad", ["--feedback", "listen:\(socket)", "--log-level", "debug"] + arguments)
        vad.write(Self.encode(frames[..<split]))
        let before = frames[..<split].filter { $0.audio != nil }.count
        #expect(vad.waitForOutput { Self.audioCount($0) == before })
        let peer = try FeedbackPeer(socket)
        peer.send(Event("playing", ["timestamp": 0, "timestamp_ns": 0]))
        #expect(vad.waitForErrors { $0.contains("event=playing") })
        vad.write(Self.encode(frames[split...]))
        vad.closeInput()
        let result = vad.finish()
        peer.close()
        return Run(capture: frames, output: try decodeFrames(result.stdout), status: result.status, stderr: result.stderr)
    }

    static let reply = "Sure. The weather tomorrow will be sunny with a high of twenty three degrees."
    static let objection = "No, wait. Tell me about tomorrow instead."

    @Test func bargeInWithoutPlaybackInterruptsOncePerUtteranceRightAfterVoiceStarted() throws {
        let first = try speech(Self.sentence)
        let second = try speech("Remind me to call my sister at six o'clock this evening.")
        let (url, truths) = try sequence([.silence(1.0), .speech(first), .silence(1.5), .speech(second), .silence(1.0)])
        let run = try vad(url, ["--barge-in"])
        #expect(run.status == 0, "\(run.stderr)")
        try #require(run.inserted.map(\.type) == [
            "voice-started", "interrupt", "voice-stopped", "voice-started", "interrupt", "voice-stopped",
        ], "\(run.inserted.map(\.jsonText))")
        for (started, interrupt) in [(run.inserted[0], run.inserted[1]), (run.inserted[3], run.inserted[4])] {
            #expect(interrupt["reason"] == "voice")
            #expect(interrupt["timestamp_ns"] == started["timestamp_ns"] && interrupt["timestamp"] == started["timestamp"])
            #expect(interrupt["decided_ns"] == started["decided_ns"])
            // Right after its voice-started, in the stream.
            let index = run.output.firstIndex { $0.event == started }!
            #expect(run.output[index + 1].event == interrupt)
        }
        Self.check(run.inserted[0], run.inserted[2], against: truths[0])
        Self.check(run.inserted[3], run.inserted[5], against: truths[1])
        Self.expectForwarded(run)
        Self.expectDecided(run)
    }

    @Test(arguments: [100, 60])
    func bargeInOverPlaybackComesAfterBargeInSpeechBeforeVoiceStarted(milliseconds: Int) throws {
        let echo = try echo(Self.reply)
        let (mix, onset) = try userOver(echo, Self.objection, at: 1.5, over: 15)
        let run = try vadOverPlayback(try afterRoom(mix), playingAt: 1.0, ["--barge-in", "--barge-in-speech", "\(milliseconds)"])
        #expect(run.status == 0, "\(run.stderr)")
        try #require(run.inserted.count >= 2 && run.inserted[0].type == "interrupt" && run.inserted[1].type == "voice-started",
                     "\(run.inserted.map(\.jsonText))")
        let interrupt = run.inserted[0]
        #expect(run.inserted.filter { $0.type == "interrupt" }.count == 1)
        #expect(abs(Self.time(interrupt) - (1.0 + onset)) <= Self.tolerance, "interrupt at \(Self.time(interrupt)) s, user from \(1.0 + onset) s")
        let took = Double((interrupt["decided_ns"]?.int ?? 0) - (interrupt["timestamp_ns"]?.int ?? 0)) / 1e6
        #expect(took >= Double(milliseconds) && took < Double(milliseconds) + 20, "decided \(took) ms after the onset")
        #expect(run.stderr.contains("over_playback=true"))
        Self.expectForwarded(run)
        Self.expectDecided(run)
    }

    /// The measurement the echo gate answers to: replies heard back through the microphone while
    /// the feedback says playback is audible start nothing; the user clearly louder over them interrupts.
    @Test func echoOfTheAssistantNeitherStartsATurnNorInterruptsButTheUserOverItDoes() throws {
        let replies: [(String, String, Bool)] = [
            (Self.reply, "kal16", false),
            ("I have set a timer for ten minutes. Anything else I can help you with?", "kal16", true),
            ("Here is a recipe for pancakes: flour, milk, eggs and a pinch of salt.", "slt", false),
            ("The capital of Australia is Canberra, not Sydney, as many people think.", "slt", true),
        ]
        var runs = 0, echoTurns = 0, falseStarts = 0, falseInterrupts = 0, bargeIns = 0, late: [String] = []
        for (text, voice, reverb) in replies {
            let echo = try echo(text, voice: voice, reverb: reverb)
            let mic = try afterRoom(echo.url)
            let (mix, onset) = try userOver(echo, Self.objection, at: 1.5, over: 15)
            for engine in ["webrtc", "energy"] {
                runs += 1
                // Without the feedback the echo is speech like any other.
                echoTurns += try vad(mic, ["--barge-in", "--engine", engine]).voice.filter { $0.type == "voice-started" }.count
                let heard = try vadOverPlayback(mic, playingAt: 1.0, ["--barge-in", "--engine", engine])
                #expect(heard.status == 0, "\(heard.stderr)")
                falseStarts += heard.inserted.filter { $0.type == "voice-started" }.count
                falseInterrupts += heard.inserted.filter { $0.type == "interrupt" }.count
                let over = try vadOverPlayback(try afterRoom(mix), playingAt: 1.0, ["--barge-in", "--engine", engine])
                if let first = over.inserted.first, first.type == "interrupt", abs(Self.time(first) - (1.0 + onset)) <= Self.tolerance {
                    bargeIns += 1
                } else {
                    late.append("\(voice)\(reverb ? "+reverb" : "") \(engine): \(over.inserted.map(\.jsonText))")
                }
            }
        }
        print("vx-vad echo gate: \(falseStarts) voice-started and \(falseInterrupts) interrupts from echo alone over \(runs) runs"
              + " (without feedback the same echo started \(echoTurns) turns); the user 15 dB over it interrupted first in \(bargeIns) of \(runs)")
        #expect(echoTurns >= runs)
        #expect(falseStarts == 0 && falseInterrupts == 0)
        #expect(bargeIns == runs, "\(late)")
    }

    @Test func aFeedbackPeerThatGoesAwayLeavesPlaybackInaudibleAndTheNextPeerIsServed() throws {
        let speech = try speech(Self.sentence)
        let (url, truths) = try sequence([.silence(1.0), .speech(speech), .silence(1.0)])
        let captured = try Tool.run("vx-capture", [url.path])
        let frames = try decodeFrames(captured.stdout)
        let split = try #require(frames.firstIndex { ($0.audio?.timestamp ?? 0) >= 500_000_000 })
        let socket = dir.appendingPathComponent("vad-feedback.sock").path
        let vad = try RunningTool("vx-vad", ["--barge-in", "--feedback", "listen:\(socket)", "--log-level", "debug"])
        vad.write(Self.encode(frames[..<split]))
        let first = try FeedbackPeer(socket)
        first.send(Event("playing", ["timestamp": 0, "timestamp_ns": 0]))
        #expect(vad.waitForErrors { $0.contains("event=playing") })
        first.close()
        #expect(vad.waitForErrors { $0.contains("feedback peer went away") })
        // Playback now counts as inaudible: the utterance's start interrupts, after its voice-started.
        vad.write(Self.encode(frames[split...]))
        #expect(vad.waitForOutput { data in ((try? decodeFrames(data)) ?? []).contains { $0.event?.type == "voice-stopped" } })
        let second = try FeedbackPeer(socket)
        second.send(Event("playing", ["timestamp": 5_000, "timestamp_ns": 5_000_000_000]))
        #expect(vad.waitForErrors { $0.components(separatedBy: "event=playing").count == 3 })
        vad.closeInput()
        let result = vad.finish()
        second.close()
        #expect(result.status == 0, "\(result.stderr)")
        let run = Run(capture: frames, output: try decodeFrames(result.stdout), status: result.status, stderr: result.stderr)
        try #require(run.inserted.map(\.type) == ["voice-started", "interrupt", "voice-stopped"], "\(run.inserted.map(\.jsonText))")
        Self.check(run.inserted[0], run.inserted[2], against: truths[0])
        #expect(run.inserted[1]["decided_ns"] == run.inserted[0]["decided_ns"])
        Self.expectForwarded(run)
    }

    @Test func feedbackThatNobodyServesHoldsNothingUp() throws {
        let speech = try speech(Self.sentence)
        let (url, truths) = try sequence([.silence(1.0), .speech(speech), .silence(1.0)])
        let run = try vad(url, ["--barge-in", "--feedback", "connect:\(dir.path)/nobody.sock"])
        #expect(run.status == 0, "\(run.stderr)")
        try #require(run.inserted.map(\.type) == ["voice-started", "interrupt", "voice-stopped"], "\(run.inserted.map(\.jsonText))")
        Self.check(run.inserted[0], run.inserted[2], against: truths[0])
        Self.expectForwarded(run)
    }

    // MARK: Usage and bad input

    @Test(arguments: [
        ["--aggressiveness", "5"], ["--engine", "silero"], ["--min-speech", "0"], ["--min-silence", "x"],
        ["--pre-roll", "-5"], ["--max-utterance", "0"], ["--speech-ratio", "120"], ["--bogus"], ["stray-argument"],
        ["--max-utterance", "0.1", "--min-speech", "200"],
        ["--barge-in", "--barge-in-speech", "300"], ["--barge-in", "--barge-in-speech", "200"], ["--barge-in-speech", "5"],
        ["--feedback", "-"], ["--feedback", "/tmp/x.sock"], ["--echo-margin", "-1"], ["--echo-tail", "x"],
    ])
    func badUsageIsOneLineAndStatus64(arguments: [String]) throws {
        let result = try Tool.run("vx-vad", arguments)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("vx-vad: "), "\(result.stderr)")
        #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func bargeInSpeechMustBeShorterThanMinSpeech() throws {
        let result = try Tool.run("vx-vad", ["--barge-in", "--barge-in-speech", "300", "--min-speech", "200"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("vx-vad: --barge-in-speech 300 must be shorter than --min-speech 200 ms"), "\(result.stderr)")
    }

    @Test func inputThatIsNotAFrameStreamIsStatus65() throws {
        let wav = file("in.wav")
        try TestAudio.sine(wav, rate: 16_000, seconds: 0.2, frequency: 440)
        let result = try Tool.run("vx-vad", [], stdin: try Data(contentsOf: wav))
        #expect(result.status == 65)
        #expect(result.stderr.hasPrefix("vx-vad: input is not a vx frame stream"), "\(result.stderr)")
        #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)")
    }

    @Test func aStreamCutInsideAFrameIsStatus65AfterWhatCameBefore() throws {
        let speech = try speech(Self.sentence)
        let captured = try Tool.run("vx-capture", [speech.url.path])
        let result = try Tool.run("vx-vad", [], stdin: captured.stdout.prefix(captured.stdout.count - 100))
        #expect(result.status == 65)
        #expect(result.stderr.contains("stream ends inside the frame at byte offset"), "\(result.stderr)")
    }

    @Test func helpNamesTheFlagsWithExamples() throws {
        let result = try Tool.run("vx-vad", ["--help"])
        #expect(result.status == 0)
        for text in ["vx-capture --realtime question.wav | vx-vad | vx-stt", "vx-capture q.wav | vx-vad | vx-play --text",
                     "--min-speech", "--min-silence", "--pre-roll", "--max-utterance", "--engine", "--aggressiveness",
                     "--from", "--to", "preroll_ns", "decided_ns", "--feedback", "--barge-in", "--barge-in-speech",
                     "--echo-margin", "--echo-tail", "playing", "played", "interrupt",
                     "vx-vad --feedback connect:"] {
            #expect(result.stdoutText.contains(text), "--help lacks \(text)")
        }
    }
}

/// A vx tool running with its stdin held open and its stdout collected as it
/// comes, so a test can wait for some output, then signal it.
final class RunningTool: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    /// Writes to stdin, in order, off the test's thread (a full pipe must not block it).
    private let writes = DispatchQueue(label: "running-tool-stdin")
    private let lock = NSLock()
    private var out = Data(), err = Data()
    private let done = DispatchGroup()

    init(_ name: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Tool.path(name))
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        for (pipe, isOut) in [(output, true), (errors, false)] {
            done.enter()
            DispatchQueue.global().async { [self] in
                let handle = pipe.fileHandleForReading
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    lock.withLock { if isOut { out += data } else { err += data } }
                }
                done.leave()
            }
        }
    }

    func write(_ data: Data) {
        writes.async { [input] in try? input.fileHandleForWriting.write(contentsOf: data) }
    }

    /// Ends stdin after what was written before.
    func closeInput() {
        writes.async { [input] in try? input.fileHandleForWriting.close() }
    }

    /// Polls stdout until `condition` holds (true) or 30 s pass (false).
    func waitForOutput(_ condition: (Data) -> Bool) -> Bool {
        for _ in 0..<3_000 {
            if condition(lock.withLock { out }) { return true }
            usleep(10_000)
        }
        return false
    }

    /// Polls stderr until `condition` holds (true) or 30 s pass (false).
    func waitForErrors(_ condition: (String) -> Bool) -> Bool {
        for _ in 0..<3_000 {
            if condition(lock.withLock { String(decoding: err, as: UTF8.self) }) { return true }
            usleep(10_000)
        }
        return false
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    func finish(timeout: Double = 30) -> Tool.Result {
        if done.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("\(process.executableURL?.lastPathComponent ?? "tool") did not finish within \(timeout) s")
            _ = done.wait(timeout: .now() + 5)
        }
        process.waitUntilExit()
        closeInput()
        writes.sync {}
        return lock.withLock { Tool.Result(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self)) }
    }
}

/// The supervisor's side of vx-vad's feedback socket: relays vx-play's reports.
final class FeedbackPeer {
    private let fd: Int32

    /// Connects to vx-vad listening on `path`, waiting up to 30 s for the socket to appear.
    init(_ path: String) throws {
        var connected: Int32?
        for _ in 0..<3_000 {
            if let fd = try? UnixSocket.connect(path) {
                connected = fd
                break
            }
            usleep(10_000)
        }
        fd = try #require(connected, "nobody listens on \(path)")
    }

    deinit { close() }

    func send(_ event: Event) {
        let bytes = FrameEncoder.encode(.event(event))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                guard n > 0 else { return }
                offset += n
            }
        }
    }

    private var closed = false

    func close() {
        guard !closed else { return }
        closed = true
        Foundation.close(fd)
    }
}
