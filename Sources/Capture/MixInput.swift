#if canImport(Glibc)
import Glibc
#endif
import Logging
import VXShared

/// Audio to add to what vx-capture reads (`--mix`): frames from another tool, typically vx-play's
/// `--monitor` copy of what it plays, so a file stands in for a microphone that also hears the
/// speaker. A thread reads them as they come; each chunk vx-capture sends takes what has arrived
/// (at most the chunk's length; silence when nothing has), scaled by the gain. Audio in another
/// format than the capture's is skipped, with one warning.
final class MixInput: @unchecked Sendable {
    private let reader: FrameReader
    private let format: AudioFormat
    private let gain: Double
    private let logger: Logger
    private let lock = Lock()
    private var samples: [Int16] = []
    private var warned = false
    /// At most this many samples wait (2 s): a reader that stalls does not build up an echo backlog.
    private let cap: Int

    init(endpoint: Endpoint, format: AudioFormat, gainDB: Double, logger: Logger) throws {
        reader = FrameReader(source: try Transport(logger: logger).source(endpoint), logger: logger)
        self.format = format
        gain = pow(10, gainDB / 20)
        self.logger = logger
        cap = format.rate * format.channels * 2
        startThread("vx-capture-mix") { [self] in run() }
    }

    func stop() { reader.source.close() }

    /// Adds what has arrived to 16-bit `pcm` (in place).
    func mix(into pcm: inout [UInt8]) {
        guard format.width == 2 else { return }
        let count = pcm.count / 2
        let taken: [Int16] = lock.withLock {
            let n = min(count, samples.count)
            defer { samples.removeFirst(n) }
            return Array(samples.prefix(n))
        }
        for (i, extra) in taken.enumerated() {
            let own = Int16(bitPattern: UInt16(pcm[2 * i]) | UInt16(pcm[2 * i + 1]) << 8)
            let sum = Double(own) + Double(extra) * gain
            let clipped = Int16(max(-32768, min(32767, sum.rounded())))
            let bits = UInt16(bitPattern: clipped)
            pcm[2 * i] = UInt8(bits & 0xff)
            pcm[2 * i + 1] = UInt8(bits >> 8)
        }
    }

    private func run() {
        while true {
            let frame: Frame?
            do { frame = try reader.next() } catch {
                logger.warning("mix input failed", metadata: ["error": "\(error)"])
                if reader.source.servesPeersInTurn { continue }
                return
            }
            guard let frame else { return }
            guard case .audio(let chunk) = frame else { continue }
            guard reader.format == format, format.width == 2 else {
                if !warned { logger.warning("mix audio is not in the capture's format; skipped", metadata: ["format": "\(reader.format.map { "\($0)" } ?? "none")"]) }
                warned = true
                continue
            }
            var incoming = [Int16](repeating: 0, count: chunk.pcm.count / 2)
            for i in incoming.indices {
                incoming[i] = Int16(bitPattern: UInt16(chunk.pcm[2 * i]) | UInt16(chunk.pcm[2 * i + 1]) << 8)
            }
            lock.withLock {
                samples += incoming
                if samples.count > cap { samples.removeFirst(samples.count - cap) }
            }
        }
    }
}
