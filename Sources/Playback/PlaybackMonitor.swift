import Logging
import VXShared

/// A copy of what vx-play plays, as frames on a socket, sent as each piece goes to the output (so
/// at real time when the output is paced or a device). vx-capture's `--mix` adds it to the
/// microphone it simulates: a speaker-to-mic echo for testing. Written on a thread of its own, so
/// playback never waits for it; while nobody reads, the newest second or so is kept.
final class PlaybackMonitor: @unchecked Sendable {
    private let endpoint: Endpoint
    private let logger: Logger
    private let monitor = Monitor()
    private var queue: [Frame] = []
    private var closed = false
    private var format: AudioFormat?
    private var position: UInt64 = 0
    private let limit = 100
    private var started = false

    /// The writing thread starts with the first audio: after vx-play has installed its signal
    /// handling, so it too blocks SIGINT and SIGTERM.
    init(endpoint: Endpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    /// A piece of audio has just gone to the output.
    func played(_ pcm: ArraySlice<UInt8>, format: AudioFormat) {
        monitor.withLock {
            if self.format != format {
                self.format = format
                queue.append(.event(.audioStart(format, timestamp: position)))
            }
            queue.append(.audio(AudioChunk(timestamp: position, pcm: Array(pcm))))
            position += format.nanoseconds(forFrames: pcm.count / format.bytesPerFrame)
            if queue.count > limit { queue.removeFirst(queue.count - limit) }
            if !started {
                started = true
                startThread("vx-play-monitor") { [self] in run() }
            }
            monitor.signal()
        }
    }

    func close() {
        monitor.withLock {
            closed = true
            monitor.signal()
        }
    }

    private func run() {
        var writer: FrameWriter?
        var warned = false
        while true {
            let frames: [Frame] = monitor.withLock {
                while queue.isEmpty && !closed { monitor.wait() }
                defer { queue.removeAll() }
                return queue
            }
            if frames.isEmpty { break }
            do {
                if writer == nil { writer = FrameWriter(sink: try Transport(logger: logger).sink(endpoint)) }
                try writer?.write(frames)
            } catch {
                if !warned { logger.warning("monitor copy not delivered", metadata: ["to": "\(endpoint)", "error": "\(error)"]) }
                warned = true
                writer = nil
            }
        }
        writer?.close()
    }
}
