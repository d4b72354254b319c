#if canImport(Glibc)
import Glibc
#endif
import CPocketSphinx
import Synchronization

/// CMU PocketSphinx, decoding as audio arrives. Owns the decoder; `deinit` frees it.
///
/// The model loads once, in `init` (about 0.35 s for en-us). Each utterance
/// starts from the same state: live cepstral mean normalisation (CMN) adapts
/// to the audio and would otherwise carry what the last utterance sounded like
/// into the next, so `start()` puts back the CMN vector the decoder had right
/// after loading, resets the noise estimate and runs a fixed primer through
/// the acoustic model (see `prime()`). The same audio therefore decodes to the
/// same text with the same score whatever came before.
///
/// Within an utterance the CMN adapts to that utterance as it is decoded (see
/// `cmnPriorFrames`), rather than only once it has ended as pocketsphinx's live
/// CMN does: the loaded vector is a generic voice's, and an utterance decoded
/// wholly against it takes more search and gets more words wrong.
///
/// Not thread-safe: use it from one thread at a time.
public final class PocketSphinxTranscriber: Transcriber {
    public let name = "pocketsphinx"
    public let supportsPartials = true

    private let decoder: OpaquePointer
    /// The argument strings handed to pocketsphinx, freed after the decoder.
    private let arguments: [UnsafeMutablePointer<CChar>?]
    /// The CMN vector right after loading, restored before every utterance.
    private let initialMean: [mfcc_t]
    private var inUtterance = false
    /// Samples decoded since the CMN was last moved toward the utterance.
    private var samplesSinceCMNUpdate = 0

    /// The weight, in frames, of the loaded CMN vector at each utterance's start; the
    /// utterance's own frames then move the mean every `cmnUpdateSamples`. Measured on
    /// 11 utterances (flite and goforward, from vx-vad): with the loaded vector held for
    /// the whole utterance 11/86 words wrong and 29.7M HMM channels searched; with this
    /// adaptation 8/86 and 28.8M; over a -60 dBFS noise floor 15/86 and 24.5M against
    /// 12/86 and 23.1M. 50 to 500 frames all did about as well; 100 is a second of speech.
    /// bench-speech's word errors (one-pass), held for the utterance / adapting: librivox
    /// 27/71 / 20/71, flite kal at 8 kHz 37/41 / 22/41, slt 7/41 / 7/41, kal16 2/41 / 4/41.
    static let cmnPriorFrames: Int32 = 100
    /// 0.1 s of 16 kHz audio.
    static let cmnUpdateSamples = 1_600

    /// The path score of the last `finish()`: equal scores mean equal decodes.
    private(set) var lastScore: Int32 = 0

    /// The model and search arguments the decoder was configured with, as
    /// `pocketsphinx_continuous` takes them (for logs and benchmarks).
    public let configuration: [String]

    /// pocketsphinx writes its log to stderr unless told otherwise; vx keeps
    /// stderr for its own one-line records, so the library's log is off (once,
    /// for the process) unless a log file is asked for.
    private static let libraryLogOff: Void = { err_set_logfp(nil) }()

    /// Loads `model` to decode with `search`. `logFile` receives pocketsphinx's own log.
    public init(model: PocketSphinxModel, search: PocketSphinxSearch = .onePass, logFile: String? = nil) throws(STTError) {
        try model.check()
        Self.libraryLogOff
        let configuration = ["-hmm", model.hmm, "-lm", model.lm, "-dict", model.dict] + search.arguments
        var words = ["vx-stt"] + configuration
        if let logFile { words += ["-logfn", logFile] }
        let arguments = words.map { strdup($0) }
        var argv = arguments
        guard let config = argv.withUnsafeMutableBufferPointer({
            cmd_ln_parse_r(nil, ps_args(), Int32($0.count - 1), $0.baseAddress! + 1, 1)
        }) else {
            arguments.forEach { free($0) }
            throw .modelLoadFailed(reason: "pocketsphinx refused its configuration")
        }
        defer { cmd_ln_free_r(config) }  // the decoder keeps its own reference
        let loaded = LoadFailureExit.guarding(
            "cannot load the speech model: pocketsphinx could not read \(model.hmm), \(model.lm) or \(model.dict)"
        ) { ps_init(config) }
        guard let decoder = loaded else {
            arguments.forEach { free($0) }
            throw .modelLoadFailed(reason: "pocketsphinx could not load \(model.hmm), \(model.lm) and \(model.dict)")
        }
        guard let cmn = vx_ps_cmn(decoder) else {
            ps_free(decoder)
            arguments.forEach { free($0) }
            throw .modelLoadFailed(reason: "the acoustic model has no cepstral mean normalisation")
        }
        var mean = [mfcc_t](repeating: 0, count: Int(vx_ps_cmn_length(decoder)))
        mean.withUnsafeMutableBufferPointer { cmn_live_get(cmn, $0.baseAddress) }
        self.decoder = decoder
        self.arguments = arguments
        self.configuration = configuration
        self.initialMean = mean
    }

    deinit {
        ps_free(decoder)
        arguments.forEach { free($0) }
    }

