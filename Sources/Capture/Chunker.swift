import VXShared

/// Cuts a stretch of PCM into fixed-duration audio frames stamped with stream
/// time. The last frame of a stretch may be shorter.
public struct Chunker {
    public let format: AudioFormat
    public let framesPerChunk: Int
    private var pending: [UInt8] = []
    /// Stream time of the first sample in `pending`.
    public private(set) var position: UInt64
    private var framesInStretch = 0
    private let stretchStart: UInt64

    public init(format: AudioFormat, framesPerChunk: Int, start: UInt64) {
        self.format = format
        self.framesPerChunk = framesPerChunk
        self.position = start
        self.stretchStart = start
    }

    /// Adds PCM and returns the chunks now complete.
    public mutating func add(_ pcm: [UInt8]) -> [AudioChunk] {
        pending.append(contentsOf: pcm)
        let chunkBytes = framesPerChunk * format.bytesPerFrame
        guard pending.count >= chunkBytes else { return [] }
        var chunks: [AudioChunk] = []
        var offset = 0
        while pending.count - offset >= chunkBytes {
            chunks.append(AudioChunk(timestamp: position, pcm: Array(pending[offset..<offset + chunkBytes])))
            offset += chunkBytes
            advance(by: framesPerChunk)
        }
        pending.removeFirst(offset)
        return chunks
    }

    /// The remainder as a last, shorter chunk, if any.
    public mutating func finish() -> AudioChunk? {
        guard !pending.isEmpty else { return nil }
        let chunk = AudioChunk(timestamp: position, pcm: pending)
        advance(by: pending.count / format.bytesPerFrame)
        pending.removeAll()
        return chunk
    }

    /// Stream time is computed from the frame count since the stretch began,
    /// so it does not drift by rounding chunk after chunk.
    private mutating func advance(by frames: Int) {
        framesInStretch += frames
        position = stretchStart + format.nanoseconds(forFrames: framesInStretch)
    }
}
