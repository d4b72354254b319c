import Foundation
import Testing
import VXShared
@testable import Playback

/// The accounting behind `played` reports: what was heard is what the sink took
/// minus what it still holds, and the unheard part is always the newest audio.
struct StretchLedgerTests {
    let mono16k = AudioFormat(rate: 16_000, width: 2, channels: 1)

    /// A stretch the player has begun, with `chunks` (stream time, frames) taken and `written` output frames handed over.
    func stretch(_ ledger: StretchLedger, id: Int, format: AudioFormat? = nil, outputRate: Int? = nil,
                 chunks: [(UInt64, Int)], written: Int, closed: Bool) -> StretchEntry {
        let format = format ?? mono16k
        let entry = StretchEntry(id: id, format: format, announced: chunks.first?.0)
        ledger.open(entry)
        ledger.begin(entry, outputRate: outputRate ?? format.rate)
        for (timestamp, frames) in chunks { ledger.received(entry, timestamp: timestamp, frames: frames) }
        ledger.wrote(written, of: entry)
        if closed { ledger.close(entry) }
        return entry
    }

    @Test func stretchIsReportedOnlyOnceItsLastSampleHasBeenHeard() {
        let ledger = StretchLedger()
        _ = stretch(ledger, id: 1, chunks: [(1_000_000_000, 1_600)], written: 1_600, closed: true)
        #expect(ledger.settle(queued: 800).isEmpty)
        let reports = ledger.settle(queued: 0)
        #expect(reports.count == 1)
        #expect(reports.first?.data == [
            "timestamp": 1_000, "timestamp_ns": 1_000_000_000, "end_ns": 1_100_000_000, "samples": 1_600, "interrupted": false,
        ])
        #expect(ledger.isEmpty)
        #expect(ledger.settle(queued: 0).isEmpty)  // never twice
    }

    @Test func playingNamesTheStreamTimeOfTheFirstChunkTaken() {
        let ledger = StretchLedger()
        let entry = StretchEntry(id: 1, format: mono16k, announced: 2_000_000_000)
        ledger.open(entry)
        #expect(ledger.playing(entry).data == ["timestamp": 2_000, "timestamp_ns": 2_000_000_000], "audio-start's time before any audio")
        ledger.begin(entry, outputRate: 16_000)
        ledger.received(entry, timestamp: 2_500_000_123, frames: 320)
        ledger.received(entry, timestamp: 2_520_000_123, frames: 320)
        let playing = ledger.playing(entry)
        #expect(playing.type == "playing")
        #expect(playing.data == ["timestamp": 2_500, "timestamp_ns": 2_500_000_123])
    }

    @Test func openStretchIsNotReportedEvenWhenAllOfItIsHeard() {
        let ledger = StretchLedger()
        _ = stretch(ledger, id: 1, chunks: [(0, 320)], written: 320, closed: false)
        #expect(ledger.settle(queued: 0).isEmpty)
        #expect(!ledger.allClosed)
    }

    @Test func earlierStretchIsHeardOnceTheDeviceHoldsOnlyLaterAudio() {
        let ledger = StretchLedger()
        _ = stretch(ledger, id: 1, chunks: [(0, 1_600)], written: 1_600, closed: true)
        _ = stretch(ledger, id: 2, chunks: [(500_000_000, 800)], written: 800, closed: false)
        // 1000 frames queued: the last 800 are stretch 2, so 200 of stretch 1 are still unheard.
        #expect(ledger.settle(queued: 1_000).isEmpty)
        let reports = ledger.settle(queued: 800)
        #expect(reports.map { $0["samples"] } == [1_600])
        #expect(!ledger.isEmpty)
    }

    @Test func interruptTakesTheDeviceQueueFromTheNewestAudioBack() {
        let ledger = StretchLedger()
        _ = stretch(ledger, id: 1, chunks: [(0, 1_600)], written: 1_600, closed: true)
        _ = stretch(ledger, id: 2, chunks: [(1_000_000_000, 1_600), (1_100_000_000, 1_600)], written: 3_200, closed: false)
        let queued = StretchEntry(id: 3, format: mono16k, announced: 9_000_000_000)  // still in the playback queue
        ledger.open(queued)

        let reports = ledger.interruptAll(queued: 4_000, silence: .microseconds(250))
        #expect(reports.count == 3)
        #expect(reports[0].data == [
            "timestamp": 0, "timestamp_ns": 0, "end_ns": 50_000_000, "samples": 800, "interrupted": true, "silence_us": 250,
        ])
        #expect(reports[1]["samples"] == 0)
        #expect(reports[1]["end_ns"] == 1_000_000_000)
        #expect(reports[2].data == [
            "timestamp": 9_000, "timestamp_ns": 9_000_000_000, "end_ns": 9_000_000_000, "samples": 0, "interrupted": true,
            "silence_us": 250,
        ])
        #expect(ledger.isEmpty)
    }

    @Test func endTimeFallsInTheChunkHoldingTheLastHeardSample() {
        let ledger = StretchLedger()
        // Two chunks with a gap in stream time between them.
        _ = stretch(ledger, id: 1, chunks: [(0, 320), (1_000_000_000, 320)], written: 640, closed: false)
        let reports = ledger.interruptAll(queued: 240, silence: .zero)
        #expect(reports.first?["samples"] == 400)
        #expect(reports.first?["end_ns"] == 1_005_000_000)  // 80 frames into the second chunk
    }

    @Test func resampledStretchIsReportedInInputSamples() {
        let ledger = StretchLedger()
        let input = AudioFormat(rate: 48_000, width: 2, channels: 2)
        _ = stretch(ledger, id: 1, format: input, outputRate: 16_000, chunks: [(0, 4_800)], written: 1_600, closed: false)
        let reports = ledger.interruptAll(queued: 800, silence: .zero)
        #expect(reports.first?["samples"] == 2_400)  // 800 output frames at 16 kHz = 2400 at 48 kHz
        #expect(reports.first?["end_ns"] == 50_000_000)
    }
}

