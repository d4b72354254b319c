/// The pipeline's samples as bytes: 16-bit signed, little-endian (`AudioFormat` width 2).
public enum PCM16 {
    /// `bytes` as samples; a trailing odd byte is ignored.
    public static func samples(_ bytes: [UInt8]) -> [Int16] {
        var samples = [Int16](repeating: 0, count: bytes.count / 2)
        for i in samples.indices {
            samples[i] = Int16(bitPattern: UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8)
        }
        return samples
    }

    /// `samples` as bytes.
    public static func bytes(_ samples: [Int16]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: samples.count * 2)
        for (i, sample) in samples.enumerated() {
            let bits = UInt16(bitPattern: sample)
            bytes[2 * i] = UInt8(truncatingIfNeeded: bits)
            bytes[2 * i + 1] = UInt8(truncatingIfNeeded: bits >> 8)
        }
        return bytes
    }
}
