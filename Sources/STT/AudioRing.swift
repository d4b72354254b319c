/// The most recent samples of a stretch, addressed by their absolute index
/// (samples since the stretch began), so an utterance can begin a little
/// before the moment it was detected.
struct AudioRing {
    let capacity: Int
    private var storage: [Int16]
    /// Index just after the newest sample.
    private(set) var end = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage = [Int16](repeating: 0, count: capacity)
    }

    /// Index of the oldest sample still held.
    var start: Int { max(0, end - capacity) }

    mutating func append(_ samples: some Collection<Int16>) {
        end += max(0, samples.count - capacity)  // older than the ring holds: counted, not kept
        for sample in samples.suffix(capacity) {
            storage[end % capacity] = sample
            end += 1
        }
    }

    /// Appends `count` zero samples (a gap in the input).
    mutating func appendSilence(_ count: Int) {
        append(repeatElement(Int16(0), count: count))
    }

    /// The samples from `range`, which must lie within `start..<end`.
    func samples(_ range: Range<Int>) -> [Int16] {
        precondition(range.lowerBound >= start && range.upperBound <= end, "\(range) is outside \(start)..<\(end)")
        var out: [Int16] = []
        out.reserveCapacity(range.count)
        for i in range { out.append(storage[i % capacity]) }
        return out
    }
}
