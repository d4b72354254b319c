
/// A plain level detector, the fallback engine: a frame is speech when its RMS
/// level is `threshold` dB above the noise floor (the quietest level of the last
/// two seconds, `NoiseFloor`) and above an absolute `floor`, so digital silence
/// and faint hiss never count.
public final class EnergyVoiceEngine: VoiceActivityEngine {
    public struct Settings: Sendable, Equatable {
        /// dB above the noise floor that count as speech.
        public var threshold: Double = 12
        /// Level in dBFS below which nothing is speech.
        public var floor: Double = -50

        public init() {}

        public init(threshold: Double, floor: Double) {
            self.threshold = threshold
            self.floor = floor
        }
    }

    public let name = "energy"
    public let settings: Settings
    private var noise = NoiseFloor()

    /// A level detector has no hangover: it follows the signal frame by frame.
    public var hangover: UInt64 { 0 }

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The noise floor in dBFS, nil before the first frame.
    public var noiseFloor: Double? { noise.level }

    public func classify(_ frame: UnsafeBufferPointer<Int16>) throws -> FrameVerdict {
        let level = frameLevel(frame)
        let floor = noise.update(level)
        return level > max(floor + settings.threshold, settings.floor) ? .speech : .silence
    }
}
