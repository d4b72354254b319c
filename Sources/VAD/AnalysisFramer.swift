import VXAudio
import VXShared

/// Cuts one stretch of audio, in whatever format it arrives, into 10 ms frames
/// of 16 kHz mono 16-bit samples for an engine, each with the stream time of
/// its first sample. The audio itself is not changed; this is a copy for analysis.
///
/// Stream time comes from the audio frames' own timestamps: every incoming
/// chunk anchors its first sample's place in the analysis signal to its
/// timestamp, and a frame's time is its nearest anchor plus the samples since,
/// at 16 kHz. With 16 kHz input that is exact to the sample; resampled input
/// (libsoxr, which keeps input and output aligned) is exact to within a sample.
/// A gap in the timestamps moves the times on with it.
public final class AnalysisFramer {
    public let format: AudioFormat
    private let converter: SampleConverter?
    private var converted: [UInt8] = []
    /// Samples not yet cut into a frame; `pending[0]` is analysis sample `pendingIndex`.
    private var pending: [Int16] = []
    private var pendingIndex = 0
    /// Input sample frames seen so far in this stretch.
    private var inputFrames = 0
    /// Analysis sample index ↔ stream time of the chunks not yet fully framed, oldest first.
    private var anchors: [(index: Int, time: UInt64)] = []

    public init(format: AudioFormat) throws {
        self.format = format
        let direct = format == .pipeline
        converter = direct ? nil : try SampleConverter(inputRate: format.rate, inputChannels: format.channels, output: .pipeline)
    }

    /// Adds a chunk and calls `body` for each whole analysis frame it completes.
    public func append(_ chunk: AudioChunk, _ body: (UInt64, UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        let frames = chunk.pcm.count / format.bytesPerFrame
        guard frames > 0 else { return }
        let index = Int((Int64(inputFrames) * Int64(AnalysisFormat.rate) + Int64(format.rate / 2)) / Int64(format.rate))
        if anchors.last?.index == index { anchors.removeLast() }
        anchors.append((index, chunk.timestamp))
        inputFrames += frames
        if let converter {
            converted.removeAll(keepingCapacity: true)
            converter.convert(pcm: chunk.pcm, format: format, into: &converted)
            appendSamples(converted)
        } else {
            appendSamples(chunk.pcm)
        }
        try cut(body)
    }

    /// The stretch is over: frames the resampler still held are cut too; a last
    /// partial frame (under 10 ms) is left out.
    public func finish(_ body: (UInt64, UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        if let converter {
            converted.removeAll(keepingCapacity: true)
            converter.flush(into: &converted)
            appendSamples(converted)
            try cut(body)
        }
        pending.removeAll()
    }

    private func appendSamples(_ bytes: [UInt8]) {
        pending.reserveCapacity(pending.count + bytes.count / 2)
        var i = 0
        while i + 1 < bytes.count {
            pending.append(Int16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8))
            i += 2
        }
    }

    private func cut(_ body: (UInt64, UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        let n = AnalysisFormat.frameLength
        var offset = 0
        defer {
            if offset > 0 {
                pending.removeFirst(offset)
                pendingIndex += offset
            }
        }
        while pending.count - offset >= n {
            let index = pendingIndex + offset
            while anchors.count > 1 && anchors[1].index <= index { anchors.removeFirst() }
            let anchor = anchors[0]
            let time = index >= anchor.index
                ? anchor.time.addingSaturating(AudioFormat.pipeline.nanoseconds(forFrames: index - anchor.index))
                : anchor.time.subtractingSaturating(AudioFormat.pipeline.nanoseconds(forFrames: anchor.index - index))
            try pending.withUnsafeBufferPointer { try body(time, UnsafeBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
        }
    }
}
