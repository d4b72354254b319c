#if canImport(Glibc)
import Glibc
#endif
import Logging
import VXAudio
import VXShared

/// Where the player's PCM goes: a file, stdout or a device. Used under the
/// session's sink lock, one call at a time.
protocol AudioSink: AnyObject {
    /// True for a device: it plays at its own pace and holds audio not yet heard.
    var isDevice: Bool { get }
    /// Gets ready for a stretch in `input` format; returns the format it wants PCM in.
    func begin(_ input: AudioFormat) throws -> AudioFormat
    /// Takes interleaved PCM in the format `begin` returned.
    func write(_ pcm: ArraySlice<UInt8>) throws
    /// Output frames taken but not yet heard.
    var queuedFrames: Int { get }
    /// Falls silent at once, discarding what is not yet heard.
    func drop()
    /// Waits until everything taken has been heard.
    func drain()
    /// Ends the output (a file gets its final header). Safe to call twice.
    func close()
    /// Ends the output after bad input: a file is not written at all, so an
    /// existing file is left as it was and no half-written one appears.
    func abandon()
}

extension AudioSink {
    func abandon() { close() }
}

/// An audio file written with libsndfile. It has one format, fixed by the
/// flags and the first stretch; the file is created only when that stretch begins.
final class FileSink: AudioSink {
    let path: String
    let override: FormatOverride
    let logger: Logger
    private var writer: SoundFileWriter?
    private var frames = 0
    private var closed = false

    init(path: String, override: FormatOverride, logger: Logger) {
        self.path = path
        self.override = override
        self.logger = logger
    }

    /// Checks before any input is read that `path` can be created: a known
    /// extension (usage error) in a writable directory (I/O error).
    static func checkCreatable(_ path: String) throws(ToolError) {
        guard SoundFileWriter.isSupported(path: path) else {
            let known = SoundFileWriter.types.map { "." + $0.ext }.joined(separator: ", ")
            throw .usage("cannot tell the audio file type of \(path) from its extension; use one of \(known)")
        }
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw .io("cannot create \(path): it is a directory")
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let shown = directory.isEmpty ? "/" : directory
        if stat(shown, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
            throw .io("cannot create \(path): no such directory \(shown)")
        }
        if access(shown, W_OK) != 0 {
            throw .io("cannot create \(path): directory \(shown) is not writable")
        }
    }

    var isDevice: Bool { false }
    var queuedFrames: Int { 0 }
    var wroteNothing: Bool { frames == 0 }

    func begin(_ input: AudioFormat) throws -> AudioFormat {
        if let writer { return writer.format }
        let format = override.applied(to: input)
        guard !closed else { return format }
        writer = try SoundFileWriter(path: path, format: format)
        logger.info("writing audio file", metadata: ["file": "\(path)", "format": "\(format)"])
        return format
    }

    func write(_ pcm: ArraySlice<UInt8>) throws {
        guard let writer else { return }
        try writer.write(pcm: Array(pcm))
        frames += pcm.count / writer.format.bytesPerFrame
    }

    func drop() {}
    func drain() {}

    func abandon() {
        guard !closed else { return }
        closed = true
        if let writer {
            writer.discard()
            logger.info("bad input: output file not written", metadata: ["file": "\(path)"])
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        guard let writer else { return }
        guard frames > 0 else {
            writer.discard()  // no audio: leave no file, and leave an existing one alone
            return
        }
        writer.close()
        let seconds = Double(frames) / Double(writer.format.rate)
        logger.info("closed audio file", metadata: [
            "file": "\(path)", "frames": "\(frames)", "seconds": "\((seconds * 1000).rounded() / 1000)",
        ])
    }
}

/// Raw PCM on stdout, in one format like a file.
final class RawSink: AudioSink {
    let output: any ByteSink
    let override: FormatOverride
    let logger: Logger
    private var format: AudioFormat?
    private var closed = false

    init(output: any ByteSink, override: FormatOverride, logger: Logger) {
        self.output = output
        self.override = override
        self.logger = logger
    }

    var isDevice: Bool { false }
    var queuedFrames: Int { 0 }

    func begin(_ input: AudioFormat) throws -> AudioFormat {
        if let format { return format }
        let chosen = override.applied(to: input)
        format = chosen
        logger.info("writing raw PCM to stdout", metadata: ["format": "\(chosen)"])
        return chosen
    }

    func write(_ pcm: ArraySlice<UInt8>) throws {
        guard !closed else { return }
        try pcm.withUnsafeBytes { try output.write($0) }
    }

    func drop() {}
    func drain() {}

    func close() {
        guard !closed else { return }
        closed = true
        output.close()
    }
}

/// An ALSA playback device, opened when the first stretch begins and reopened
/// (after the earlier audio has played) when a stretch needs another format.
final class DeviceSink: AudioSink {
    let name: String
    let override: FormatOverride
    let latency: Duration
    let logger: Logger
    private var device: ALSADevice?
    private var closed = false

    init(name: String, override: FormatOverride, latency: Duration, logger: Logger) {
        self.name = name
        self.override = override
        self.latency = latency
        self.logger = logger
    }

    var isDevice: Bool { true }
    var queuedFrames: Int { device?.queuedFrames ?? 0 }

    func begin(_ input: AudioFormat) throws -> AudioFormat {
        let format = override.applied(to: input)
        guard !closed else { return format }
        if let device {
            if device.format == format { return format }
            device.drain()
            logger.debug("reopening the device for a new format", metadata: ["device": "\(name)", "format": "\(format)"])
        }
        device = nil
        device = try ALSADevice(name: name, direction: .playback, format: format, latency: latency)
        logger.info("playing on ALSA device", metadata: ["device": "\(name)", "format": "\(format)"])
        return format
    }

    func write(_ pcm: ArraySlice<UInt8>) throws {
        try device?.write(pcm)
    }

    func drop() {
        device?.dropAndPrepare()
    }

    func drain() {
        device?.drain()
    }

    func close() {
        closed = true
        device = nil  // snd_pcm_close
    }
}
