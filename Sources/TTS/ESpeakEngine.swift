import CEspeakNG
import VXNet
import VXShared

/// espeak-ng: formant synthesis in about a hundred languages (`en`, `en-us`, `de`, `fr`, ...), at
/// 22 050 Hz.
///
/// espeak-ng is one global engine per process, so this type owns it: `ESpeakEngine.shared()`
/// initialises it once, in `AUDIO_OUTPUT_SYNCHRONOUS` mode, where `espeak_Synth` runs on the
/// caller's thread and hands audio to the synth callback about every 49 ms of speech. Calls are
/// serialised. The callback reaches the text's context through the `user_data` pointer given to
/// `espeak_Synth`; it returns 1 once the caller's `Cancellation` is cancelled, which aborts
/// synthesis at once (`espeak_Cancel` does nothing in this mode).
public final class ESpeakEngine: SpeechEngine, @unchecked Sendable {
    public let name = "espeak"
    public let defaultVoice = "en-us"
    /// espeak-ng's output rate.
    public let rate: Int
    private let lock = Lock()
    private var currentVoice: String?

    private static let instance: Result<ESpeakEngine, TTSError> = {
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, 0)
        guard rate > 0 else {
            return .failure(.engineUnavailable(engine: "espeak", reason: "espeak_Initialize failed (is espeak-ng-data installed?)"))
        }
        espeak_SetSynthCallback(espeakSynthCallback)
        return .success(ESpeakEngine(rate: Int(rate)))
    }()

    /// The process's espeak-ng, initialised on first use.
    public static func shared() throws(TTSError) -> ESpeakEngine {
        try instance.get()
    }

    private init(rate: Int) {
        self.rate = rate
    }

    public func checkVoice(_ voice: String) throws {
        try lock.withLock { try select(voice) }
    }

    public func synthesize(_ text: String, voice: String, stop: Cancellation, sink: AudioSink) throws -> Bool {
        try lock.withLock {
            try select(voice)
            guard !stop.isCancelled else { return false }
            return try withoutActuallyEscaping(sink) { sink in
                let context = ESpeakContext(stop: stop, sink: sink, rate: rate)
                let result = withExtendedLifetime(context) {
                    text.withCString { cText in
                        espeak_Synth(cText, text.utf8.count + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil,
                                     Unmanaged.passUnretained(context).toOpaque())
                    }
                }
                if context.stopped { return false }
                guard result == EE_OK else {
                    throw TTSError.synthesisFailed(engine: name, text: text, reason: "espeak_Synth returned \(result.rawValue)")
                }
                return true
            }
        }
    }

    /// Makes `voice` current (with the lock held).
    private func select(_ voice: String) throws {
        guard voice != currentVoice else { return }
        guard espeak_SetVoiceByName(voice) == EE_OK else {
            if let currentVoice { _ = espeak_SetVoiceByName(currentVoice) }
            throw TTSError.unknownVoice(engine: name, voice: voice, known: "see espeak-ng --voices")
        }
        currentVoice = voice
    }
}

/// One text's destination and stop signal, for the synth callback.
private final class ESpeakContext {
    let stop: Cancellation
    let sink: AudioSink
    let rate: Int
    var stopped = false

    init(stop: Cancellation, sink: @escaping AudioSink, rate: Int) {
        self.stop = stop
        self.sink = sink
        self.rate = rate
    }
}

private let espeakSynthCallback: @convention(c) (
    UnsafeMutablePointer<Int16>?, Int32, UnsafeMutablePointer<espeak_EVENT>?
) -> Int32 = { samples, count, events in
    guard let raw = events?.pointee.user_data else { return 0 }
    let context = Unmanaged<ESpeakContext>.fromOpaque(raw).takeUnretainedValue()
    if context.stop.isCancelled {
        context.stopped = true
        return 1  // abort at once
    }
    if let samples, count > 0 {
        context.sink(UnsafeBufferPointer(start: samples, count: Int(count)), context.rate)
    }
    return 0
}
