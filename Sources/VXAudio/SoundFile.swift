import Glibc
import CSndFile
import VXShared

/// A sound file opened for reading through libsndfile (WAV, FLAC, Ogg/Vorbis,
/// AIFF, AU, CAF, ...). Owns the SNDFILE handle.
public final class SoundFileReader {
    public let path: String
    public let rate: Int
    public let channels: Int
    /// Sample frames in the file, as its header says (may be unknown for some streams).
    public let frames: Int64
    /// libsndfile's major format name, e.g. "WAV (Microsoft)".
    public let formatName: String
    /// Bits of integer PCM in the file, or nil for float, compressed or other encodings.
    public let pcmBits: Int?
    private let handle: OpaquePointer

    public convenience init(path: String) throws {
        var info = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &info) else {
            let reason = String(cString: sf_strerror(nil))
            throw Self.openError(path: path, reason: reason)
        }
        try self.init(handle: handle, info: info, path: path)
    }

    /// Reads standard input: a sound file libsndfile recognises from its header
    /// (WAV, AU, FLAC, ... through a pipe), or headerless PCM described by `raw`.
    public convenience init(standardInput raw: RawPCMFormat?) throws {
        var info = SF_INFO()
        if let raw {
            info.samplerate = Int32(raw.rate)
            info.channels = Int32(raw.channels)
            info.format = raw.sndfileFormat
        }
        guard let handle = sf_open_fd(0, Int32(SFM_READ), &info, 0) else {
            let reason = String(cString: sf_strerror(nil))
            let hint = raw == nil
                ? " (from a pipe, libsndfile reads WAV, AU and Ogg; give FLAC and other files by path, or describe headerless PCM with --raw)"
                : ""
            throw ToolError("standard input is not a readable audio stream: \(reason)\(hint)", exit: .dataError)
        }
        try self.init(handle: handle, info: info, path: "stdin")
    }

    private init(handle: OpaquePointer, info: SF_INFO, path: String) throws {
        self.path = path
        self.handle = handle
        rate = Int(info.samplerate)
        channels = Int(info.channels)
        frames = Int64(info.frames)
        var formatInfo = SF_FORMAT_INFO()
        formatInfo.format = info.format & Int32(SF_FORMAT_TYPEMASK)
        sf_command(handle, Int32(SFC_GET_FORMAT_INFO), &formatInfo, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
        formatName = formatInfo.name.map { String(cString: $0) } ?? "unknown"
        switch info.format & Int32(SF_FORMAT_SUBMASK) {
        case Int32(SF_FORMAT_PCM_16): pcmBits = 16
        case Int32(SF_FORMAT_PCM_S8), Int32(SF_FORMAT_PCM_U8): pcmBits = 8
        case Int32(SF_FORMAT_PCM_24): pcmBits = 24
        case Int32(SF_FORMAT_PCM_32): pcmBits = 32
        default: pcmBits = nil
        }
        guard rate > 0, channels > 0 else {
            sf_close(handle)
            throw ToolError("\(path): the file declares \(rate) Hz and \(channels) channels", exit: .dataError)
        }
    }

    deinit { sf_close(handle) }

    static func openError(path: String, reason: String) -> ToolError {
        var info = stat()
        if stat(path, &info) != 0 {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            return ToolError("cannot open \(path): \(reason)", exit: .noInput)
        }
        if access(path, R_OK) != 0 {
            return ToolError("cannot open \(path): permission denied", exit: .noInput)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            return ToolError("cannot open \(path): it is a directory", exit: .noInput)
        }
        return ToolError("\(path) is not a readable audio file: \(reason)", exit: .dataError)
    }

    /// Reads up to `count` interleaved frames as floats in [-1, 1); returns frames read (0 at the end).
    public func read(into buffer: inout [Float], frames count: Int) throws -> Int {
        if buffer.count < count * channels { buffer = [Float](repeating: 0, count: count * channels) }
        let n = buffer.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(count)) }
        try checkError()
        return Int(n)
    }

    /// Reads up to `count` interleaved frames as 32-bit integers (16-bit samples shifted left by 16).
    public func read(into buffer: inout [Int32], frames count: Int) throws -> Int {
        if buffer.count < count * channels { buffer = [Int32](repeating: 0, count: count * channels) }
        let n = buffer.withUnsafeMutableBufferPointer { sf_readf_int(handle, $0.baseAddress, sf_count_t(count)) }
        try checkError()
        return Int(n)
    }

    private func checkError() throws {
        let code = sf_error(handle)
        if code != 0 {
            throw ToolError("\(path): \(String(cString: sf_strerror(handle)))", exit: .dataError)
        }
    }
}

/// A sound file written through libsndfile; the container comes from the file
/// name's extension. It is written beside its final name as a hidden temporary
/// file and renamed into place by `close()`, so an existing file is replaced
/// only by a complete one; `discard()` removes it instead.
public final class SoundFileWriter {
    public let path: String
    public let format: AudioFormat
    private let temporaryPath: String
    private var handle: OpaquePointer?

    /// The file types vx writes, by extension.
    public static let types: [(ext: String, major: Int32, name: String)] = [
        ("wav", Int32(SF_FORMAT_WAV), "WAV"), ("flac", Int32(SF_FORMAT_FLAC), "FLAC"),
        ("ogg", Int32(SF_FORMAT_OGG), "Ogg/Vorbis"), ("oga", Int32(SF_FORMAT_OGG), "Ogg/Vorbis"),
        ("aiff", Int32(SF_FORMAT_AIFF), "AIFF"), ("aif", Int32(SF_FORMAT_AIFF), "AIFF"),
        ("au", Int32(SF_FORMAT_AU), "Sun AU"), ("caf", Int32(SF_FORMAT_CAF), "CAF"),
        ("w64", Int32(SF_FORMAT_W64), "Sony Wave64"),
    ]

