import CALSA
import Glibc
import VXShared

/// An ALSA PCM device opened for capture or playback, interleaved signed
/// little-endian samples. Owns the snd_pcm_t handle.
public final class ALSADevice {
    public enum Direction: Sendable {
        case capture, playback
    }

    public let name: String
    public let direction: Direction
    public let format: AudioFormat
    private let pcm: OpaquePointer

    /// Opens `name` ("default", "hw:0,0", "plughw:1", "null", ...) with ALSA's
    /// own conversion allowed, and a buffer of about `latency`.
    public init(name: String, direction: Direction, format: AudioFormat, latency: Duration = .milliseconds(100)) throws {
        vx_alsa_silence_errors()
        self.name = name
        self.direction = direction
        self.format = format
        var handle: OpaquePointer?
        let stream = direction == .capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK
        let role = direction == .capture ? "capture" : "playback"
        var rc = snd_pcm_open(&handle, name, stream, 0)
        guard rc == 0, let handle else {
            throw ToolError("cannot open ALSA \(role) device '\(name)': \(Self.reason(rc))", exit: .unavailable)
        }
        let sampleFormat = format.width == 2 ? SND_PCM_FORMAT_S16_LE : SND_PCM_FORMAT_S32_LE
        let micros = UInt32(latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000)
        rc = snd_pcm_set_params(handle, sampleFormat, SND_PCM_ACCESS_RW_INTERLEAVED, UInt32(format.channels),
                                UInt32(format.rate), 1, micros)
        guard rc == 0 else {
            snd_pcm_close(handle)
            throw ToolError("ALSA \(role) device '\(name)' cannot use \(format): \(Self.reason(rc))", exit: .unavailable)
        }
        pcm = handle
    }

    deinit { snd_pcm_close(pcm) }

    static func reason(_ rc: Int32) -> String {
        rc == -ENOENT ? "no such device" : String(cString: snd_strerror(rc))
    }

    /// Reads up to `frames` sample frames into `buffer`, waiting for them; recovers from overruns.
    public func read(into buffer: inout [UInt8], frames: Int) throws -> Int {
        if buffer.count < frames * format.bytesPerFrame {
            buffer = [UInt8](repeating: 0, count: frames * format.bytesPerFrame)
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { snd_pcm_readi(pcm, $0.baseAddress, snd_pcm_uframes_t(frames)) }
            if n >= 0 { return Int(n) }
            let rc = snd_pcm_recover(pcm, Int32(n), 1)
            if rc < 0 { throw ToolError("cannot read from ALSA device '\(name)': \(Self.reason(Int32(n)))", exit: .ioError) }
        }
    }

    /// Writes all of `pcm`, waiting for room; recovers from underruns.
    public func write(_ bytes: ArraySlice<UInt8>) throws {
        let total = bytes.count / format.bytesPerFrame
        var done = 0
        while done < total {
            let n = bytes.withUnsafeBytes { raw in
                snd_pcm_writei(pcm, raw.baseAddress! + done * format.bytesPerFrame, snd_pcm_uframes_t(total - done))
            }
            if n >= 0 {
                done += Int(n)
                continue
            }
            let rc = snd_pcm_recover(pcm, Int32(n), 1)
            if rc < 0 { throw ToolError("cannot write to ALSA device '\(name)': \(Self.reason(Int32(n)))", exit: .ioError) }
        }
    }

    /// Stops at once, discarding everything queued, and gets ready for more.
    public func dropAndPrepare() {
        snd_pcm_drop(pcm)
        snd_pcm_prepare(pcm)
    }

    /// Waits until everything written has been played.
    public func drain() {
        snd_pcm_drain(pcm)
        snd_pcm_prepare(pcm)
    }

    /// Sample frames written but not yet heard (0 when unknown).
    public var queuedFrames: Int {
        var delay: snd_pcm_sframes_t = 0
        return snd_pcm_delay(pcm, &delay) == 0 ? max(0, Int(delay)) : 0
    }
}
