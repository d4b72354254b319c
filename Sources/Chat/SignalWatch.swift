#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VXShared

/// SIGINT, SIGTERM and SIGHUP, noted for the supervisor's loop to act on (it stops the stages in
/// order and exits with a status that says which signal ended it). Install before any other thread.
final class SignalWatch: Sendable {
    private let received = Mutex<[Int32]>([])

    init() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waitSet = set
        startThread("vx-chat-signals") { [self] in
            var set = waitSet
            while true {
                var signal: Int32 = 0
                guard sigwait(&set, &signal) == 0 else { continue }
                received.withLock { $0.append(signal) }
            }
        }
    }

    /// The first signal received, if any.
    var first: Int32? { received.withLock { $0.first } }
    /// How many have come (a second Ctrl-C stops at once).
    var count: Int { received.withLock { $0.count } }
}
