import Synchronization
import VXShared

/// Whether the assistant's voice can be heard in the room, as vx-play reports
/// it on the feedback input: written by the feedback thread, read by the
/// detection thread for every analysis frame.
///
/// - `playing`: a stretch's first sample went to the speaker; audible from now.
/// - `played`: that stretch ended (or was cut); audible for `tail` more (the room's reverb).
/// - `interrupt`: playback stopped; every stretch ends, audible for `tail` more.
/// - the feedback peer went away: nothing is known to play any more, so nothing is audible.
///
/// Stretches are told apart by their `timestamp_ns` (the stream time of their first
/// sample on vx-tts's output clock, which only grows, and vx-play plays them in that
/// order): a `played` ends its stretch and any before it, never one that began later.
public final class PlaybackState: Sendable {
    /// The event vx-play writes when a stretch's first sample goes to the speaker.
    public static let playingEvent = "playing"

    private struct State {
        var open: Set<UInt64> = []
        var audibleUntil: Duration?
    }

    /// How long playback stays audible after a stretch ended.
    public let tail: Duration
    private let clock: any MonotonicClock
    private let state = Mutex(State())

    public init(tail: Duration = .milliseconds(250), clock: any MonotonicClock = SystemClock()) {
        self.tail = tail
        self.clock = clock
    }

    /// True while a stretch plays, or `tail` has not passed since the last one ended.
    public var isAudible: Bool {
        let now = clock.now
        return state.withLock { !$0.open.isEmpty || $0.audibleUntil.map { now < $0 } ?? false }
    }

    /// Acts on a feedback event; returns false for events it ignores.
    @discardableResult
    public func handle(_ event: Event) -> Bool {
        let key = event.timestampNanoseconds ?? .max
        let until = clock.now + tail
        switch event.type {
        case Self.playingEvent:
            state.withLock { _ = $0.open.insert(key) }
        case EventType.played:
            state.withLock {
                let ended = $0.open.filter { $0 <= key }
                guard !ended.isEmpty else { return }
                $0.open.subtract(ended)
                $0.audibleUntil = max($0.audibleUntil ?? until, until)
            }
        case EventType.interrupt:
            state.withLock {
                if !$0.open.isEmpty { $0.audibleUntil = max($0.audibleUntil ?? until, until) }
                $0.open.removeAll()
            }
        default:
            return false
        }
        return true
    }

    /// The feedback peer went away: what it said is void.
    public func peerLost() {
        state.withLock {
            $0.open.removeAll()
            $0.audibleUntil = nil
        }
    }
}
