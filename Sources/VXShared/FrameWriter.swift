/// Writes frames to a byte sink, one whole frame per write, from any thread.
///
/// The binary form is the default; the text form (JSON lines, audio summarised)
/// is for people, e.g. when a stage's stdout is a terminal.
public final class FrameWriter: @unchecked Sendable {
    public enum Form: Sendable { case binary, text }

    public let sink: any ByteSink
    public let form: Form
    private let lock = Lock()
    private var buffer: [UInt8] = []
    private var closed = false
    /// The text form names each audio frame's format.
    private var format: AudioFormat?

    /// The `audio-start` of the stretch being written, repeated to a new peer
    /// when a socket sink reconnects inside a stretch.
    private var openStretch: [UInt8]?

    public init(sink: any ByteSink, form: Form = .binary) {
        self.sink = sink
        self.form = form
        sink.greeting = { [unowned self] in openStretch ?? [] }
    }

    public func write(_ frame: Frame) throws {
        try write([frame])
    }

    /// Writes several frames with one system call where possible.
    public func write(_ frames: [Frame]) throws {
        try lock.withLock {
            guard !closed else { return }
            buffer.removeAll(keepingCapacity: true)
            encode(frames)
            try buffer.withUnsafeBytes { try sink.write($0) }
        }
    }

    /// Writes `finalFrames` (best effort), then closes the sink; later writes are dropped.
    /// Waits for a write in progress on another thread, so no frame is cut in half.
    public func close(after finalFrames: [Frame] = []) {
        lock.withLock {
            guard !closed else { return }
            buffer.removeAll(keepingCapacity: true)
            encode(finalFrames)
            if !buffer.isEmpty { try? buffer.withUnsafeBytes { try sink.write($0) } }
            closed = true
            sink.close()
        }
    }

    private func encode(_ frames: [Frame]) {
        for frame in frames {
            let start = buffer.count
            switch form {
            case .binary:
                FrameEncoder.encode(frame, into: &buffer)
            case .text:
                buffer.append(contentsOf: TextForm.line(for: frame, format: format).utf8)
                buffer.append(0x0a)
            }
            if case .event(let event) = frame {
                if event.type == EventType.audioStart {
                    openStretch = Array(buffer[start...])
                    format = try? event.audioFormat().get()
                }
                if event.type == EventType.audioStop { openStretch = nil }
            }
        }
    }
}
