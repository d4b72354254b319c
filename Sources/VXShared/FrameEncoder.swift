/// Writes frames in the binary wire format.
public enum FrameEncoder {
    /// Appends the wire bytes of `frame` to `out`.
    public static func encode(_ frame: Frame, into out: inout [UInt8]) {
        switch frame {
        case .event(let event):
            let payload = event.payload
            appendHeader(.event, length: payload.count, to: &out)
            out.append(contentsOf: payload)
        case .audio(let chunk):
            appendHeader(.audio, length: AudioChunk.timestampSize + chunk.pcm.count, to: &out)
            appendBigEndian(chunk.timestamp, to: &out)
            out.append(contentsOf: chunk.pcm)
        }
    }

    public static func encode(_ frame: Frame) -> [UInt8] {
        var out: [UInt8] = []
        encode(frame, into: &out)
        return out
    }

    static func appendHeader(_ kind: Frame.Kind, length: Int, to out: inout [UInt8]) {
        precondition(length <= Int(UInt32.max), "frame payload over 4 GiB")
        out.append(contentsOf: Frame.magic)
        out.append(Frame.version)
        out.append(kind.rawValue)
        appendBigEndian(UInt32(length), to: &out)
    }

    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        var v = value.bigEndian
        withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
    }
}
