import Logging
import VXAudio
import VXNet
import VXShared

/// Turns one sentence into PCM in the output format: from the cache when it was said before,
/// else from the engine, converted (resampled with libsoxr when the engine's rate differs).
public final class SentenceSynthesizer: @unchecked Sendable {
    /// One sentence's audio.
    public struct Speech: Sendable {
        /// Samples in the output format.
        public var pcm: [UInt8]
        /// True when it came from the cache.
        public var cached: Bool
    }

    public let engine: any SpeechEngine
    public let format: AudioFormat
    public let cache: SpeechCache?

    public init(engine: any SpeechEngine, format: AudioFormat, cache: SpeechCache?) {
        self.engine = engine
        self.format = format
        self.cache = cache
    }

    /// The audio of `text` (already prepared for speaking), or nil when `stop` cut it short.
    /// Call `remember` with a synthesised result once it has been sent, to cache it.
    public func speak(_ text: String, voice: String, stop: Cancellation) throws -> Speech? {
        let key = SpeechCache.Key(engine: engine.name, voice: voice, format: format, text: text)
        if let pcm = cache?.load(key) { return Speech(pcm: pcm, cached: true) }
        var samples: [Int16] = []
        var rate = 0
        let completed = try engine.synthesize(text, voice: voice, stop: stop) { piece, pieceRate in
            if rate == 0 { rate = pieceRate }
            samples.append(contentsOf: piece)
        }
        guard completed, !stop.isCancelled else { return nil }
        return Speech(pcm: try convert(samples, rate: rate), cached: false)
    }

    /// Stores a synthesised sentence in the cache (if there is one).
    public func remember(_ text: String, voice: String, pcm: [UInt8]) {
        cache?.store(SpeechCache.Key(engine: engine.name, voice: voice, format: format, text: text), pcm: pcm)
    }

    /// 16-bit mono samples at `rate` in the output format.
    func convert(_ samples: [Int16], rate: Int) throws -> [UInt8] {
        guard !samples.isEmpty else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(Int(Double(samples.count) * Double(format.rate) / Double(rate) + 64) * format.bytesPerFrame)
        if rate == format.rate && format.channels == 1 && format.width == 2 {
            for s in samples {
                let u = UInt16(bitPattern: s)
                out.append(UInt8(u & 0xff))
                out.append(UInt8(u >> 8))
            }
            return out
        }
        let converter = try SampleConverter(inputRate: rate, inputChannels: 1, output: format)
        let floats = samples.map { Float($0) / 32768 }
        converter.convert(floats[...], frames: floats.count, into: &out)
        converter.flush(into: &out)
        return out
    }
}
