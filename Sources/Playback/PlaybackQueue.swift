import Synchronization
import VXShared

/// What the reader hands the player, in stream order.
enum PlaybackItem {
    /// A stretch begins: audio-start, or audio after an interrupt or audio-stop.
    case start(StretchEntry)
    case audio(AudioChunk)
    /// The stretch ends: audio-stop, a new audio-start, or the end of input.
    case stop
    /// The input is over: finish playing and close the output.
    case end
}

/// The queue between the reader and player threads, bounded in audio time:
/// `push` waits while `limit` of audio is queued (backpressure on the input).
///
/// An interrupt empties it and bumps `generation`; work the player took
/// under an older generation is stale and must not reach the output.
final class PlaybackQueue: @unchecked Sendable {
    enum Taken {
        case item(PlaybackItem, generation: Int)
        case empty
        case stopped
    }

    let limit: UInt64
    let generation = Atomic<Int>(0)
    private let monitor = Monitor()
    private var items: [(item: PlaybackItem, nanoseconds: UInt64)] = []
    private var head = 0
    private var queued: UInt64 = 0
    private var stopped = false

    /// `limit`: most audio time queued before `push` waits.
    init(limit: Duration) {
        let (seconds, attoseconds) = limit.components
        self.limit = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds / 1_000_000_000))
    }

    var currentGeneration: Int { generation.load(ordering: .sequentiallyConsistent) }

    /// Audio time queued, in nanoseconds.
    var queuedNanoseconds: UInt64 { monitor.withLock { queued } }

    /// Appends an item holding `nanoseconds` of audio, first waiting while the
    /// queue is full (an empty queue takes any item). False once stopped.
    @discardableResult
    func push(_ item: PlaybackItem, nanoseconds: UInt64 = 0) -> Bool {
        monitor.withLock {
            while !stopped && queued > 0 && queued + nanoseconds > limit { monitor.wait() }
            guard !stopped else { return false }
            items.append((item, nanoseconds))
            queued += nanoseconds
            monitor.broadcast()
            return true
        }
    }

    /// The next item without waiting.
    func take() -> Taken {
        monitor.withLock {
            if stopped { return .stopped }
            guard head < items.count else { return .empty }
            let (item, nanoseconds) = items[head]
            items[head] = (.stop, 0)  // let go of the samples
            head += 1
            queued -= nanoseconds
            if head == items.count || head >= 4096 {
                items.removeFirst(head)
                head = 0
            }
            monitor.broadcast()
            return .item(item, generation: currentGeneration)
        }
    }

    /// Waits until there is an item to take, or the queue is stopped.
    func waitForItem() {
        monitor.withLock {
            while !stopped && head == items.count { monitor.wait() }
        }
    }

    /// Sleeps until the monotonic `deadline` unless an interrupt or a stop comes
    /// first. True when the deadline was reached with `generation` still current.
    func sleep(until deadline: Duration, generation expected: Int) -> Bool {
        let clock = SystemClock()
        return monitor.withLock {
            while !stopped && currentGeneration == expected && clock.now < deadline {
                _ = monitor.wait(until: deadline)
            }
            return !stopped && currentGeneration == expected
        }
    }

    /// Drops everything queued and starts a new generation; wakes every waiter.
    func interrupt() {
        monitor.withLock {
            items.removeAll()
            head = 0
            queued = 0
            generation.add(1, ordering: .sequentiallyConsistent)
            monitor.broadcast()
        }
    }

    /// Ends the queue for good: `push` returns false and `take` `.stopped`.
    func stop() {
        monitor.withLock {
            stopped = true
            monitor.broadcast()
        }
    }
}
