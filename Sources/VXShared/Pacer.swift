/// Keeps output at real time: `wait(until:)` sleeps until a given amount of
/// stream time has passed on the wall clock since the first call, as a sound
/// device would consume it. A file then stands in for a microphone or speaker.
public struct Pacer {
    private let clock: any MonotonicClock
    private var origin: (wall: Duration, stream: UInt64)?

    public init(clock: any MonotonicClock = SystemClock()) {
        self.clock = clock
    }

    /// Sleeps until stream time `ns` is due. The first call sets the origin and returns at once.
    public mutating func wait(until ns: UInt64) {
        guard let origin else {
            origin = (clock.now, ns)
            return
        }
        let due = origin.wall + .nanoseconds(Int64(ns &- origin.stream))
        let ahead = due - clock.now
        if ahead > .zero { clock.sleep(for: ahead) }
    }
}
