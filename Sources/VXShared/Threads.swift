#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Starts `body` on a new detached POSIX thread. Blocking C calls (devices,
/// engines, reads) live on such threads; they are not dressed up as async.
public func startThread(_ name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    precondition(result == 0, "cannot start thread \(name): error \(result)")
    pthread_detach(thread)
}

/// SIGINT and SIGTERM, handled on a thread of their own.
public enum TerminationSignals {
    /// Blocks SIGINT and SIGTERM in this and every later thread and, when one
    /// arrives, runs `handler` once on a thread of its own and exits with status 0.
    /// A handler still busy after `grace` (say, waiting on a write to a peer that
    /// never reads) is abandoned: the process exits 0 all the same, after
    /// removing the sockets it listens on. Call it before starting any other thread.
    public static func install(grace: Duration = .seconds(2), _ handler: @escaping @Sendable (Int32) -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waitSet = set
        startThread("vx-signals") {
            var set = waitSet
            var signal: Int32 = 0
            while sigwait(&set, &signal) != 0 {}
            let finished = Flag()
            let received = signal
            startThread("vx-shutdown") {
                handler(received)
                finished.set()
            }
            let clock = SystemClock()
            let deadline = clock.now + grace
            while !finished.isSet && clock.now < deadline { clock.sleep(for: .milliseconds(5)) }
            ExitCleanup.shared.run()
            exit(0)
        }
    }
}

/// Socket files to remove however the process ends on a signal.
public final class ExitCleanup: Sendable {
    public static let shared = ExitCleanup()
    private let paths = Mutex<Set<String>>([])

    public func removeOnExit(_ path: String) { paths.withLock { _ = $0.insert(path) } }
    public func forget(_ path: String) { paths.withLock { _ = $0.remove(path) } }

    func run() {
        for path in paths.withLock({ $0 }) { unlink(path) }
    }
}

/// A one-way flag, safe across threads.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
