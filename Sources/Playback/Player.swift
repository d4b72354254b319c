import Logging
import VXAudio
import VXShared

/// Plays a frame stream: the library side of `vx-play`.
///
/// A reader thread reads frames eagerly, so an `interrupt` is seen while audio
/// is still queued; a player thread writes the queued audio to the output. Each
/// stretch (audio-start … audio-stop) gets one `playing` event as its first audio
/// goes to the output, and one `played` report, once it has been heard or when an
/// interrupt cuts it (a stretch cut while still queued gets only the `played`). Other events are forwarded as they arrive.
public struct Player: Sendable {
    public let configuration: PlayerConfiguration
    public let logger: Logger

    public init(configuration: PlayerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Plays until the input ends. Throws `ToolError`s (and the shared
    /// `FrameError`, `IOError`, `TransportError`) for `runTool` to report.
    public func run() throws {
        if case .text(let includePCM) = configuration.output {
            try TextDump(configuration: configuration, includePCM: includePCM, logger: logger).run()
        } else {
            try PlaybackSession(configuration: configuration, logger: logger).run()
        }
    }
}

/// `--text`: every frame as a JSON line on stdout (audio summarised, or with its
/// samples in base64), written as it arrives.
struct TextDump {
    let configuration: PlayerConfiguration
    let includePCM: Bool
    let logger: Logger

    func run() throws {
        let transport = Transport(logger: logger)
        let reader = FrameReader(source: try transport.source(configuration.input), maxPayload: configuration.maxFrame,
                                 logger: logger)
        let output = try transport.sink(.stdio)
        let lock = Monitor()
        // A signal waits for the line being written, so the text ends on a whole line.
        TerminationSignals.install { _ in
            _ = lock.withLock(timeout: .seconds(2)) {}
            reader.source.close()
        }
        defer { reader.source.close() }
        while let frame = try reader.next() {
            var line = TextForm.line(for: frame, format: reader.format, includePCM: includePCM)
            line += "\n"
            try lock.withLock {
                try line.withUTF8 { try output.write(UnsafeRawBufferPointer($0)) }
            }
        }
    }
}
