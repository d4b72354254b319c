import Glibc
import VXShared

/// Frame codec throughput for 20 ms pipeline frames (640 bytes of 16 kHz mono
/// 16-bit audio), with a plain memory copy of the same bytes as the same-run reference.
/// Run by scripts/bench: `vx-codec-bench [seconds-of-audio]`.
@main
struct CodecBench {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Best of `runs` timings of `body`, in seconds.
    static func best(_ runs: Int = 5, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<runs {
            let start = now()
            body()
            best = min(best, now() - start)
        }
        return best
    }

    static func main() {
        let seconds = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 600
        let count = seconds * 50
        let pcm = (0..<640).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        var frames: [Frame] = [.event(.audioStart(.pipeline, timestamp: 0))]
        for i in 0..<count { frames.append(.audio(AudioChunk(timestamp: UInt64(i) * 20_000_000, pcm: pcm))) }
        frames.append(.event(.audioStop(timestamp: UInt64(count) * 20_000_000)))

        var wire: [UInt8] = []
        let encode = best {
            wire.removeAll(keepingCapacity: true)
            for frame in frames { FrameEncoder.encode(frame, into: &wire) }
        }
        var decoded = 0
        let decode = best {
            var decoder = FrameDecoder()
            decoded = 0
            var offset = 0
            while offset < wire.count {
                let end = min(wire.count, offset + 65_536)
                wire.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
                offset = end
                while let _ = try? decoder.next() { decoded += 1 }
            }
        }
        precondition(decoded == frames.count, "decoded \(decoded) of \(frames.count) frames")
        var copy = [UInt8](repeating: 0, count: wire.count)
        let memcpy = best {
            copy.withUnsafeMutableBytes { dst in wire.withUnsafeBytes { dst.copyMemory(from: $0) } }
        }
        precondition(copy == wire)

        let mb = Double(wire.count) / 1e6
        func line(_ name: String, _ t: Double) -> String {
            let fps = Double(frames.count) / t
            return "\(name)  \(Int(fps)) frames/s  \(Int(mb / t)) MB/s  (\(Int(fps * 0.02))x real time)"
        }
        print("codec: \(frames.count) frames, \(Int(mb)) MB (\(seconds) s of 16 kHz mono 16-bit audio in 20 ms frames)")
        print(line("  encode         ", encode))
        print(line("  decode         ", decode))
        print("  reference memcpy of the same bytes: \(Int(mb / memcpy)) MB/s")
    }
}
