import Logging

/// Reads frames from a byte source and checks them against the stream's rules:
/// audio only after an `audio-start` with a valid format, and only whole
/// sample frames. Each new connection of a socket source starts a new stream.
///
/// Use it from one thread; `next()` blocks until a frame, the end (nil), or an
/// error. (It is `Sendable` only so a signal handler may close its source on the way out.)
public final class FrameReader: @unchecked Sendable {
    public let source: any ByteSource
    public private(set) var format: AudioFormat?
    private var decoder: FrameDecoder
    private let maxPayload: Int
    private let logger: Logger
    private var chunk = [UInt8](repeating: 0, count: 65_536)
    private var ended = false

    public init(source: any ByteSource, maxPayload: Int = Frame.defaultMaxPayload, logger: Logger) {
        self.source = source
        self.maxPayload = maxPayload
        self.decoder = FrameDecoder(maxPayload: maxPayload)
        self.logger = logger
    }

    /// Bytes consumed from the current stream.
    public var offset: Int { decoder.offset }

    /// The next frame, or nil when the input is over.
    public func next() throws -> Frame? {
        while !ended {
            do {
                if let frame = try nextInStream() { return frame }
            } catch let error as FrameError where source.servesPeersInTurn {
                // A listener outlives a peer that sent bad data: drop it and serve the next.
                logger.error("dropped a peer that sent bad data", metadata: ["error": "\(error)"])
                try startNextStream()
            }
        }
        return nil
    }

    /// The next frame of the current connection's stream; nil when it ended
    /// (the next stream, if any, has then been started).
    private func nextInStream() throws -> Frame? {
        while true {
            if let frame = try decoder.next() { return try checked(frame, at: decoder.lastFrameOffset) }
            let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
            if n > 0 {
                chunk.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                continue
            }
            // End of this stream: a last unterminated text line, or a truncated frame.
            let endOffset = decoder.offset
            let last: Frame?
            switch Result(catching: { () throws(FrameError) -> Frame? in try decoder.finish() }) {
            case .success(let frame):
                last = frame
            case .failure(let error):
                // A peer that vanished mid-frame may come back; a file that ends mid-frame is corrupt.
                if case .truncatedFrame = error, try source.resume() {
                    logger.warning("peer went away inside a frame; dropped it", metadata: ["offset": "\(endOffset)"])
                    decoder = FrameDecoder(maxPayload: maxPayload)
                    format = nil
                    continue
                }
                throw error
            }
            let frame = try last.map { try checked($0, at: decoder.lastFrameOffset) }
            try startNextStream()
            return frame
        }
    }

    /// After the end of one connection's stream: the next connection starts
    /// afresh (its own form and its own audio-start), or the input is over.
    private func startNextStream() throws {
        if try source.resume() {
            decoder = FrameDecoder(maxPayload: maxPayload)
            format = nil
        } else {
            ended = true
        }
    }

    private func checked(_ frame: Frame, at offset: Int) throws(FrameError) -> Frame {
        switch frame {
        case .event(let event) where event.type == EventType.audioStart:
            switch event.audioFormat() {
            case .success(let f): format = f
            case .failure(let problem): throw .badEvent(offset: offset, reason: problem.reason)
            }
        case .audio(let chunk):
            guard let format else {
                throw .badAudio(offset: offset, reason: "audio comes before any audio-start declares its format")
            }
            guard chunk.pcm.count % format.bytesPerFrame == 0 else {
                throw .badAudio(offset: offset, reason: "\(chunk.pcm.count) bytes is not a whole number of \(format.bytesPerFrame)-byte sample frames")
            }
        default:
            break
        }
        return frame
    }
}
