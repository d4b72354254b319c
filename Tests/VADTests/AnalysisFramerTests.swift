import Foundation
import Testing
import VXShared
@testable import VAD

/// The analysis copy: 10 ms frames at 16 kHz mono with the stream time of their first sample.
struct AnalysisFramerTests {
    static func pcm16(_ samples: [Int16]) -> [UInt8] {
        samples.flatMap { s in [UInt8(truncatingIfNeeded: s), UInt8(truncatingIfNeeded: s >> 8)] }
    }

    /// Splits `samples` (interleaved, `format`) into chunks of `chunkFrames`, timed from `start`.
    static func chunks(_ pcm: [UInt8], format: AudioFormat, chunkFrames: Int, start: UInt64) -> [AudioChunk] {
        let step = chunkFrames * format.bytesPerFrame
        return stride(from: 0, to: pcm.count, by: step).map { offset in
            AudioChunk(timestamp: start + format.nanoseconds(forFrames: offset / format.bytesPerFrame),
                       pcm: Array(pcm[offset..<min(pcm.count, offset + step)]))
        }
    }

    static func frames(_ chunks: [AudioChunk], format: AudioFormat) throws -> [(time: UInt64, samples: [Int16])] {
        let framer = try AnalysisFramer(format: format)
        var out: [(UInt64, [Int16])] = []
        for chunk in chunks { framer.append(chunk) { out.append(($0, Array($1))) } }
        framer.finish { out.append(($0, Array($1))) }
        return out
    }

    @Test(arguments: [1, 7, 160, 333, 320, 4_000])
    func pipelineAudioIsFramedSampleExactWhateverTheChunkSize(chunkFrames: Int) throws {
        let samples = (0..<16_000).map { Int16(truncatingIfNeeded: $0 &* 7) }
        let start: UInt64 = 123_456_789
        let frames = try Self.frames(Self.chunks(Self.pcm16(samples), format: .pipeline, chunkFrames: chunkFrames, start: start),
                                     format: .pipeline)
        #expect(frames.count == 100)
        #expect(frames.map(\.time) == (0..<100).map { start + UInt64($0) * 10_000_000 })
        #expect(frames.enumerated().allSatisfy { k, f in f.samples == Array(samples[k * 160..<(k + 1) * 160]) })
    }

    @Test func timesFollowAGapInTheStream() throws {
        let pcm = Self.pcm16([Int16](repeating: 100, count: 3_200))
        var chunks = Self.chunks(pcm, format: .pipeline, chunkFrames: 320, start: 0)
        for i in 5..<chunks.count { chunks[i].timestamp += 1_000_000_000 }  // a second of audio lost upstream
        let times = try Self.frames(chunks, format: .pipeline).map(\.time)
        let expected: [UInt64] = (0..<20).map { k in UInt64(k) * 10_000_000 + (k < 10 ? 0 : 1_000_000_000) }
        #expect(times == expected)
    }

    /// 0.5 s of silence, then a tone: the first loud analysis frame must be the one at 500 ms.
    @Test(arguments: [
        AudioFormat(rate: 48_000, width: 4, channels: 2), AudioFormat(rate: 8_000, width: 2, channels: 1),
        AudioFormat(rate: 44_100, width: 2, channels: 1), AudioFormat(rate: 16_000, width: 4, channels: 1),
    ])
    func otherFormatsAreConvertedAndKeepTheirTimes(format: AudioFormat) throws {
        let rate = Double(format.rate), n = format.rate  // one second
        var pcm: [UInt8] = []
        for i in 0..<n {
            let x = i < n / 2 ? 0 : 0.5 * sin(2 * Double.pi * 1_000 * Double(i) / rate)
            for _ in 0..<format.channels {
                if format.width == 2 {
                    let v = Int16((x * 32_767).rounded())
                    pcm += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
                } else {
                    let v = Int32((x * 2_147_483_647).rounded())
                    pcm += (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
                }
            }
        }
        let start: UInt64 = 7_000_000_000
        let frames = try Self.frames(Self.chunks(pcm, format: format, chunkFrames: format.rate / 50, start: start), format: format)
        #expect((99...100).contains(frames.count))
        #expect(frames.first?.time == start)
        let loud = try #require(frames.first { f in f.samples.withUnsafeBufferPointer { frameLevel($0) } > -30 })
        // The tone starts at 500 ms; the resampler's filter may smear it by a fraction of a millisecond.
        #expect(loud.time == start + 500_000_000 || loud.time == start + 490_000_000, "first loud frame at \(loud.time - start) ns")
        #expect(frames.map(\.time) == (0..<frames.count).map { start + UInt64($0) * 10_000_000 })
    }
}
