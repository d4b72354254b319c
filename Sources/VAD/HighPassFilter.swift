#if canImport(Glibc)
import Glibc
#endif

/// A 4th-order Butterworth high-pass (two biquads) on the analysis signal,
/// so mains hum (50/60 Hz) and rumble (brown noise, traffic, handling) below
/// the voice's fundamental do not look like speech to an engine. Speech keeps
/// its energy: voices sit above ~85 Hz and detectors weigh 250 Hz-4 kHz.
///
/// Without it, WebRTC mode 3 calls a 50 Hz hum at −10 dBFS speech in every
/// frame, and brown noise 15 dB under speech gives false onsets.
public struct HighPassFilter: Sendable {
    public let cutoff: Double
    private var sections: [Biquad]

    /// `cutoff` in Hz at the analysis rate; 0 passes audio unchanged.
    public init(cutoff: Double, rate: Int = AnalysisFormat.rate) {
        self.cutoff = cutoff
        guard cutoff > 0 else {
            sections = []
            return
        }
        // Butterworth 4th order: two sections with Q = 1 / (2 cos(π/8)) and 1 / (2 cos(3π/8)).
        sections = [0.54119610, 1.30656296].map { Biquad(highPass: cutoff, q: $0, rate: Double(rate)) }
    }

    /// Filters `input` into `output` (same count), keeping state for the next frame.
    public mutating func process(_ input: UnsafeBufferPointer<Int16>, into output: inout [Int16]) {
        if output.count != input.count { output = [Int16](repeating: 0, count: input.count) }
        guard !sections.isEmpty else {
            for i in 0..<input.count { output[i] = input[i] }
            return
        }
        for i in 0..<input.count {
            var x = Double(input[i])
            for s in sections.indices { x = sections[s].process(x) }
            output[i] = Int16(clamping: Int(x.rounded()))
        }
    }

    struct Biquad: Sendable {
        let b0, b1, b2, a1, a2: Double
        var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0

        /// RBJ audio-EQ-cookbook high-pass, normalised by a0.
        init(highPass f: Double, q: Double, rate: Double) {
            let w0 = 2 * Double.pi * f / rate
            let alpha = sin(w0) / (2 * q), c = cos(w0), a0 = 1 + alpha
            b0 = (1 + c) / 2 / a0
            b1 = -(1 + c) / a0
            b2 = (1 + c) / 2 / a0
            a1 = -2 * c / a0
            a2 = (1 - alpha) / a0
        }

        mutating func process(_ x: Double) -> Double {
            let y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2 = x1; x1 = x
            y2 = y1; y1 = y
            return y
        }
    }
}
