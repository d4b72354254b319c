/// One unit of a vx stream: an audio chunk or an event.
///
/// On the wire every frame is an 8-byte header followed by its payload
/// (see docs/PROTOCOL.md):
///
///     offset 0  2 bytes  magic "VX" (0x56 0x58)
///     offset 2  1 byte   version, 0x01
///     offset 3  1 byte   kind: 0x41 "A" audio, 0x45 "E" event
///     offset 4  4 bytes  payload length, unsigned big-endian
public enum Frame: Sendable, Equatable {
    case audio(AudioChunk)
    case event(Event)

    public static let magic: [UInt8] = [0x56, 0x58]
    public static let version: UInt8 = 1
    public static let headerSize = 8
    /// Default largest payload a reader accepts (1 MiB); `--max-frame` changes it.
    public static let defaultMaxPayload = 1 << 20

    public enum Kind: UInt8, Sendable {
        case audio = 0x41  // "A"
        case event = 0x45  // "E"
    }

    public var kind: Kind {
        switch self {
        case .audio: .audio
        case .event: .event
        }
    }

    public var event: Event? {
        if case .event(let e) = self { return e }
        return nil
    }

    public var audio: AudioChunk? {
        if case .audio(let a) = self { return a }
        return nil
    }
}

/// Raw PCM with the stream time of its first sample.
///
/// The sample format is the one declared by the most recent `audio-start`.
/// The wire payload is an 8-byte big-endian timestamp in nanoseconds of
/// stream time, followed by the interleaved little-endian samples.
public struct AudioChunk: Sendable, Equatable {
    /// Stream time of the first sample, in nanoseconds.
    public var timestamp: UInt64
    public var pcm: [UInt8]

    public init(timestamp: UInt64, pcm: [UInt8]) {
        self.timestamp = timestamp
        self.pcm = pcm
    }

    public static let timestampSize = 8
}
