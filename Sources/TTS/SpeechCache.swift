#if canImport(Glibc)
import Glibc
#endif
import Logging
import VXShared

/// Synthesised sentences on disk, so a phrase said before comes back at once.
///
/// One file per sentence, named by a 64-bit FNV-1a hash of its key (engine, voice, output format
/// and the exact text), holding the PCM in the output format. Each file repeats its whole key and
/// a checksum of its samples: a hash collision is a miss, and a file that does not check out
/// (truncated, overwritten, from another version) is ignored, deleted and replaced by the next store.
///
/// Files are written atomically (a temporary file in the same directory, then `rename`), so
/// readers, including other vx-tts processes sharing the directory, never see half a file.
///
/// The directory is kept under `capacity` bytes by evicting the least recently used files first.
/// "Used" is the file's modification time, which this cache sets itself on every store and every
/// hit (`futimens`/`utimensat`), to the wall clock but strictly increasing within the process, so
/// the order holds even when several files are touched within one tick of the file system's clock.
public final class SpeechCache: @unchecked Sendable {
    /// What identifies one synthesised sentence.
    public struct Key: Hashable, Sendable {
        public var engine: String
        public var voice: String
        public var format: AudioFormat
        public var text: String

        public init(engine: String, voice: String, format: AudioFormat, text: String) {
            self.engine = engine
            self.voice = voice
            self.format = format
            self.text = text
        }

        /// The key as stored in the file.
        var canonical: [UInt8] {
            Array("engine=\(engine)\nvoice=\(voice)\nrate=\(format.rate)\nwidth=\(format.width)\nchannels=\(format.channels)\ntext=\(text)".utf8)
        }

        /// The file's name: the key's hash in hex.
        var fileName: String {
            let hash = fnv1a64(canonical)
            let hex = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex + ".pcm"
        }
    }

