import VXShared

/// Converts interleaved audio from one rate and channel count to a target
/// `AudioFormat`: channel mixing, then libsoxr resampling, then quantising to
/// signed little-endian PCM. When only the sample width differs (or nothing),
/// integer samples go straight through, so 16-bit in gives 16-bit out bit for bit.
public final class SampleConverter {
    public let inputRate: Int
    public let inputChannels: Int
    public let output: AudioFormat
    private let resampler: Resampler?
    private var mixed: [Float] = []
    private var scratch: [Float] = []

    public init(inputRate: Int, inputChannels: Int, output: AudioFormat) throws {
        self.inputRate = inputRate
        self.inputChannels = inputChannels
        self.output = output
        resampler = inputRate == output.rate ? nil : try Resampler(from: inputRate, to: output.rate, channels: output.channels)
    }

    /// True when samples need no mixing or resampling: integer input can be copied.
    public var isDirect: Bool { inputRate == output.rate && inputChannels == output.channels }

    /// Converts integer frames (full-scale 32-bit, as libsndfile's `readf_int` gives) on the direct path.
    public func convertDirect(_ input: ArraySlice<Int32>, into out: inout [UInt8]) {
        precondition(isDirect)
        out.reserveCapacity(out.count + input.count * output.width)
        if output.width == 2 {
            for v in input {
                let s = UInt16(bitPattern: Int16(truncatingIfNeeded: v >> 16))
                out.append(UInt8(s & 0xff)); out.append(UInt8(s >> 8))
            }
        } else {
            for v in input {
                let s = UInt32(bitPattern: v)
                out.append(UInt8(s & 0xff)); out.append(UInt8(s >> 8 & 0xff))
                out.append(UInt8(s >> 16 & 0xff)); out.append(UInt8(s >> 24))
            }
        }
    }

    /// Converts `frames` interleaved float frames (in [-1, 1)) and appends PCM to `out`.
    public func convert(_ input: ArraySlice<Float>, frames: Int, into out: inout [UInt8]) {
        guard frames > 0 else { return }
        let mono = mix(input, frames: frames)
        if let resampler {
            let resampled = mono.withUnsafeBufferPointer { resampler.process(UnsafeBufferPointer(rebasing: $0[0..<frames * output.channels]), frames: frames) }
            quantize(resampled, into: &out)
        } else {
            quantize(mono[0..<frames * output.channels], into: &out)
        }
    }

    /// Converts PCM bytes in `format` (as carried by frames) to the output format.
    public func convert(pcm: [UInt8], format: AudioFormat, into out: inout [UInt8]) {
        let frames = pcm.count / format.bytesPerFrame
        if isDirect && format.width == output.width {
            out.append(contentsOf: pcm)
            return
        }
        if scratch.count < frames * format.channels { scratch = [Float](repeating: 0, count: frames * format.channels) }
        pcm.withUnsafeBytes { raw in
            for i in 0..<frames * format.channels {
                let o = i * format.width
                if format.width == 2 {
                    let v = Int16(bitPattern: UInt16(raw[o]) | UInt16(raw[o + 1]) << 8)
                    scratch[i] = Float(v) / 32768
                } else {
                    let u = UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24
                    scratch[i] = Float(Double(Int32(bitPattern: u)) / 2_147_483_648)
                }
            }
        }
        convert(scratch[0..<frames * format.channels], frames: frames, into: &out)
    }

    /// The resampler's tail after the last input.
    public func flush(into out: inout [UInt8]) {
        if let resampler { quantize(resampler.flush(), into: &out) }
    }

    private func mix(_ input: ArraySlice<Float>, frames: Int) -> [Float] {
        let cin = inputChannels, cout = output.channels
        if cin == cout { return Array(input.prefix(frames * cin)) }
        if mixed.count < frames * cout { mixed = [Float](repeating: 0, count: frames * cout) }
        let base = input.startIndex
        for f in 0..<frames {
            for j in 0..<cout {
                if cin < cout {
                    mixed[f * cout + j] = input[base + f * cin + j % cin]
                } else {
                    var sum: Float = 0
                    var n: Float = 0
                    var i = j
                    while i < cin {
                        sum += input[base + f * cin + i]
                        n += 1
                        i += cout
                    }
                    mixed[f * cout + j] = sum / n
                }
            }
        }
        return mixed
    }

    private func quantize(_ samples: ArraySlice<Float>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + samples.count * output.width)
        if output.width == 2 {
            for x in samples {
                let v = Int16(clamping: Int((x * 32768).rounded()))
                let s = UInt16(bitPattern: v)
                out.append(UInt8(s & 0xff)); out.append(UInt8(s >> 8))
            }
        } else {
            for x in samples {
                let v = Int32(clamping: Int64((Double(x) * 2_147_483_648).rounded()))
                let s = UInt32(bitPattern: v)
                out.append(UInt8(s & 0xff)); out.append(UInt8(s >> 8 & 0xff))
                out.append(UInt8(s >> 16 & 0xff)); out.append(UInt8(s >> 24))
            }
        }
    }
}
