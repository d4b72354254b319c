import Logging
import VXShared

/// vx-vad's feedback input: vx-play's reports (`playing`, `played`) and
/// `interrupt`, relayed by the supervisor, read on a thread of their own into a
/// `PlaybackState`. Nothing read here is forwarded; other events are ignored.
///
/// A peer that goes away leaves playback inaudible, and the source reconnects
/// or accepts the next peer by the transport's rules (section 6 of
/// docs/PROTOCOL.md). A feedback input that ends or fails (no peer within the
/// retry policy, bad data on a connection) is logged and stops; vx-vad goes on
/// detecting voice with playback taken as inaudible.
public final class PlaybackFeedback: @unchecked Sendable {
    public let state: PlaybackState
    private let reader: FrameReader
    private let logger: Logger

    public init(source: any ByteSource, state: PlaybackState, maxPayload: Int = Frame.defaultMaxPayload, logger: Logger) {
        self.state = state
        self.logger = logger
        let watched = ConnectionWatch(source) { [state, logger] in
            state.peerLost()
            logger.info("feedback peer went away; playback taken as inaudible", metadata: ["feedback": "\(source.name)"])
        }
        reader = FrameReader(source: watched, maxPayload: maxPayload, logger: logger)
    }

    /// Reads the feedback on a new thread until it ends.
    public func start() {
        startThread("vx-vad-feedback") { [self] in run() }
    }

    /// Reads the feedback until it ends; never throws.
    public func run() {
        do {
            while let frame = try reader.next() {
                guard let event = frame.event, state.handle(event) else { continue }
                logger.debug("playback feedback", metadata: ["event": "\(event.type)", "audible": "\(state.isAudible)"])
            }
            logger.info("feedback input ended; playback taken as inaudible", metadata: ["feedback": "\(reader.source.name)"])
        } catch {
            logger.error("feedback input failed; playback taken as inaudible", metadata: [
                "feedback": "\(reader.source.name)", "error": "\(error)",
            ])
        }
        state.peerLost()
    }

    /// Stops reading: closes the connection and removes a listening socket.
    public func close() { reader.source.close() }
}

/// A byte source that says when one of its connections has ended.
final class ConnectionWatch: ByteSource {
    private let base: any ByteSource
    private let ended: () -> Void

    init(_ base: any ByteSource, ended: @escaping () -> Void) {
        self.base = base
        self.ended = ended
    }

    var name: String { base.name }
    var servesPeersInTurn: Bool { base.servesPeersInTurn }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try base.read(into: buffer) }
    func close() { base.close() }

    func resume() throws -> Bool {
        ended()
        return try base.resume()
    }
}
