import Logging
import VXShared

/// A copy of what vx-play plays, as frames on a socket, sent as each piece goes to the output (so
/// at real time when the output is paced or a device). vx-capture's `--mix` adds it to the
/// microphone it simulates: a speaker-to-mic echo for testing. Written by a `QueuedFrameWriter`,
/// so playback never waits for it; while nobody reads, the newest second or so is kept.
final class PlaybackMonitor: @unchecked Sendable {
    private let output: QueuedFrameWriter
    private let lock = Lock()
    private var format: AudioFormat?
    private var position: UInt64 = 0

    init(endpoint: Endpoint, logger: Logger) {
        output = QueuedFrameWriter(endpoint: endpoint, limit: 100, logger: logger)
    }

    /// A piece of audio has just gone to the output.
    func played(_ pcm: ArraySlice<UInt8>, format: AudioFormat) {
        let frames: [Frame] = lock.withLock {
            var frames: [Frame] = []
            if self.format != format {
                self.format = format
                frames.append(.event(.audioStart(format, timestamp: position)))
            }
            frames.append(.audio(AudioChunk(timestamp: position, pcm: Array(pcm))))
            position += format.nanoseconds(forFrames: pcm.count / format.bytesPerFrame)
            return frames
        }
        output.send(frames)
    }
}
