import VXShared

extension EventType {
    /// vx-play: a stretch's first audio is being played now (before its `played`).
    static let playing = "playing"
}

/// One stretch of audio (audio-start … audio-stop) from the moment the reader
/// sees it until its `played` report. Its counters are guarded by the ledger's lock.
final class StretchEntry: @unchecked Sendable {
    let id: Int
    /// The format of the stretch's frames (input side).
    let format: AudioFormat
    /// The stream time audio-start announced, if any.
    let announced: UInt64?
    /// Input sample-frame offset and stream time of each chunk the player took.
    fileprivate(set) var chunkOffsets: [Int] = []
    fileprivate(set) var chunkTimestamps: [UInt64] = []
    fileprivate(set) var inputFrames = 0
    /// Output rate, once the player has begun the stretch (0 before).
    fileprivate(set) var outputRate = 0
    /// Output sample frames handed to the sink.
    fileprivate(set) var outputWritten = 0
    /// All its audio has been handed to the sink.
    fileprivate(set) var closed = false

    init(id: Int, format: AudioFormat, announced: UInt64?) {
        self.id = id
        self.format = format
        self.announced = announced
    }

    /// Stream time of the first sample.
    var startTimestamp: UInt64 { chunkTimestamps.first ?? announced ?? 0 }

    /// Stream time just after the first `frames` input sample frames.
    func streamTime(afterFrames frames: Int) -> UInt64 {
        guard frames > 0, !chunkOffsets.isEmpty else { return startTimestamp }
        // The chunk holding the last of those frames: the last one starting before it.
        var low = 0, high = chunkOffsets.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if chunkOffsets[mid] < frames { low = mid } else { high = mid - 1 }
        }
        return chunkTimestamps[low] + format.nanoseconds(forFrames: frames - chunkOffsets[low])
    }

    /// Input frames that `heardOutput` output frames correspond to.
    func inputFrames(forOutput heardOutput: Int) -> Int {
        guard outputRate > 0 else { return 0 }
        if outputRate == format.rate { return min(inputFrames, heardOutput) }
        let scaled = (Double(heardOutput) * Double(format.rate) / Double(outputRate)).rounded()
        return min(inputFrames, Int(scaled))
    }

    /// The `playing` event: the stretch's first audio is going to the sink now.
    func playingEvent() -> Event {
        let start = startTimestamp
        return Event(EventType.playing, ["timestamp": .int(Int64(start / 1_000_000)), "timestamp_ns": .int(Int64(start))])
    }

    /// The `played` report: all of it heard, or (interrupted) `heardOutput` output frames of it.
    func report(heardOutput: Int? = nil, silence: Duration? = nil) -> Event {
        let frames = heardOutput.map { inputFrames(forOutput: $0) } ?? inputFrames
        let start = startTimestamp
        var data: [String: JSONValue] = [
            "timestamp": .int(Int64(start / 1_000_000)),
            "timestamp_ns": .int(Int64(start)),
            "end_ns": .int(Int64(streamTime(afterFrames: frames))),
            "samples": .int(Int64(frames)),
            "interrupted": .bool(heardOutput != nil),
        ]
        if let silence {
            let (seconds, attoseconds) = silence.components
            data["silence_us"] = .int(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        }
        return Event(EventType.played, data)
    }
}

/// Every stretch not yet reported, in stream order, and how much of each the
/// output has heard. Reports each stretch exactly once: when its last sample
/// has been heard, or when an interrupt cuts it.
///
/// "Heard" is what the sink took minus what it still holds (`queued`, the
/// device's delay): the newest audio is the unheard part.
final class StretchLedger: @unchecked Sendable {
    private let lock = Lock()
    private var entries: [StretchEntry] = []

    /// The reader has begun a stretch.
    func open(_ entry: StretchEntry) {
        lock.withLock { entries.append(entry) }
    }

    /// The player has begun the stretch, writing at `outputRate`.
    func begin(_ entry: StretchEntry, outputRate: Int) {
        lock.withLock { entry.outputRate = outputRate }
    }

    /// The player took a chunk of `frames` input frames starting at `timestamp`.
    func received(_ entry: StretchEntry, timestamp: UInt64, frames: Int) {
        lock.withLock {
            entry.chunkOffsets.append(entry.inputFrames)
            entry.chunkTimestamps.append(timestamp)
            entry.inputFrames += frames
        }
    }

    /// The `playing` event for a stretch whose first audio the player is handing to the sink.
    func playing(_ entry: StretchEntry) -> Event {
        lock.withLock { entry.playingEvent() }
    }

    /// The sink took `frames` output frames of the stretch.
    func wrote(_ frames: Int, of entry: StretchEntry) {
        lock.withLock { entry.outputWritten += frames }
    }

    /// All of the stretch's audio has gone to the sink.
    func close(_ entry: StretchEntry) {
        lock.withLock { entry.closed = true }
    }

    /// True when there are stretches waiting to be heard and none is still receiving audio.
    var allClosed: Bool {
        lock.withLock { !entries.isEmpty && entries.allSatisfy(\.closed) }
    }

    var isEmpty: Bool { lock.withLock { entries.isEmpty } }

    /// Reports for the stretches now wholly heard, oldest first, given that the
    /// sink still holds `queued` output frames.
    func settle(queued: Int) -> [Event] {
        lock.withLock {
            let unheard = Self.unheard(entries, queued: queued)
            var reports: [Event] = []
            while let first = entries.first, first.closed, unheard[first.id, default: 0] == 0 {
                reports.append(first.report())
                entries.removeFirst()
            }
            return reports
        }
    }

    /// Reports every stretch as interrupted (the sink held `queued` output frames
    /// when it fell silent) and forgets them all.
    func interruptAll(queued: Int, silence: Duration) -> [Event] {
        lock.withLock {
            let unheard = Self.unheard(entries, queued: queued)
            let reports = entries.map { $0.report(heardOutput: $0.outputWritten - unheard[$0.id, default: 0], silence: silence) }
            entries.removeAll()
            return reports
        }
    }

    /// Output frames of each stretch not yet heard: the last `queued` frames written.
    private static func unheard(_ entries: [StretchEntry], queued: Int) -> [Int: Int] {
        var left = queued
        var result: [Int: Int] = [:]
        for entry in entries.reversed() {
            let part = min(left, entry.outputWritten)
            result[entry.id] = part
            left -= part
        }
        return result
    }
}
