import Foundation
import Testing
@testable import VXAudio
import VXShared

struct SampleConverterTests {
    func pcm16(_ samples: [Int16]) -> [UInt8] {
        samples.flatMap { [UInt8(UInt16(bitPattern: $0) & 0xff), UInt8(UInt16(bitPattern: $0) >> 8)] }
    }

    func samples16(_ pcm: [UInt8]) -> [Int16] {
        stride(from: 0, to: pcm.count, by: 2).map { Int16(bitPattern: UInt16(pcm[$0]) | UInt16(pcm[$0 + 1]) << 8) }
    }

    @Test func sameFormatPassesSamplesThroughUnchanged() throws {
        let converter = try SampleConverter(inputRate: 16_000, inputChannels: 1, output: .pipeline)
        let input = pcm16([0, 1, -1, 32767, -32768, 1234])
        var out: [UInt8] = []
        converter.convert(pcm: input, format: .pipeline, into: &out)
        #expect(out == input)
    }

    @Test func directIntegerPathKeepsSixteenBitSamplesExact() throws {
        let converter = try SampleConverter(inputRate: 16_000, inputChannels: 1, output: .pipeline)
        #expect(converter.isDirect)
        let values: [Int16] = [0, 1, -1, 32767, -32768, 4242]
        var out: [UInt8] = []
        converter.convertDirect(values.map { Int32($0) << 16 }[...], into: &out)
        #expect(samples16(out) == values)
    }

    @Test func floatPathRoundTripsSixteenBitValues() throws {
        // Same rate, stereo to stereo: goes through floats, must still be exact.
        let format = AudioFormat(rate: 16_000, width: 2, channels: 2)
        let converter = try SampleConverter(inputRate: 16_000, inputChannels: 2, output: format)
        let values: [Int16] = [0, 1, -1, 32767, -32768, 4242]
        var out: [UInt8] = []
        converter.convert(values.map { Float($0) / 32768 }[...], frames: 3, into: &out)
        #expect(samples16(out) == values)
    }

    @Test func stereoIsMixedToMonoByAveraging() throws {
        let converter = try SampleConverter(inputRate: 16_000, inputChannels: 2, output: .pipeline)
        var out: [UInt8] = []
        converter.convert(pcm: pcm16([1000, 3000, -2000, 0]), format: AudioFormat(rate: 16_000, width: 2, channels: 2), into: &out)
        #expect(samples16(out) == [2000, -1000])
    }

    @Test func monoIsCopiedToEveryChannel() throws {
        let converter = try SampleConverter(inputRate: 16_000, inputChannels: 1, output: AudioFormat(rate: 16_000, width: 2, channels: 2))
        var out: [UInt8] = []
        converter.convert(pcm: pcm16([100, -200]), format: .pipeline, into: &out)
        #expect(samples16(out) == [100, 100, -200, -200])
    }

    @Test func clipsInsteadOfWrappingAround() throws {
        let converter = try SampleConverter(inputRate: 16_000, inputChannels: 1, output: .pipeline)
        var out: [UInt8] = []
        converter.convert([1.5, -1.5][...], frames: 2, into: &out)
        #expect(samples16(out) == [32767, -32768])
    }

    @Test(arguments: [(44_100, 16_000), (48_000, 16_000), (8_000, 16_000), (22_050, 16_000), (16_000, 48_000)])
    func resamplingGivesTheExactLengthAndKeepsPitch(from rate: Int, to target: Int) throws {
        let seconds = 1.0, tone = 440.0
        let n = Int(Double(rate) * seconds)
        let input = (0..<n).map { Float(0.5 * sin(2 * Double.pi * tone * Double($0) / Double(rate))) }
        let converter = try SampleConverter(inputRate: rate, inputChannels: 1, output: AudioFormat(rate: target, width: 2, channels: 1))
        var out: [UInt8] = []
        for start in stride(from: 0, to: n, by: 1000) {  // in pieces, as a stream arrives
            let end = min(n, start + 1000)
            converter.convert(input[start..<end], frames: end - start, into: &out)
        }
        converter.flush(into: &out)
        let samples = samples16(out)
        #expect(samples.count == Int(Double(target) * seconds))
        // Zero crossings in the middle second-half give the pitch.
        let middle = samples[samples.count / 4..<samples.count * 3 / 4]
        var crossings = 0
        var previous = middle.first!
        for s in middle.dropFirst() {
            if (previous < 0) != (s < 0) { crossings += 1 }
            previous = s
        }
        let measured = Double(crossings) / 2 / (Double(middle.count) / Double(target))
        #expect(abs(measured - tone) < 5, "measured \(measured) Hz")
    }
}

struct SoundFileTests {
    @Test(arguments: ["wav", "flac", "aiff", "au", "caf"])
    func writesAndReadsBackEveryLosslessType(ext: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vx-\(UUID().uuidString).\(ext)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values: [Int16] = [0, 100, -100, 32767, -32768, 7]
        let writer = try SoundFileWriter(path: path, format: .pipeline)
        try writer.write(pcm: values.flatMap { [UInt8(UInt16(bitPattern: $0) & 0xff), UInt8(UInt16(bitPattern: $0) >> 8)] })
        writer.close()
        let reader = try SoundFileReader(path: path)
        #expect(reader.rate == 16_000 && reader.channels == 1 && reader.frames == 6)
        var ints: [Int32] = []
        let n = try reader.read(into: &ints, frames: 16)
        #expect(n == 6)
        #expect(ints[0..<6].map { Int16($0 >> 16) } == values)
    }

    @Test func unknownExtensionIsAUsageError() {
        #expect {
            try SoundFileWriter(path: "/tmp/out.mp5", format: .pipeline)
        } throws: { error in
            let e = error as? ToolError
            return e?.exit == .usage && e!.message.contains(".wav")
        }
    }

    @Test func missingFileAndNonAudioFileAreToldApart() throws {
        #expect { try SoundFileReader(path: "/nonexistent/a.wav") } throws: { ($0 as? ToolError)?.exit == .noInput }
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("vx-\(UUID().uuidString).wav")
        try "not audio at all".write(to: text, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: text) }
        #expect { try SoundFileReader(path: text.path) } throws: {
            ($0 as? ToolError)?.exit == .dataError && "\($0)".contains("is not a readable audio file")
        }
    }
}