    /// Counts since the cache was opened.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var stores = 0
        public var evictions = 0
        /// Entries found damaged and removed.
        public var corrupt = 0
    }

    public let directory: String
    /// The most bytes the directory's entries may take together.
    public let capacity: Int
    private let logger: Logger
    private let lock = Lock()
    private var stats = Statistics()
    /// Bytes in the directory as this process knows it; recounted whenever it passes `capacity`.
    private var usage: Int?
    private var lastStamp: Int64 = 0
    private var temporaryCounter = 0

    static let magic = Array("VXTTSC1\n".utf8)

    /// Opens (creating if need be, mode 0700) the cache directory.
    public init(directory: String, capacity: Int, logger: Logger) throws {
        precondition(capacity >= 0, "capacity must not be negative")
        self.directory = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        self.capacity = capacity
        self.logger = logger
        try Self.makeDirectories(self.directory)
    }

    /// The default directory: `$XDG_CACHE_HOME/vx/tts`, else `~/.cache/vx/tts`.
    public static var defaultDirectory: String? {
        if let xdg = env("XDG_CACHE_HOME"), xdg.hasPrefix("/") { return "\(xdg)/vx/tts" }
        if let home = env("HOME") { return "\(home)/.cache/vx/tts" }
        return nil
    }

    /// The cache for vx-tts's flags: nil for a size of 0, or (with a warning) when the
    /// directory cannot be made. `directory` nil means `defaultDirectory`.
    public static func opened(directory: String?, megabytes: Double, logger: Logger) -> SpeechCache? {
        guard megabytes > 0 else { return nil }
        guard let directory = directory ?? defaultDirectory else {
            logger.warning("no cache directory (set --cache-dir, XDG_CACHE_HOME or HOME); running without a cache")
            return nil
        }
        do {
            return try SpeechCache(directory: directory, capacity: Int(megabytes * 1_048_576), logger: logger)
        } catch {
            logger.warning("running without a cache", metadata: ["error": "\(error)"])
            return nil
        }
    }

    public var statistics: Statistics { lock.withLock { stats } }

    /// The stored PCM for `key`, or nil. A hit counts as a use.
    public func load(_ key: Key) -> [UInt8]? {
        lock.withLock {
            let path = self.path(key.fileName)
            guard let file = Self.readFile(path, limit: max(capacity, 1 << 16) + (1 << 16)) else {
                stats.misses += 1
                return nil
            }
            guard let pcm = Self.decode(file, key: key.canonical) else {
                stats.misses += 1
                stats.corrupt += 1
                logger.warning("ignoring a damaged cache entry", metadata: ["cache.file": "\(path)"])
                if unlink(path) == 0, let u = usage { usage = max(u - file.count, 0) }
                return nil
            }
            stats.hits += 1
            _ = Self.withTimes(nextStamp()) { utimensat(AT_FDCWD, path, $0, 0) }
            return pcm
        }
    }

    /// Stores `pcm` for `key`, replacing any entry, then evicts the least recently used entries
    /// while the directory is over capacity. Failures are logged, never thrown: a cache that
    /// cannot write is only slower.
    public func store(_ key: Key, pcm: [UInt8]) {
        lock.withLock {
            let name = key.fileName
            let path = self.path(name)
            var file = Self.magic
            let canonical = key.canonical
            Self.append(UInt64(canonical.count), to: &file)
            file += canonical
            Self.append(UInt64(pcm.count), to: &file)
            Self.append(fnv1a64(pcm), to: &file)
            file += pcm
            temporaryCounter += 1
            let temporary = self.path(".\(name).\(getpid()).\(temporaryCounter).tmp")
            guard writeFile(temporary, file) else { return }
            let replaced = Self.fileSize(path)
            guard rename(temporary, path) == 0 else {
                logger.warning("cannot store a cache entry", metadata: ["cache.file": "\(path)", "errno": "\(errno)"])
                unlink(temporary)
                return
            }
            stats.stores += 1
            let total = usage.map { $0 + file.count - (replaced ?? 0) } ?? scan().reduce(0) { $0 + $1.size }
            usage = total
            if total > capacity { evict() }
        }
    }

    // MARK: Eviction

    private struct Entry {
        var name: String
        var size: Int
        var stamp: Int64
    }

    /// Deletes the least recently used entries until the directory fits (with the lock held).
    private func evict() {
        var entries = scan().sorted { ($0.stamp, $0.name) < ($1.stamp, $1.name) }
        var total = entries.reduce(0) { $0 + $1.size }
        while total > capacity, !entries.isEmpty {
            let oldest = entries.removeFirst()
            if unlink(path(oldest.name)) == 0 || errno == ENOENT {
                total -= oldest.size
                stats.evictions += 1
                logger.debug("evicted a cache entry", metadata: ["cache.file": "\(oldest.name)", "cache.bytes": "\(oldest.size)"])
            }
        }
        usage = total
    }

    /// The entries in the directory; removes temporary files over an hour old (left by a crash).
    private func scan() -> [Entry] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var entries: [Entry] = []
        let now = Int64(time(nil))
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            var info = stat()
            guard stat(path(name), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if name.hasSuffix(".pcm") {
                entries.append(Entry(name: name, size: Int(info.st_size),
                                     stamp: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
            } else if name.hasSuffix(".tmp"), now - Int64(info.st_mtim.tv_sec) > 3600 {
                unlink(path(name))
            }
        }
        return entries
    }

    // MARK: Files

    private func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// The next use stamp: the wall clock in nanoseconds, but always later than the last one.
    private func nextStamp() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        lastStamp = max(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec), lastStamp + 1_000)
        return lastStamp
    }

    /// Calls `body` with the two-element `timespec` array `utimensat` and `futimens` take
    /// (access and modification time), both set to `stamp`.
    private static func withTimes(_ stamp: Int64, _ body: (UnsafePointer<timespec>) -> Int32) -> Int32 {
        let t = timespec(tv_sec: Int(stamp / 1_000_000_000), tv_nsec: Int(stamp % 1_000_000_000))
        return [t, t].withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            logger.warning("cannot write a cache entry", metadata: ["cache.file": "\(path)", "errno": "\(errno)"])
            return false
        }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        let stamped = Self.withTimes(nextStamp()) { futimens(fd, $0) } == 0
        let closed = close(fd) == 0
        guard ok, stamped, closed else {
            logger.warning("cannot write a cache entry", metadata: ["cache.file": "\(path)", "errno": "\(errno)"])
            unlink(path)
            return false
        }
        return true
    }

    private static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// The whole file, or nil if it is missing, unreadable or bigger than `limit`.
    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var got = 0
        let ok = bytes.withUnsafeMutableBytes { raw -> Bool in
            while got < raw.count {
                let n = read(fd, raw.baseAddress! + got, raw.count - got)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return false }
                got += n
            }
            return true
        }
        return ok ? bytes : nil
    }

    /// The PCM of a cache file, if the file is whole and belongs to `key`.
    static func decode(_ file: [UInt8], key: [UInt8]) -> [UInt8]? {
        var offset = magic.count
        guard file.count >= offset + 8, file[..<offset].elementsEqual(magic) else { return nil }
        func u64() -> UInt64? {
            guard file.count >= offset + 8 else { return nil }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(file[offset + i]) << (8 * UInt64(i)) }
            offset += 8
            return v
        }
        guard let keyLength = u64(), keyLength == key.count, file.count >= offset + key.count,
              file[offset..<offset + key.count].elementsEqual(key)
        else { return nil }
        offset += key.count
        guard let pcmLength = u64(), let checksum = u64(), UInt64(file.count - offset) == pcmLength else { return nil }
        let pcm = Array(file[offset...])
        return fnv1a64(pcm) == checksum ? pcm : nil
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    private static func makeDirectories(_ path: String) throws {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/\(component)"
            if mkdir(partial, 0o700) != 0, errno != EEXIST {
                throw ToolError.io("cannot create the cache directory \(path): \(String(cString: strerror(errno)))")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ToolError.io("the cache directory \(path) is not a directory")
        }
    }
}

/// 64-bit FNV-1a: a fast, stable hash for file names and checksums (not for security).
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
    }
    return hash
}
