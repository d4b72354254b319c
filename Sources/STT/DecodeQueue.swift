#if canImport(Glibc)
import Glibc
#endif

/// Commands from the reading thread to the decoding thread, bounded by the
/// audio they hold: `push` waits while more than `limit` samples are queued
/// (backpressure on a file read faster than it can be decoded), `pop` waits
/// for work. Closing lets the decoder finish what is queued; aborting drops it.
final class DecodeQueue: @unchecked Sendable {
    let limit: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [DecodeCommand] = []
    private var head = 0
    private var queuedSamples = 0
    private var closed = false
    private var aborted = false

    init(limit: Int) {
        self.limit = max(1, limit)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Queues `command`, waiting while the queue holds more than `limit` samples.
    /// False when the queue was closed or aborted.
    @discardableResult
    func push(_ command: DecodeCommand) -> Bool {
        locked {
            while !closed && !aborted && queuedSamples > 0 && queuedSamples + command.samples > limit {
                pthread_cond_wait(changed, mutex)
            }
            guard !closed && !aborted else { return false }
            items.append(command)
            queuedSamples += command.samples
            pthread_cond_broadcast(changed)
            return true
        }
    }

    /// The next command; nil once the queue is closed and empty, or aborted.
    func pop() -> DecodeCommand? {
        locked {
            while head == items.count && !closed && !aborted { pthread_cond_wait(changed, mutex) }
            guard !aborted, head < items.count else { return nil }
            let command = items[head]
            head += 1
            if head > 256 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            queuedSamples -= command.samples
            pthread_cond_broadcast(changed)
            return command
        }
    }

    /// No more commands: `pop` returns what is queued, then nil.
    func close() {
        locked {
            closed = true
            pthread_cond_broadcast(changed)
        }
    }

    /// Stop at once: queued commands are dropped, waiting pushes and pops return.
    func abort() {
        locked {
            aborted = true
            pthread_cond_broadcast(changed)
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
