import Foundation
import Testing
@testable import VXShared

/// Test audio made with sox, and what sox says about audio files.
enum TestAudio {
    /// Makes a sine with sox: `sox -n -r RATE -c CH -b BITS file synth SECONDS sine FREQ`.
    static func sine(_ url: URL, rate: Int, channels: Int = 1, bits: Int = 16, seconds: Double, frequency: Int) throws {
        let made = try Tool.shell(["sox", "-n", "-r", "\(rate)", "-c", "\(channels)", "-b", "\(bits)", url.path,
                                   "synth", "\(seconds)", "sine", "\(frequency)", "vol", "0.5"])
        try #require(made.status == 0, "sox failed: \(made.stderr)")
    }

    /// A `sox FILE -n stat` figure, e.g. "Rough   frequency" or "Length (seconds)".
    static func stat(_ url: URL, _ name: String) throws -> Double {
        let result = try Tool.shell(["sox", url.path, "-n", "stat"])
        for line in result.stderr.split(separator: "\n") where line.hasPrefix(name) {
            if let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                return value
            }
        }
        Issue.record("sox stat printed no \(name): \(result.stderr)")
        return .nan
    }

    /// `soxi -V0 -r/-c/-b/-s FILE` as a number.
    static func soxi(_ url: URL, _ flag: String) throws -> Int {
        let result = try Tool.shell(["soxi", flag, url.path])
        return Int(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The raw little-endian sample bytes of a sound file, as sox decodes them.
    static func samples(_ url: URL) throws -> Data {
        let result = try Tool.shell(["sox", url.path, "-t", "raw", "-"])
        try #require(result.status == 0, "sox could not read \(url.path): \(result.stderr)")
        return result.stdout
    }
}

/// Decodes a whole frame stream held in memory.
func decodeFrames(_ data: Data) throws -> [Frame] {
    var decoder = FrameDecoder()
    decoder.append(contentsOf: data)
    var frames: [Frame] = []
    while let frame = try decoder.next() { frames.append(frame) }
    if let last = try decoder.finish() { frames.append(last) }
    return frames
}
