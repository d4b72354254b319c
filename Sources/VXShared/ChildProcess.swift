#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A child process started with `posix_spawn`, in a process group of its own, with its stdout and
/// stderr on a pipe the parent reads (`output`) and stdin on /dev/null.
///
/// It gets an empty signal mask and default SIGPIPE/SIGINT/SIGTERM handling (vx tools block
/// SIGINT/SIGTERM and ignore SIGPIPE, which a child would otherwise inherit), only the
/// environment it is given, and no descriptor of the parent but the pipe. Its own group means a
/// Ctrl-C at the terminal reaches vx-llm, which then stops it, and that `terminate` reaches any
/// process it started. Every child still running when the process exits (`exit()`, the end of
/// `main`) is killed by an `atexit` handler; dying with a crashed parent is the child's own job
/// (the local server's launcher sets `PR_SET_PDEATHSIG`).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    /// The read end of the child's stdout and stderr; end of file once it (and its children) exit.
    public let output: Int32
    private let lock = Lock()
    private var status: Int32?

    /// Starts `executable` (an absolute path) with `arguments` (argv[1...]) and `environment`.
    public init(executable: String, arguments: [String], environment: [String: String]) throws(IOError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw IOError("cannot make a pipe for \(executable)") }
        defer { close(fds[1]) }
        // Neither end stays open in the child beyond its stdout and stderr (nor in other children).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        _ = Self.closeFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            close(fds[0])
            throw IOError("cannot start \(executable)", errno: rc)
        }
        self.pid = pid
        output = fds[0]
        Self.live.withLock { _ = $0.insert(pid) }
        Self.installExitHandler
    }

    deinit { close(output) }

    /// The exit status (as `waitpid` reports it) once the child has ended, without waiting; nil
    /// while it runs.
    public var exitStatus: Int32? {
        lock.withLock { reap(blocking: false) }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// SIGTERM to the child's group; after `grace`, SIGKILL. Returns once the child is reaped.
    public func terminate(grace: Duration) {
        lock.withLock {
            guard status == nil else { return }
            kill(-pid, SIGTERM)
            let clock = SystemClock()
            let deadline = clock.now + grace
            while !hasEnded() && clock.now < deadline { clock.sleep(for: .milliseconds(10)) }
            _ = reap(blocking: true)  // SIGKILL first if it is still running
        }
    }

    /// With the lock held: the child's status once it has ended (nil while it runs); `blocking`
    /// kills it if need be and waits. Before reaping, SIGKILLs what is left of the child's group:
    /// until the leader is reaped its pid, and so the group id, cannot be reused, so the signal
    /// reaches only the child and what it started.
    private func reap(blocking: Bool) -> Int32? {
        if let status { return status }
        if !blocking && !hasEnded() { return nil }
        kill(-pid, SIGKILL)
        var raw: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(pid, &raw, 0) } while rc == -1 && errno == EINTR
        status = rc == pid ? raw : -1  // -1: reaped elsewhere; ended all the same
        Self.live.withLock { _ = $0.remove(pid) }
        return status
    }

    /// With the lock held: true once the child has ended (a zombie, not yet reaped).
    private func hasEnded() -> Bool {
        var info = siginfo_t()
        var rc: Int32
        repeat {
            rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG)
        } while rc == -1 && errno == EINTR
        return rc == -1 || info.si_signo == SIGCHLD
    }

    /// "exit status 1", "killed by signal 9".
    public static func describe(_ status: Int32) -> String {
        if status == -1 { return "ended" }
        let signal = status & 0x7f
        if signal == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "killed by signal \(signal)"
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare: closes every other descriptor of the parent in the child.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    // MARK: Children still running at exit

    private static let live = Mutex<Set<pid_t>>([])

    private static let installExitHandler: Void = {
        atexit {
            for pid in ChildProcess.live.withLock({ $0 }) { kill(-pid, SIGKILL) }
        }
    }()
}
