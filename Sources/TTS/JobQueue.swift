#if canImport(Glibc)
import Glibc
#endif

/// A first-in first-out queue between the reader thread and the synthesis thread: `pop` waits
/// for an item, and returns nil once the queue is closed and empty.
final class JobQueue<Item>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var head = 0
    private var closed = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Adds an item; does nothing once the queue is closed.
    func push(_ item: Item) {
        locked {
            guard !closed else { return }
            items.append(item)
            pthread_cond_signal(condition)
        }
    }

    /// The next item, waiting for one; nil when the queue is closed and empty.
    func pop() -> Item? {
        locked {
            while head == items.count && !closed { pthread_cond_wait(condition, mutex) }
            guard head < items.count else { return nil }
            let item = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
            return item
        }
    }

    /// Drops every waiting item.
    func removeAll() {
        locked {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    /// No more items: `pop` drains what is left, then returns nil.
    func close(droppingItems: Bool = false) {
        locked {
            if droppingItems {
                items.removeAll()
                head = 0
            }
            closed = true
            pthread_cond_broadcast(condition)
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
