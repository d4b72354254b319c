#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON-lines text form of a frame stream: one JSON object a line.
///
/// An event's line is its payload. An audio frame's line is a Wyoming-style
/// `audio-chunk` event with the format, timestamps and a summary (samples,
/// duration, peak level), and, when asked for, the samples themselves in base64
/// under `pcm`. Lines with `pcm` decode back into audio frames, so the text form
/// can be edited and fed to any stage; blank lines and `#` comments are skipped.
public enum TextForm {
    /// The text line for a frame (without the newline).
    public static func line(for frame: Frame, format: AudioFormat?, includePCM: Bool = false) -> String {
        switch frame {
        case .event(let event):
            return event.jsonText
        case .audio(let chunk):
            var data: [String: JSONValue] = [
                "timestamp": .int(Int64(chunk.timestamp / 1_000_000)),
                "timestamp_ns": .int(Int64(chunk.timestamp)),
                "bytes": .int(Int64(chunk.pcm.count)),
            ]
            if let format {
                let samples = chunk.pcm.count / format.bytesPerFrame
                data["rate"] = .int(Int64(format.rate))
                data["width"] = .int(Int64(format.width))
                data["channels"] = .int(Int64(format.channels))
                data["samples"] = .int(Int64(samples))
                data["duration_ms"] = .double((Double(samples) * 1000 / Double(format.rate) * 1000).rounded() / 1000)
                data["peak_dbfs"] = .double((PCM.peakDBFS(chunk.pcm, width: format.width) * 10).rounded() / 10)
            }
            if includePCM { data["pcm"] = .string(Data(chunk.pcm).base64EncodedString()) }
            return Event(EventType.audioChunk, data).jsonText
        }
    }

    public struct LineProblem: Error, Sendable {
        public var reason: String
    }

    /// Parses one text line into a frame.
    public static func frame(fromLine line: some Collection<UInt8>) -> Result<Frame, LineProblem> {
        let json: JSONValue
        do { json = try JSONValue.parse(line) } catch { return .failure(.init(reason: error.reason)) }
        let event: Event
        switch Event.from(json: json) {
        case .success(let e): event = e
        case .failure(let shape): return .failure(.init(reason: shape.reason))
        }
        guard event.type == EventType.audioChunk else { return .success(.event(event)) }
        guard let base64 = event["pcm"]?.string else {
            return .failure(.init(reason: "audio-chunk has no \"pcm\" samples (summaries from --text cannot be played; write them with --text-pcm)"))
        }
        guard let pcm = Data(base64Encoded: base64) else {
            return .failure(.init(reason: "audio-chunk \"pcm\" is not valid base64"))
        }
        return .success(.audio(AudioChunk(timestamp: event.timestampNanoseconds ?? 0, pcm: Array(pcm))))
    }
}

/// Small helpers over interleaved little-endian PCM bytes.
public enum PCM {
    /// Peak level in dBFS (-inf for silence is reported as -120).
    public static func peakDBFS(_ pcm: [UInt8], width: Int) -> Double {
        var peak: Double = 0
        pcm.withUnsafeBytes { raw in
            switch width {
            case 2:
                for i in stride(from: 0, to: raw.count - 1, by: 2) {
                    let v = Int16(bitPattern: UInt16(raw[i]) | UInt16(raw[i + 1]) << 8)
                    peak = max(peak, abs(Double(v)) / 32768)
                }
            case 4:
                for i in stride(from: 0, to: raw.count - 3, by: 4) {
                    let u = UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24
                    peak = max(peak, abs(Double(Int32(bitPattern: u))) / 2_147_483_648)
                }
            default: break
            }
        }
        return peak > 0 ? max(-120, 20 * log10(peak)) : -120
    }
}
