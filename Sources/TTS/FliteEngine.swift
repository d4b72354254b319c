#if canImport(Glibc)
import Glibc
#endif
import CFlite
import VXNet
import VXShared

/// flite (CMU's small synthesiser, Debian's flite1-dev) with its US English voices: kal16 (diphone,
/// 16 kHz, the default), kal (diphone, 8 kHz) and slt (clustergen, 16 kHz, slower, smoother).
///
/// flite's voices are process-wide globals (registering one twice gives the same voice), so there
/// is one engine per process, `FliteEngine.shared`, and it synthesises one text at a time.
///
/// Audio streams out through flite's `cst_audio_streaming_info`, set as each voice's
/// `streaming_info` feature: its callback gets the samples in chunks of 20 ms and returns
/// `CST_AUDIO_STREAM_STOP` once the caller's `Cancellation` is cancelled, which ends synthesis
/// there. flite analyses the whole text before the first chunk, so callers feed it a sentence at
/// a time. The callback finds its context through the `userdata` pointer; flite keeps that pointer
/// for the life of the voice, and so does the `FliteVoice` that owns both.
public final class FliteEngine: SpeechEngine, @unchecked Sendable {
    public static let voiceNames = ["kal16", "kal", "slt"]

    /// The process's flite.
    public static let shared = FliteEngine()

    public let name = "flite"
    public let defaultVoice = "kal16"
    private let lock = Lock()
    private var voices: [String: FliteVoice] = [:]

    private init() {
        flite_init()
    }

    public func checkVoice(_ voice: String) throws {
        guard Self.voiceNames.contains(voice) else {
            throw TTSError.unknownVoice(engine: name, voice: voice, known: "flite voices: kal16, kal, slt")
        }
    }

    public func synthesize(_ text: String, voice: String, stop: Cancellation, sink: AudioSink) throws -> Bool {
        try checkVoice(voice)
        return try lock.withLock {
            let loaded = try voices[voice] ?? load(voice)
            return try loaded.speak(text, stop: stop, sink: sink)
        }
    }

    /// Registers a voice (a few milliseconds; kal16's data is compiled in).
    public func preload(_ voice: String) throws {
        try checkVoice(voice)
        try lock.withLock { _ = try voices[voice] ?? load(voice) }
    }

    private func load(_ name: String) throws -> FliteVoice {
        let voice: FliteVoice?
        switch name {
        case "kal16": voice = FliteVoice(name: name, register_cmu_us_kal16(nil), unregister: unregister_cmu_us_kal16)
        case "kal": voice = FliteVoice(name: name, register_cmu_us_kal(nil), unregister: unregister_cmu_us_kal)
        case "slt": voice = FliteVoice(name: name, register_cmu_us_slt(nil), unregister: unregister_cmu_us_slt)
        default: voice = nil
        }
        guard let voice else { throw TTSError.engineUnavailable(engine: "flite", reason: "voice \(name) did not load") }
        voices[name] = voice
        return voice
    }
}

/// A registered flite voice, its streaming hook and the context that hook reaches through
/// `userdata`. The voice's features own the `cst_audio_streaming_info`.
private final class FliteVoice {
    let name: String
    private let voice: UnsafeMutablePointer<cst_voice>
    private let unregister: (UnsafeMutablePointer<cst_voice>?) -> Void
    private let stream = FliteStream()

    init?(name: String, _ voice: UnsafeMutablePointer<cst_voice>?, unregister: @escaping (UnsafeMutablePointer<cst_voice>?) -> Void) {
        guard let voice, let info = new_audio_streaming_info() else { return nil }
        self.name = name
        self.voice = voice
        self.unregister = unregister
        info.pointee.asc = fliteStreamCallback
        // flite calls back with at least this many samples: 20 ms at 16 kHz, 40 ms for kal.
        info.pointee.min_buffsize = 320
        info.pointee.userdata = Unmanaged.passUnretained(stream).toOpaque()
        feat_set(voice.pointee.features, streamingInfoFeature, audio_streaming_info_val(info))
    }

    deinit {
        flite_feat_remove(voice.pointee.features, streamingInfoFeature)  // frees the streaming info
        unregister(voice)
    }

    func speak(_ text: String, stop: Cancellation, sink: AudioSink) throws -> Bool {
        guard !stop.isCancelled else { return false }
        return try withoutActuallyEscaping(sink) { sink in
            stream.begin(stop: stop, sink: sink)
            defer { stream.end() }
            let wave = flite_text_to_wave(text, voice)
            if let wave { delete_wave(wave) }
            if stream.stopped { return false }
            guard wave != nil else {
                throw TTSError.synthesisFailed(engine: "flite", text: text, reason: "flite returned no audio")
            }
            return true
        }
    }
}

/// What the streaming callback needs while one text is being spoken.
private final class FliteStream {
    private var stop: Cancellation?
    private var sink: AudioSink?
    private(set) var stopped = false

    func begin(stop: Cancellation, sink: @escaping AudioSink) {
        self.stop = stop
        self.sink = sink
        stopped = false
    }

    func end() {
        stop = nil
        sink = nil
    }

    func deliver(_ wave: UnsafePointer<cst_wave>, start: Int, count: Int) -> Int32 {
        guard let sink, let stop, !stop.isCancelled else {
            stopped = true
            return vx_flite_stream_stop()
        }
        if count > 0, let samples = wave.pointee.samples {
            sink(UnsafeBufferPointer(start: samples + start, count: count), Int(wave.pointee.sample_rate))
        }
        if stop.isCancelled {
            stopped = true
            return vx_flite_stream_stop()
        }
        return vx_flite_stream_continue()
    }
}

/// The feature's name. flite keeps the pointer it is given as the key (it expects a string
/// literal), so it must outlive the voice: a Swift string argument would be a temporary.
private nonisolated(unsafe) let streamingInfoFeature: UnsafePointer<CChar> = UnsafePointer(strdup("streaming_info")!)

private let fliteStreamCallback: @convention(c) (
    UnsafePointer<cst_wave>?, Int32, Int32, Int32, UnsafeMutablePointer<cst_audio_streaming_info>?
) -> Int32 = { wave, start, size, _, info in
    guard let wave, let context = info?.pointee.userdata else { return vx_flite_stream_stop() }
    return Unmanaged<FliteStream>.fromOpaque(context).takeUnretainedValue()
        .deliver(wave, start: Int(start), count: Int(size))
}