struct PlaybackQueueTests {
    @Test func pushWaitsWhileTheQueueHoldsItsLimitOfAudio() {
        let queue = PlaybackQueue(limit: .milliseconds(100))
        #expect(queue.push(.stop, nanoseconds: 60_000_000))
        let pushed = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            queue.push(.stop, nanoseconds: 60_000_000)
            pushed.signal()
        }
        #expect(pushed.wait(timeout: .now() + 0.2) == .timedOut, "a second 60 ms should not fit in 100 ms")
        guard case .item = queue.take() else {
            Issue.record("expected an item")
            return
        }
        #expect(pushed.wait(timeout: .now() + 5) == .success)
        #expect(queue.queuedNanoseconds == 60_000_000)
    }

    @Test func emptyQueueTakesAnItemLargerThanTheLimit() {
        let queue = PlaybackQueue(limit: .milliseconds(100))
        #expect(queue.push(.stop, nanoseconds: 5_000_000_000))
        #expect(queue.queuedNanoseconds == 5_000_000_000)
    }

    @Test func interruptEmptiesTheQueueAndStartsANewGeneration() {
        let queue = PlaybackQueue(limit: .seconds(10))
        queue.push(.stop, nanoseconds: 20_000_000)
        queue.push(.end)
        queue.interrupt()
        #expect(queue.currentGeneration == 1)
        #expect(queue.queuedNanoseconds == 0)
        guard case .empty = queue.take() else {
            Issue.record("expected an empty queue")
            return
        }
        queue.push(.end)
        guard case .item(.end, generation: 1) = queue.take() else {
            Issue.record("expected .end in generation 1")
            return
        }
    }

    @Test func sleepEndsEarlyWhenAnInterruptComes() {
        let queue = PlaybackQueue(limit: .seconds(10))
        let clock = SystemClock()
        let started = clock.now
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { queue.interrupt() }
        #expect(!queue.sleep(until: started + .seconds(10), generation: 0))
        #expect(clock.now - started < .seconds(5))
        #expect(queue.sleep(until: clock.now + .milliseconds(10), generation: 1))
    }

    @Test func stoppedQueueRefusesPushesAndWakesWaiters() {
        let queue = PlaybackQueue(limit: .milliseconds(10))
        queue.push(.stop, nanoseconds: 10_000_000)
        let refused = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if !queue.push(.stop, nanoseconds: 10_000_000) { refused.signal() }
        }
        queue.stop()
        #expect(refused.wait(timeout: .now() + 5) == .success)
        guard case .stopped = queue.take() else {
            Issue.record("expected .stopped")
            return
        }
    }
}

struct EventDestinationTests {
    @Test func defaultIsFramesOnAPipeTextOnATerminalAndTheLogWhenStdoutHasTheAudio() throws {
        #expect(try EventDestination.resolve(to: nil, output: .file("a.wav"), stdoutIsTerminal: false) == .frames(.stdio))
        #expect(try EventDestination.resolve(to: nil, output: .device("null"), stdoutIsTerminal: true) == .text)
        #expect(try EventDestination.resolve(to: nil, output: .raw, stdoutIsTerminal: false) == .log)
        #expect(try EventDestination.resolve(to: .stdio, output: .file("a.wav"), stdoutIsTerminal: true) == .text)
        #expect(try EventDestination.resolve(to: .connect("/s"), output: .raw, stdoutIsTerminal: false) == .frames(.connect("/s")))
    }

    @Test func stdoutCannotCarryBothAudioAndEvents() {
        #expect(throws: ToolError.self) { try EventDestination.resolve(to: .stdio, output: .raw, stdoutIsTerminal: false) }
        #expect(throws: ToolError.self) {
            try EventDestination.resolve(to: .stdio, output: .text(includePCM: false), stdoutIsTerminal: false)
        }
    }

    @Test func overrideReplacesOnlyTheGivenFields() {
        let override = FormatOverride(rate: 8_000)
        #expect(override.applied(to: AudioFormat(rate: 44_100, width: 4, channels: 2)) == AudioFormat(rate: 8_000, width: 4, channels: 2))
        #expect(FormatOverride(channels: 33).problem == "--channels 33 is not from 1 to 32")
        #expect(FormatOverride(rate: 16_000, width: 2, channels: 1).problem == nil)
    }
}
