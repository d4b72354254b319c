/// The PCM layout declared by `audio-start`: signed little-endian integers,
/// `width` bytes per sample, `channels` interleaved, `rate` frames a second.
public struct AudioFormat: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var rate: Int
    public var width: Int
    public var channels: Int

    public static let pipeline = AudioFormat(rate: 16_000, width: 2, channels: 1)
    public static let supportedWidths = [2, 4]

    public init(rate: Int, width: Int, channels: Int) {
        self.rate = rate
        self.width = width
        self.channels = channels
    }

    /// Bytes in one sample frame (one sample for each channel).
    public var bytesPerFrame: Int { width * channels }

    /// Why this format cannot be used, or nil when it can.
    public var problem: String? {
        if !(1...768_000).contains(rate) { return "rate \(rate) is not from 1 to 768000 Hz" }
        if !Self.supportedWidths.contains(width) { return "width \(width) is not 2 or 4 bytes" }
        if !(1...32).contains(channels) { return "channels \(channels) is not from 1 to 32" }
        return nil
    }

    /// Stream time, in nanoseconds, of `frames` sample frames at this rate.
    public func nanoseconds(forFrames frames: Int) -> UInt64 {
        let f = UInt64(frames), r = UInt64(rate)
        return f / r * 1_000_000_000 + f % r * 1_000_000_000 / r
    }

    /// Sample frames in `nanoseconds` of audio, rounded to the nearest frame.
    public func frames(forNanoseconds ns: UInt64) -> Int {
        let seconds = ns / 1_000_000_000, rest = ns % 1_000_000_000
        return Int(seconds * UInt64(rate) + (rest * UInt64(rate) + 500_000_000) / 1_000_000_000)
    }

    public var description: String {
        "\(rate) Hz, \(width * 8)-bit, \(channels == 1 ? "mono" : channels == 2 ? "stereo" : "\(channels) channels")"
    }
}
