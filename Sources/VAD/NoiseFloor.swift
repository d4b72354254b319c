#if canImport(Glibc)
import Glibc
#endif

/// The background level under speech, by minimum statistics: the lowest
/// (lightly smoothed) frame level over the last `window` frames. Speech leaves
/// gaps between words and syllables, so over a second or two the quietest
/// frames are the room; a steady sound (hum, fan, rumble) becomes the floor
/// within one window, however loud.
///
/// The minimum is kept over sub-blocks, so an update costs O(1) and a few
/// doubles of memory.
public struct NoiseFloor: Sendable {
    public let window: Int
    private let blockLength: Int
    private var blockMinima: [Double] = []
    private let blocks: Int
    private var current = Double.infinity
    private var inBlock = 0
    private var smoothed: Double?

    /// `window` in frames (e.g. 200 ten-millisecond frames = 2 s), kept in `blocks` sub-blocks.
    public init(window: Int = 200, blocks: Int = 8) {
        self.blocks = max(1, blocks)
        blockLength = max(1, (window + self.blocks - 1) / self.blocks)
        self.window = blockLength * self.blocks
    }

    /// The floor so far, in dB; nil before the first frame.
    public var level: Double? {
        guard smoothed != nil else { return nil }
        return min(current, blockMinima.min() ?? .infinity)
    }

    /// Adds a frame's level (dB) and returns the floor including it.
    @discardableResult
    public mutating func update(_ frameLevel: Double) -> Double {
        let s = smoothed.map { 0.5 * $0 + 0.5 * frameLevel } ?? frameLevel
        smoothed = s
        current = min(current, s)
        inBlock += 1
        if inBlock == blockLength {
            blockMinima.append(current)
            if blockMinima.count > blocks - 1 { blockMinima.removeFirst() }
            current = .infinity
            inBlock = 0
        }
        return level!
    }
}

/// RMS level of a frame of 16-bit samples in dBFS (a full-scale square wave is 0 dBFS), never below −120.
public func frameLevel(_ frame: UnsafeBufferPointer<Int16>) -> Double {
    guard !frame.isEmpty else { return -120 }
    var sum: Double = 0
    for s in frame {
        let x = Double(s)
        sum += x * x
    }
    let rms = (sum / Double(frame.count)).squareRoot() / 32768
    return rms > 1e-6 ? max(-120, 20 * log10(rms)) : -120
}
