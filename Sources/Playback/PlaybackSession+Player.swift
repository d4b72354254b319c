import VXAudio
import VXShared

/// The stretch the player thread is working on.
private final class Playing {
    let entry: StretchEntry
    let output: AudioFormat
    let converter: SampleConverter?
    let generation: Int
    /// An interrupt has cut it; the rest of its audio is dropped.
    var stale = false
    /// Its `playing` event has been sent.
    var started = false

    init(entry: StretchEntry, output: AudioFormat, converter: SampleConverter?, generation: Int) {
        self.entry = entry
        self.output = output
        self.converter = converter
        self.generation = generation
    }
}

/// Real-time pacing for outputs without a clock of their own: each piece is
/// handed over when it would have finished playing, so what has been written
/// is what has been heard.
private struct Pacer {
    var busyUntil: Duration = .zero
    var generation = -1
    /// Later than this behind schedule counts as the output having run dry.
    static let slack: Duration = .milliseconds(20)

    /// When a piece of `frames` at `rate` written next would have been heard.
    mutating func due(frames: Int, rate: Int, generation: Int, now: Duration) -> Duration {
        if generation != self.generation || now - busyUntil > Self.slack {
            busyUntil = now
            self.generation = generation
        }
        return busyUntil + .nanoseconds(Int64(frames) * 1_000_000_000 / Int64(rate))
    }
}

extension PlaybackSession {
    /// Piece size for paced and device writes: 10 ms, so an interrupt waits at most that long for the sink.
    static func pieceFrames(rate: Int) -> Int { max(1, rate / 100) }

    /// The player thread: takes items off the queue and writes their audio.
    func play() {
        var current: Playing?
        var pacer = Pacer()
        do {
            while true {
                switch queue.take() {
                case .stopped:
                    return
                case .empty:
                    try whenIdle()
                    queue.waitForItem()
                case .item(let item, let generation):
                    switch item {
                    case .start(let entry):
                        current = try begin(entry, generation: generation)
                    case .audio(let chunk):
                        guard let playing = current, !playing.stale, playing.generation == generation else { continue }
                        try play(chunk, playing, pacer: &pacer)
                    case .stop:
                        if let playing = current, !playing.stale, playing.generation == generation {
                            try finish(playing, pacer: &pacer)
                        }
                        current = nil
                    case .end:
                        try endOfInput()
                        playerFinished()
                        return
                    }
                }
            }
        } catch {
            fail(error)
        }
    }

    /// Gets the sink ready for a stretch; nil when an interrupt has already cut it.
    private func begin(_ entry: StretchEntry, generation: Int) throws -> Playing? {
        let output: AudioFormat? = try sinkLock.withLock {
            guard queue.currentGeneration == generation, !sinkClosed else { return nil }
            let output = try sink.begin(entry.format)
            ledger.begin(entry, outputRate: output.rate)
            // A device reopened for a new format has played out the stretches before.
            if sink.isDevice { events.send(ledger.settle(queued: sink.queuedFrames)) }
            return output
        }
        guard let output else { return nil }
        var converter: SampleConverter?
        if output != entry.format {
            converter = try SampleConverter(inputRate: entry.format.rate, inputChannels: entry.format.channels, output: output)
            logger.info("converting stretch", metadata: [
                "stretch.id": "\(entry.id)", "from": "\(entry.format)", "to": "\(output)",
            ])
        }
        return Playing(entry: entry, output: output, converter: converter, generation: generation)
    }

    private func play(_ chunk: AudioChunk, _ playing: Playing, pacer: inout Pacer) throws {
        let entry = playing.entry
        ledger.received(entry, timestamp: chunk.timestamp, frames: chunk.pcm.count / entry.format.bytesPerFrame)
        if let converter = playing.converter {
            var converted: [UInt8] = []
            converter.convert(pcm: chunk.pcm, format: entry.format, into: &converted)
            try write(converted, playing, pacer: &pacer)
        } else {
            try write(chunk.pcm, playing, pacer: &pacer)
        }
    }

    /// The stretch's audio is all in: flush the converter, then report it once heard.
    private func finish(_ playing: Playing, pacer: inout Pacer) throws {
        if let converter = playing.converter {
            var tail: [UInt8] = []
            converter.flush(into: &tail)
            try write(tail, playing, pacer: &pacer)
        }
        guard !playing.stale else { return }
        ledger.close(playing.entry)
        sinkLock.withLock { events.send(ledger.settle(queued: sink.queuedFrames)) }
    }

    /// Writes PCM in the stretch's output format, piece by piece, checking before
    /// each piece that no interrupt has come. The stretch's first piece is announced
    /// with `playing` just before it goes to the sink (a paced output's wait is its playing).
    private func write(_ pcm: [UInt8], _ playing: Playing, pacer: inout Pacer) throws {
        let format = playing.output
        let total = pcm.count / format.bytesPerFrame
        let step = paced || sink.isDevice ? Self.pieceFrames(rate: format.rate) : max(total, 1)
        var offset = 0
        while offset < total && !playing.stale {
            let frames = min(step, total - offset)
            if !playing.started { announce(playing) }
            var due: Duration?
            if paced {
                let time = pacer.due(frames: frames, rate: format.rate, generation: playing.generation, now: clock.now)
                guard queue.sleep(until: time, generation: playing.generation) else {
                    playing.stale = true
                    return
                }
                due = time
            }
            let written: Bool = try sinkLock.withLock {
                guard queue.currentGeneration == playing.generation, !sinkClosed else { return false }
                let piece = pcm[offset * format.bytesPerFrame..<(offset + frames) * format.bytesPerFrame]
                try sink.write(piece)
                monitor?.played(piece, format: format)
                ledger.wrote(frames, of: playing.entry)
                if sink.isDevice { events.send(ledger.settle(queued: sink.queuedFrames)) }
                return true
            }
            guard written else {
                playing.stale = true
                return
            }
            if let due { pacer.busyUntil = due }
            offset += frames
        }
    }

    /// Sends the stretch's `playing` event, unless an interrupt has cut it already.
    private func announce(_ playing: Playing) {
        sinkLock.withLock {
            guard queue.currentGeneration == playing.generation, !sinkClosed else { return }
            playing.started = true
            events.send([ledger.playing(playing.entry)])
        }
    }

    /// Nothing queued: a device plays out the stretches that have ended, so they
    /// can be reported (a stretch still open may get more audio: keep it flowing).
    private func whenIdle() throws {
        guard sink.isDevice, ledger.allClosed else { return }
        sinkLock.withLock {
            guard !sinkClosed else { return }
            sink.drain()
            events.send(ledger.settle(queued: sink.queuedFrames))
        }
    }

    /// The input is over: play out what is left, report it, close the output.
    private func endOfInput() throws {
        sinkLock.withLock {
            guard !sinkClosed else { return }
            sink.drain()
            events.send(ledger.settle(queued: sink.queuedFrames))
            if inputFailed { sink.abandon() } else { sink.close() }
            sinkClosed = true
        }
    }
}
