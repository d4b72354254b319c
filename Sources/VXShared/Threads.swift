#if canImport(Glibc)
import Glibc
#endif

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
    /// arrives, runs `handler` once on a dedicated thread and exits with status 0.
    /// Call it before starting any other thread.
    public static func install(_ handler: @escaping @Sendable (Int32) -> Void) {
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
            handler(signal)
            exit(0)
        }
    }
}
