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
        let taken: [Int16] = lock.withLock {
            let n = min(pcm.count / 2, samples.count)
            defer { samples.removeFirst(n) }
            return Array(samples.prefix(n))
        }
        guard !taken.isEmpty else { return }
        var own = PCM16.samples(pcm)
        for (i, extra) in taken.enumerated() {
            own[i] = Int16(max(-32768, min(32767, (Double(own[i]) + Double(extra) * gain).rounded())))
        }
        pcm = PCM16.bytes(own)
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
            let incoming = PCM16.samples(chunk.pcm)
            lock.withLock {
                samples += incoming
                if samples.count > cap { samples.removeFirst(samples.count - cap) }
            }
        }
    }
}
