import CSoxr
import VXShared

/// Streaming sample-rate conversion with libsoxr (high quality, float32
/// interleaved). Owns the soxr handle.
public final class Resampler {
    public let inputRate: Int
    public let outputRate: Int
    public let channels: Int
    private let handle: soxr_t
    private var output: [Float] = []

    public init(from inputRate: Int, to outputRate: Int, channels: Int) throws {
        var error: soxr_error_t? = nil
        guard let handle = soxr_create(Double(inputRate), Double(outputRate), UInt32(channels), &error, nil, nil, nil),
              error == nil
        else {
            let reason = error.map { String(cString: $0) } ?? "unknown error"
            throw ToolError("cannot resample \(inputRate) Hz to \(outputRate) Hz: \(reason)", exit: .software)
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.channels = channels
        self.handle = handle
    }

    deinit { soxr_delete(handle) }

    /// Resamples `frames` interleaved frames of `input`; returns what is ready
    /// (soxr holds back a little for its filter until `flush()`).
    public func process(_ input: UnsafeBufferPointer<Float>, frames: Int) -> ArraySlice<Float> {
        let capacity = Int((Double(frames) * Double(outputRate) / Double(inputRate)).rounded(.up)) + 64
        if output.count < capacity * channels { output = [Float](repeating: 0, count: capacity * channels) }
        var produced = 0
        var consumed = 0
        while consumed < frames || frames == 0 {
            var idone = 0
            var odone = 0
            let room = output.count / channels - produced
            _ = output.withUnsafeMutableBufferPointer { out in
                soxr_process(handle,
                             frames == 0 ? nil : UnsafeRawPointer(input.baseAddress! + consumed * channels), frames - consumed, &idone,
                             UnsafeMutableRawPointer(out.baseAddress! + produced * channels), room, &odone)
            }
            consumed += idone
            produced += odone
            if frames == 0 {  // flushing: until soxr has nothing more
                if odone == 0 { break }
                if produced == output.count / channels { output += [Float](repeating: 0, count: output.count) }
                continue
            }
            if idone == 0 && odone == 0 { break }
            if produced == output.count / channels { output += [Float](repeating: 0, count: output.count) }
        }
        return output[0..<produced * channels]
    }

    /// The filter's tail, after the last input.
    public func flush() -> ArraySlice<Float> {
        let empty: [Float] = []
        return empty.withUnsafeBufferPointer { process($0, frames: 0) }
    }
}