    public static func isSupported(path: String) -> Bool { major(for: path) != nil }

    static func major(for path: String) -> Int32? {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        let ext = path[path.index(after: dot)...].lowercased()
        return types.first { $0.ext == ext }?.major
    }

    public init(path: String, format: AudioFormat) throws {
        guard let major = Self.major(for: path) else {
            let known = Self.types.map { "." + $0.ext }.joined(separator: ", ")
            throw ToolError("cannot tell the audio file type of \(path) from its extension; use one of \(known)", exit: .usage)
        }
        self.path = path
        self.format = format
        let sub: Int32
        switch major {
        case Int32(SF_FORMAT_OGG): sub = Int32(SF_FORMAT_VORBIS)
        case Int32(SF_FORMAT_FLAC): sub = format.width == 2 ? Int32(SF_FORMAT_PCM_16) : Int32(SF_FORMAT_PCM_24)
        default: sub = format.width == 2 ? Int32(SF_FORMAT_PCM_16) : Int32(SF_FORMAT_PCM_32)
        }
        var info = SF_INFO()
        info.samplerate = Int32(format.rate)
        info.channels = Int32(format.channels)
        info.format = major | sub
        guard sf_format_check(&info) != 0 else {
            throw ToolError("\(path): this file type cannot hold \(format)", exit: .usage)
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(directory).\(name).\(getpid()).part"
        guard let handle = sf_open(temporaryPath, Int32(SFM_WRITE), &info) else {
            var reason = String(cString: sf_strerror(nil))
            if reason.hasPrefix("System error : ") { reason = String(reason.dropFirst(15)) }
            throw ToolError("cannot create \(path): \(reason)", exit: .ioError)
        }
        self.handle = handle
    }

    deinit { discard() }

    /// Writes interleaved little-endian PCM in `format`.
    public func write(pcm: [UInt8]) throws {
        guard let handle else { return }
        let frames = pcm.count / format.bytesPerFrame
        let written: sf_count_t = pcm.withUnsafeBytes { raw in
            switch format.width {
            case 2: sf_writef_short(handle, raw.bindMemory(to: Int16.self).baseAddress, sf_count_t(frames))
            default: sf_writef_int(handle, raw.bindMemory(to: Int32.self).baseAddress, sf_count_t(frames))
            }
        }
        guard written == frames else {
            throw ToolError("cannot write \(path): \(String(cString: sf_strerror(handle)))", exit: .ioError)
        }
    }

    /// Finishes the header and puts the file in place. Safe to call twice.
    public func close() {
        guard let handle else { return }
        sf_close(handle)
        self.handle = nil
        if rename(temporaryPath, path) != 0 { unlink(temporaryPath) }
    }

    /// Closes and removes the file, leaving whatever was at `path` untouched.
    public func discard() {
        guard let handle else { return }
        sf_close(handle)
        self.handle = nil
        unlink(temporaryPath)
    }
}

/// Headerless PCM, described the way sox describes it: rate, bits, channels,
/// encoding and byte order.
public struct RawPCMFormat: Sendable, Equatable {
    public enum Encoding: String, Sendable, CaseIterable {
        case signed = "signed-integer", unsigned = "unsigned-integer", float = "floating-point"
    }

    public enum Endian: String, Sendable, CaseIterable {
        case little, big
    }

    public var rate: Int
    public var bits: Int
    public var channels: Int
    public var encoding: Encoding
    public var endian: Endian

    public init(rate: Int, bits: Int, channels: Int, encoding: Encoding = .signed, endian: Endian = .little) {
        self.rate = rate
        self.bits = bits
        self.channels = channels
        self.encoding = encoding
        self.endian = endian
    }

    /// Why libsndfile cannot read this, or nil.
    public var problem: String? {
        switch (encoding, bits) {
        case (.signed, 8), (.signed, 16), (.signed, 24), (.signed, 32), (.unsigned, 8), (.float, 32), (.float, 64): break
        default: return "\(bits)-bit \(encoding.rawValue) raw PCM is not supported (signed 8/16/24/32, unsigned 8, float 32/64)"
        }
        if !(1...768_000).contains(rate) { return "raw rate \(rate) is not from 1 to 768000 Hz" }
        if !(1...32).contains(channels) { return "raw channels \(channels) is not from 1 to 32" }
        return nil
    }

    var sndfileFormat: Int32 {
        let sub: Int32
        switch (encoding, bits) {
        case (.signed, 8): sub = Int32(SF_FORMAT_PCM_S8)
        case (.signed, 16): sub = Int32(SF_FORMAT_PCM_16)
        case (.signed, 24): sub = Int32(SF_FORMAT_PCM_24)
        case (.signed, 32): sub = Int32(SF_FORMAT_PCM_32)
        case (.unsigned, _): sub = Int32(SF_FORMAT_PCM_U8)
        case (.float, 64): sub = Int32(SF_FORMAT_DOUBLE)
        default: sub = Int32(SF_FORMAT_FLOAT)
        }
        let order = endian == .little ? Int32(SF_ENDIAN_LITTLE) : Int32(SF_ENDIAN_BIG)
        return Int32(SF_FORMAT_RAW) | sub | order
    }
}