    /// Begins an utterance from the state the model loaded with. An utterance
    /// still open is abandoned.
    public func start() throws {
        if inUtterance {
            ps_end_utt(decoder)
            inUtterance = false
        }
        try prime()
        try startUtterance()
        inUtterance = true
    }

    /// Puts the decoder's carried-over state back where it started: the front
    /// end's noise estimate (kept per stream) and the CMN vector (kept per decoder).
    private func startUtterance() throws {
        var rc = ps_start_stream(decoder)
        guard rc >= 0 else { throw STTError.decodeFailed(call: "ps_start_stream", code: rc) }
        initialMean.withUnsafeBufferPointer { vx_ps_cmn_start(decoder, $0.baseAddress, Self.cmnPriorFrames) }
        samplesSinceCMNUpdate = 0
        rc = ps_start_utt(decoder)
        guard rc >= 0 else { throw STTError.decodeFailed(call: "ps_start_utt", code: rc) }
    }

    /// Decodes a fixed 0.15 s sound and throws the result away. The acoustic
    /// model scores an utterance's first frame with the Gaussian selection left
    /// from the previous utterance's last frames, and no API resets it; after
    /// this primer that leftover is always the same, so the next utterance
    /// scores exactly as it would on a fresh decoder. It runs when an utterance
    /// starts, while the speaker talks, not when one ends.
    private func prime() throws {
        try startUtterance()
        let rc = Self.primer.withUnsafeBufferPointer { ps_process_raw(decoder, $0.baseAddress, $0.count, 0, 0) }
        ps_end_utt(decoder)
        guard rc >= 0 else { throw STTError.decodeFailed(call: "ps_process_raw", code: rc) }
    }

    /// 30 ms of faint noise, then 120 ms of a loud harmonic tone: enough frames
    /// that pocketsphinx's own voice detector passes them to the acoustic model
    /// (at 20 + 70 ms it passes none, and the reset fails). Every frame of it is
    /// searched, on the decoding thread, once per utterance: a tone is costly to
    /// search (about 35 ms of CPU for these 0.15 s with the one-pass search, 120 ms
    /// for the 0.2 s this primer once was), so it is no longer than it must be.
    static let primer: [Int16] = {
        var seed: UInt32 = 12_345
        func noise() -> Int32 {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Int32(seed >> 16) % 64 - 32
        }
        var samples = (0..<480).map { _ in Int16(noise()) }
        for i in 0..<1_920 {
            let t = Double(i) / 16_000
            var v = 0.0
            for harmonic in 1...8 { v += sin(2 * .pi * 150 * Double(harmonic) * t) / Double(harmonic) }
            samples.append(Int16(Int32(v * 6_000) + noise()))
        }
        return samples
    }()

    /// Decodes `samples` (16 kHz mono) at once, so the utterance is searched as it arrives.
    public func feed(_ samples: UnsafeBufferPointer<Int16>) throws {
        guard inUtterance, let base = samples.baseAddress, samples.count > 0 else { return }
        let rc = ps_process_raw(decoder, base, samples.count, 0, 0)
        guard rc >= 0 else { throw STTError.decodeFailed(call: "ps_process_raw", code: rc) }
        samplesSinceCMNUpdate += samples.count
        if samplesSinceCMNUpdate >= Self.cmnUpdateSamples {
            cmn_live_update(vx_ps_cmn(decoder))
            samplesSinceCMNUpdate = 0
        }
    }

    public func partial() -> String? {
        guard inUtterance else { return nil }
        var score: Int32 = 0
        let text = ps_get_hyp(decoder, &score).map { Self.clean(String(cString: $0)) } ?? ""
        return text.isEmpty ? nil : text
    }

    public func finish() throws -> String {
        guard inUtterance else { return "" }
        inUtterance = false
        let rc = ps_end_utt(decoder)
        guard rc >= 0 else { throw STTError.decodeFailed(call: "ps_end_utt", code: rc) }
        var score: Int32 = 0
        let text = ps_get_hyp(decoder, &score).map { Self.clean(String(cString: $0)) } ?? ""
        lastScore = score
        return text
    }

    /// Words separated by single spaces.
    static func clean(_ hypothesis: String) -> String {
        hypothesis.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }
}

/// pocketsphinx ends the process with `exit(1)` when a model file is corrupt
/// (its E_FATAL), after a message its silenced log swallows. While a model
/// loads, an `atexit` handler turns that into vx's one line on stderr and
/// status 69, the same as any unusable engine.
private enum LoadFailureExit {
    /// The line to print if the process exits now; nil outside a load.
    private static let pending = Mutex<String?>(nil)
    private static let installed: Void = { atexit { LoadFailureExit.exitingDuringLoad() } }()

    static func guarding<T>(_ message: String, _ body: () -> T) -> T {
        installed
        pending.withLock { $0 = message }
        defer { pending.withLock { $0 = nil } }
        return body()
    }

    private static func exitingDuringLoad() {
        guard let message = pending.withLock({ $0 }) else { return }
        let tool = CommandLine.arguments.first?.split(separator: "/").last.map(String.init) ?? "vx-stt"
        var line = "\(tool): \(message)\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        _exit(69)
    }
}
