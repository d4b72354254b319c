import Foundation
import Logging
import Testing
import VXShared
@testable import TTS

struct SpeechCacheTests {
    let directory: String
    let logger = Logger(label: "tts-tests") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vx-tts-cache-\(UUID().uuidString.prefix(8))").path
    }

    static func key(_ text: String, voice: String = "kal16", rate: Int = 16_000) -> SpeechCache.Key {
        SpeechCache.Key(engine: "flite", voice: voice, format: AudioFormat(rate: rate, width: 2, channels: 1), text: text)
    }

    static func pcm(_ seed: UInt8, bytes: Int = 1_000) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
    }

    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// Size of one stored entry of `bytes` samples for `key`.
    static func entrySize(_ key: SpeechCache.Key, bytes: Int) -> Int {
        SpeechCache.magic.count + 8 + key.canonical.count + 16 + bytes
    }

    @Test func storedSentenceComesBackIdentical() throws {
        let cache = try SpeechCache(directory: directory, capacity: 1 << 20, logger: logger)
        #expect(cache.load(Self.key("Hello there.")) == nil)
        cache.store(Self.key("Hello there."), pcm: Self.pcm(1))
        #expect(cache.load(Self.key("Hello there.")) == Self.pcm(1))
        #expect(cache.statistics == .init(hits: 1, misses: 1, stores: 1))
        // A second cache on the same directory (another process) sees it too.
        let other = try SpeechCache(directory: directory, capacity: 1 << 20, logger: logger)
        #expect(other.load(Self.key("Hello there.")) == Self.pcm(1))
    }

    @Test func keyIsEngineVoiceFormatAndExactText() throws {
        let cache = try SpeechCache(directory: directory, capacity: 1 << 20, logger: logger)
        cache.store(Self.key("Hello there."), pcm: Self.pcm(1))
        #expect(cache.load(Self.key("Hello there!")) == nil)
        #expect(cache.load(Self.key("hello there.")) == nil)
        #expect(cache.load(Self.key("Hello there.", voice: "slt")) == nil)
        #expect(cache.load(Self.key("Hello there.", rate: 22_050)) == nil)
        var espeak = Self.key("Hello there.")
        espeak.engine = "espeak"
        #expect(cache.load(espeak) == nil)
        #expect(cache.load(Self.key("Hello there.")) == Self.pcm(1))
    }

    @Test func leastRecentlyUsedEntryIsEvictedFirst() throws {
        let size = Self.entrySize(Self.key("A"), bytes: 1_000)
        // Room for three entries, not four.
        let cache = try SpeechCache(directory: directory, capacity: size * 3 + size / 2, logger: logger)
        cache.store(Self.key("A"), pcm: Self.pcm(1))
        cache.store(Self.key("B"), pcm: Self.pcm(2))
        cache.store(Self.key("C"), pcm: Self.pcm(3))
        #expect(try files().count == 3)
        #expect(cache.load(Self.key("A")) != nil)  // A is now more recent than B and C
        cache.store(Self.key("D"), pcm: Self.pcm(4))
        #expect(cache.load(Self.key("B")) == nil, "B was the least recently used")
        #expect(cache.load(Self.key("A")) == Self.pcm(1))
        #expect(cache.load(Self.key("C")) == Self.pcm(3))
        #expect(cache.load(Self.key("D")) == Self.pcm(4))
        // The loads above used A, then C, then D: storing E evicts A, now the least recently used.
        cache.store(Self.key("E"), pcm: Self.pcm(5))
        #expect(cache.load(Self.key("A")) == nil)
        #expect(cache.statistics.evictions == 2)
    }

    @Test func directoryStaysUnderTheCap() throws {
        let size = Self.entrySize(Self.key("sentence 10"), bytes: 2_000)  // the longest key below
        let capacity = size * 5
        let cache = try SpeechCache(directory: directory, capacity: capacity, logger: logger)
        for i in 0..<20 {
            cache.store(Self.key("sentence \(i)"), pcm: Self.pcm(UInt8(i), bytes: 2_000))
            let total = try files().reduce(0) { sum, name in
                sum + ((try FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")[.size] as? Int) ?? 0)
            }
            #expect(total <= capacity)
        }
        #expect(try files().count == 5)
        // The five newest survive.
        for i in 15..<20 { #expect(cache.load(Self.key("sentence \(i)")) != nil) }
        #expect(try files().allSatisfy { $0.hasSuffix(".pcm") }, "no temporary file is left behind")
    }

    @Test func entryBiggerThanTheWholeCapIsNotKept() throws {
        let cache = try SpeechCache(directory: directory, capacity: 500, logger: logger)
        cache.store(Self.key("big"), pcm: Self.pcm(1, bytes: 1_000))
        #expect(cache.load(Self.key("big")) == nil)
        #expect(try files().isEmpty)
    }

    @Test(arguments: ["flipped sample", "truncated", "empty", "garbage"])
    func damagedEntryIsIgnoredAndReplaced(damage: String) throws {
        let cache = try SpeechCache(directory: directory, capacity: 1 << 20, logger: logger)
        let key = Self.key("Hello there.")
        cache.store(key, pcm: Self.pcm(1))
        let path = "\(directory)/\(key.fileName)"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        switch damage {
        case "flipped sample": bytes[bytes.count - 10] ^= 0xff
        case "truncated": bytes.removeLast(100)
        case "empty": bytes = []
        default: bytes = Array("not a cache file at all".utf8)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(cache.load(key) == nil)
        #expect(cache.statistics.corrupt == 1)
        #expect(!FileManager.default.fileExists(atPath: path), "the damaged file is removed")
        cache.store(key, pcm: Self.pcm(2))
        #expect(cache.load(key) == Self.pcm(2))
    }

    @Test func aFileOfAnotherKeyWithTheSameNameIsAMiss() throws {
        let cache = try SpeechCache(directory: directory, capacity: 1 << 20, logger: logger)
        let a = Self.key("first"), b = Self.key("second")
        cache.store(a, pcm: Self.pcm(1))
        // Pretend b's hash collides with a's: put a's file under b's name.
        try FileManager.default.moveItem(atPath: "\(directory)/\(a.fileName)", toPath: "\(directory)/\(b.fileName)")
        #expect(cache.load(b) == nil)
    }

    @Test func fileNamesAreStableHashes() {
        #expect(Self.key("Hello there.").fileName == Self.key("Hello there.").fileName)
        #expect(Self.key("Hello there.").fileName != Self.key("Hello there!").fileName)
        #expect(Self.key("x").fileName.count == 16 + 4)
        #expect(fnv1a64(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)  // the published FNV-1a test vector
    }
}
