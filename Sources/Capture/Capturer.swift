import Logging
import VXAudio
import VXShared

/// Where vx-capture's audio comes from.
public enum CaptureSource: Sendable, Equatable {
    /// Sound files read through libsndfile, one stretch each; "-" is standard input.
    case files([String])
    /// Headerless PCM on standard input.
    case raw(RawPCMFormat)
    /// An ALSA capture device, until a signal or for `seconds`.
    case device(String, seconds: Double?)
}

public struct CaptureConfiguration: Sendable {
    public var source: CaptureSource
    public var format: AudioFormat
    public var chunkMilliseconds: Int
    public var realtime: Bool
    /// Files: seconds of input skipped before the first frame (across the files, in order); stream
    /// time starts there, so a capture restarted part-way through goes on where the last one was.
    public var start: Double
    /// Frames whose audio is added to what is read (`--mix`), and their gain in dB.
    public var mix: Endpoint?
    public var mixGain: Double = -6

    public init(source: CaptureSource, format: AudioFormat = .pipeline, chunkMilliseconds: Int = 20, realtime: Bool = false,
                start: Double = 0) {
        self.source = source
        self.format = format
        self.chunkMilliseconds = chunkMilliseconds
        self.realtime = realtime
        self.start = start
    }

    public var framesPerChunk: Int { max(1, format.rate * chunkMilliseconds / 1000) }
}

/// Reads audio, converts it to the pipeline format and writes it as frames:
/// `audio-start`, fixed-duration audio frames, `audio-stop`, one stretch per
/// file (or one for a device). Stream time runs on across stretches.
public final class Capturer: @unchecked Sendable {
    let configuration: CaptureConfiguration
    let writer: FrameWriter
    let logger: Logger
    private var pacer = Pacer()
    /// Guards what has been written, so a signal can close the stream cleanly.
    private let lock = Lock()
    private var position: UInt64 = 0
    private var stretchOpen = false
    private var mixInput: MixInput?

    public init(configuration: CaptureConfiguration, writer: FrameWriter, logger: Logger) {
        self.configuration = configuration
        self.writer = writer
        self.logger = logger
    }

    public func run() throws {
        if let mix = configuration.mix {
            mixInput = try MixInput(endpoint: mix, format: configuration.format, gainDB: configuration.mixGain, logger: logger)
        }
        defer { mixInput?.stop() }
        switch configuration.source {
        case .files(let paths):
            // Open every input first: a bad file is reported before any frame is written.
            let readers = try paths.map { path in
                try path == "-" ? SoundFileReader(standardInput: nil) : SoundFileReader(path: path)
            }
            var skip = max(0, configuration.start)
            position = UInt64((skip * 1e9).rounded())
            for reader in readers {
                skip -= try self.skip(seconds: skip, of: reader)
                if skip > 0 { continue }
                try capture(reader)
            }
        case .raw(let format):
            try capture(SoundFileReader(standardInput: format))
        case .device(let name, let seconds):
            try captureDevice(name, seconds: seconds)
        }
        writer.close()
    }

    /// Ends the stream from a signal handler: closes an open stretch with
    /// `audio-stop` at the last written stream time, then closes the output.
    public func stop() {
        lock.withLock {
            writer.close(after: stretchOpen ? [.event(.audioStop(timestamp: position))] : [])
            stretchOpen = false
        }
    }

    private func capture(_ reader: SoundFileReader) throws {
        let format = configuration.format
        let converter = try SampleConverter(inputRate: reader.rate, inputChannels: reader.channels, output: format)
        logger.info("reading", metadata: [
            "file": "\(reader.path)", "type": "\(reader.formatName)", "rate": "\(reader.rate)",
            "channels": "\(reader.channels)",
        ])
        var chunker = try startStretch()
        let block = 4096
        var pcm: [UInt8] = []
        do {
            if converter.isDirect {
                var samples: [Int32] = []
                while true {
                    let n = try reader.read(into: &samples, frames: block)
                    if n == 0 { break }
                    pcm.removeAll(keepingCapacity: true)
                    converter.convertDirect(samples[0..<n * reader.channels], into: &pcm)
                    try emit(chunker.add(pcm))
                }
            } else {
                var samples: [Float] = []
                while true {
                    let n = try reader.read(into: &samples, frames: block)
                    if n == 0 { break }
                    pcm.removeAll(keepingCapacity: true)
                    converter.convert(samples[0..<n * reader.channels], frames: n, into: &pcm)
                    try emit(chunker.add(pcm))
                }
                pcm.removeAll(keepingCapacity: true)
                converter.flush(into: &pcm)
                try emit(chunker.add(pcm))
            }
        } catch {
            // Close the stretch so what was sent stays a well-formed stream, tell
            // the stages downstream what went wrong, then report.
            try endStretch(&chunker)
            try writer.write(.event(.error("\(error)", code: "capture-failed")))
            throw error
        }
        try endStretch(&chunker)
    }

    /// Reads and drops up to `seconds` of `reader`; returns the seconds dropped.
    private func skip(seconds: Double, of reader: SoundFileReader) throws -> Double {
        var left = Int((seconds * Double(reader.rate)).rounded())
        guard left > 0 else { return 0 }
        var dropped = 0
        var samples: [Float] = []
        while left > 0 {
            let n = try reader.read(into: &samples, frames: min(left, 4096))
            if n == 0 { break }
            left -= n
            dropped += n
        }
        if dropped > 0 { logger.info("skipped", metadata: ["file": "\(reader.path)", "seconds": "\(Double(dropped) / Double(reader.rate))"]) }
        return left > 0 ? Double(dropped) / Double(reader.rate) : seconds
    }

    private func captureDevice(_ name: String, seconds: Double?) throws {
        let format = configuration.format
        let device = try ALSADevice(name: name, direction: .capture, format: format)
        logger.info("capturing", metadata: ["device": "\(name)", "format": "\(format)"])
        let limit = seconds.map { Int(($0 * Double(format.rate)).rounded()) }
        var chunker = try startStretch()
        var buffer: [UInt8] = []
        var total = 0
        while limit.map({ total < $0 }) ?? true {
            let want = min(configuration.framesPerChunk, (limit ?? Int.max) - total)
            let n: Int
            do { n = try device.read(into: &buffer, frames: want) } catch {
                try endStretch(&chunker)
                throw error
            }
            total += n
            try emit(chunker.add(Array(buffer[0..<n * format.bytesPerFrame])))
        }
        try endStretch(&chunker)
    }

    private func startStretch() throws -> Chunker {
        try lock.withLock {
            try writer.write(.event(.audioStart(configuration.format, timestamp: position)))
            stretchOpen = true
        }
        return Chunker(format: configuration.format, framesPerChunk: configuration.framesPerChunk, start: position)
    }

    private func endStretch(_ chunker: inout Chunker) throws {
        if let last = chunker.finish() { try emit([last]) }
        try lock.withLock {
            position = chunker.position
            try writer.write(.event(.audioStop(timestamp: position)))
            stretchOpen = false
        }
    }

    private func emit(_ chunks: [AudioChunk]) throws {
        let format = configuration.format
        for var chunk in chunks {
            let end = chunk.timestamp + format.nanoseconds(forFrames: chunk.pcm.count / format.bytesPerFrame)
            // Like a microphone, a chunk is ready once its last sample has been "heard".
            if configuration.realtime { pacer.wait(until: end) }
            mixInput?.mix(into: &chunk.pcm)
            try lock.withLock {
                try writer.write(.audio(chunk))
                position = end
            }
        }
    }
}
