#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import VXNet
import VXShared

/// The local model: a llama.cpp server (PyPI's `llama-cpp-python[server]`, run as
/// `python -m llama_cpp.server`) that vx-llm starts, health-checks and stops itself.
///
/// - It listens on 127.0.0.1 only, on a free port chosen at start.
/// - It runs in a process group of its own with a minimal environment (PATH, HOME, locale, TMPDIR),
///   so settings llama_cpp.server reads from the environment (HOST, PORT, API_KEY, MODEL, ...)
///   cannot move or lock it, and no API key of vx-llm's reaches it. Its output goes to vx-llm's log
///   at trace level (`--log-level trace`); the last lines are kept for error messages.
/// - `stop()` sends SIGTERM to its group and SIGKILL after a grace. If vx-llm dies without
///   stopping it (SIGKILL, a crash), the kernel kills it: its launcher sets
///   `prctl(PR_SET_PDEATHSIG, SIGKILL)` before loading the server, then checks that vx-llm is still
///   its parent. The death signal follows the *thread* that started the child, so `start()` must
///   run on a thread that lives as long as the process (vx-llm's main thread).
/// - A server that dies while vx-llm runs is started again before the next turn (`restartIfNeeded`).
public final class LocalServer: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The Python of the venv that has `llama-cpp-python[server]`.
        public var python: String
        /// The GGUF model file.
        public var model: String
        /// The context window in tokens (`--n_ctx`).
        public var contextSize: Int
        /// Further arguments for `llama_cpp.server` (`--n_threads 2`, ...).
        public var extraArguments: [String]
        /// How long the server may take to answer its first health check.
        public var startTimeout: Duration
        /// Between SIGTERM and SIGKILL when stopping.
        public var stopGrace: Duration
        /// Evaluated once at start (one token generated), so the model is paged in and, when this is
        /// how every prompt begins (the system text), the server's cache already holds it.
        public var warmUpPrompt: String

        public init(python: String, model: String, contextSize: Int = 4096, extraArguments: [String] = [],
                    startTimeout: Duration = .seconds(120), stopGrace: Duration = .seconds(2), warmUpPrompt: String = "Hello") {
            self.python = python
            self.model = model
            self.contextSize = contextSize
            self.extraArguments = extraArguments
            self.startTimeout = startTimeout
            self.stopGrace = stopGrace
            self.warmUpPrompt = warmUpPrompt
        }
    }

    /// Run by the venv's Python instead of `-m llama_cpp.server`: dies with vx-llm, then runs the
    /// server module as `python -m` would. argv[1] is vx-llm's pid; the rest go to the server.
    static let launcher = """
        import ctypes, os, runpy, signal, sys
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != int(sys.argv[1]):
            sys.exit("vx-llm exited before its llama.cpp server started")
        sys.argv = ["llama_cpp.server"] + sys.argv[2:]
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
        """

    public let configuration: Configuration
    /// The port on 127.0.0.1, chosen when the server is made.
    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The name the server serves the model under: the GGUF file's name without `.gguf`.
    public var modelName: String {
        var name = Substring(configuration.model.split(separator: "/").last ?? "local")
        if name.hasSuffix(".gguf") { name = name.dropLast(5) }
        return String(name)
    }

    private let logger: Logger
    private let lock = Lock()
    private let stopLock = Lock()
    private var child: ChildProcess?
    private var stopping = false
    /// The server answered its health check (and so any later exit is a death, worth reporting).
    private var answered = false
    private var restarts = 0
    private let startCancellation = Cancellation()
    private let recentOutput = Mutex<[String]>([])

    /// Checks that the files exist and picks a free port. Throws `ToolError.unavailable`, naming
    /// what is missing and `scripts/setup-llm`, which installs it.
    public init(configuration: Configuration, logger: Logger) throws {
        for (path, what) in [(configuration.python, "the llama.cpp server's Python"), (configuration.model, "the model")]
        where access(path, F_OK) != 0 {
            throw ToolError.unavailable("\(what) is not installed: \(path) does not exist; install it with scripts/setup-llm "
                + "(or point --llm-server-python and --gguf elsewhere, or use --backend openai or anthropic)")
        }
        self.configuration = configuration
        self.logger = logger
        port = try Self.freePort()
    }

    /// Starts the server and waits until it answers `GET /v1/models`. Throws `ToolError.unavailable`
    /// with the server's last words if it exits first or does not answer in time.
    public func start() throws {
        let clock = SystemClock()
        let started = clock.now
        let child = try lock.withLock { () throws -> ChildProcess in
            guard !stopping else { throw ToolError.unavailable("stopped before the llama.cpp server started") }
            let child = try spawn()
            self.child = child
            return child
        }
        logger.info("starting the llama.cpp server", metadata: [
            "server.pid": "\(child.pid)", "server.url": "\(baseURL)", "server.model": "\(configuration.model)",
        ])
        let client = HTTPClient(logger: logger)
        let probe = HTTPRequest(url: baseURL + "/v1/models",
                                timeouts: HTTPTimeouts(connect: .seconds(1), idle: .seconds(5), total: .seconds(5)))
        while true {
            if let status = child.exitStatus {
                throw ToolError.unavailable("the llama.cpp server did not start (\(ChildProcess.describe(status)))\(lastWords())")
            }
            if (try? client.send(probe, cancellation: startCancellation))?.status == 200 { break }
            if startCancellation.isCancelled { throw ToolError.unavailable("stopped before the llama.cpp server started") }
            if clock.now - started > configuration.startTimeout {
                throw ToolError.unavailable("the llama.cpp server did not answer within \(configuration.startTimeout.humanReadable)\(lastWords())")
            }
            _ = startCancellation.wait(for: .milliseconds(100))
        }
        // One token, so the first turn does not pay for faulting the model in or for evaluating the
        // system text, and so a server that cannot generate at all (a llama.cpp built for
        // instructions this CPU lacks) is found now rather than on every turn.
        let body = JSONValue.object(["prompt": .string(configuration.warmUpPrompt), "max_tokens": 1]).jsonText
        let warmUp = HTTPRequest.postJSON(url: baseURL + "/v1/completions", json: body,
                                          timeouts: HTTPTimeouts(connect: .seconds(1), idle: .seconds(60), total: .seconds(60)))
        if case .failure(let error) = Result(catching: { try client.send(warmUp, cancellation: startCancellation) }) {
            if let status = child.exitStatus {
                throw ToolError.unavailable("the llama.cpp server died generating its first token (\(ChildProcess.describe(status)))"
                    + "\(lastWords()); rebuild it with scripts/setup-llm")
            }
            logger.warning("the llama.cpp server's warm-up request failed", metadata: ["error": "\(error)"])
        }
        lock.withLock { answered = true }
        logger.info("llama.cpp server ready", metadata: [
            "server.url": "\(baseURL)", "server.start_ms": "\(Int((clock.now - started) / .milliseconds(1)))",
        ])
    }

    /// Before a turn: starts the server again if it died (at most three times in all). A failed
    /// restart is logged; the turn then fails like any unreachable backend, with an apology.
    public func restartIfNeeded() {
        let died: (ChildProcess, Int32)? = lock.withLock {
            guard !stopping, let child, let status = child.exitStatus else { return nil }
            return (child, status)
        }
        guard let (_, status) = died else { return }
        let allowed = lock.withLock { () -> Bool in
            restarts += 1
            return restarts <= 3
        }
        logger.error("the llama.cpp server died\(allowed ? "; starting it again" : "")", metadata: [
            "server.status": "\(ChildProcess.describe(status))", "server.last_output": "\(recentOutput.withLock { $0.last ?? "" })",
        ])
        guard allowed else { return }
        do {
            try start()
        } catch {
            logger.error("the llama.cpp server did not restart", metadata: ["error": "\(error)"])
        }
    }

    /// Stops the server: SIGTERM to its group, SIGKILL after the grace. Safe to call more than
    /// once and from any thread (a signal handler's): a second call waits for the first to finish.
    /// A start in progress is abandoned.
    public func stop() {
        startCancellation.cancel()
        stopLock.withLock { stopOnce() }
    }

    private func stopOnce() {
        let (child, answered, first) = lock.withLock { () -> (ChildProcess?, Bool, Bool) in
            defer { stopping = true }
            return (self.child, self.answered, !stopping)
        }
        guard first, let child else { return }
        if let status = child.exitStatus {
            // It died on its own after starting (a crash while answering): say so, since nothing else will.
            guard answered else { return }
            logger.error("the llama.cpp server had died", metadata: [
                "server.status": "\(ChildProcess.describe(status))", "server.last_output": "\(recentOutput.withLock { $0.last ?? "" })",
            ])
            return
        }
        child.terminate(grace: configuration.stopGrace)
        logger.info("stopped the llama.cpp server", metadata: ["server.pid": "\(child.pid)"])
    }

    /// The server's process id while it runs (for tests and logs).
    public var pid: Int32? { lock.withLock { child.flatMap { $0.isRunning ? $0.pid : nil } } }

    private func spawn() throws -> ChildProcess {
        var arguments = ["-c", Self.launcher, "\(getpid())",
                         "--model", configuration.model, "--model_alias", modelName,
                         "--host", "127.0.0.1", "--port", "\(port)",
                         "--n_ctx", "\(configuration.contextSize)",
                         // Logits of every prompt token are only for logprobs; skipping them speeds up the prompt.
                         "--logits_all", "false"]
        arguments += configuration.extraArguments
        var environment: [String: String] = [:]
        for name in ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TMPDIR"] {
            if let value = env(name) { environment[name] = value }
        }
        environment["PYTHONUNBUFFERED"] = "1"
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: configuration.python, arguments: arguments, environment: environment)
        } catch {
            throw ToolError.unavailable("cannot start the llama.cpp server: \(error)")
        }
        startThread("vx-llm-server-log") { [self] in relay(child) }
        return child
    }

    /// Logs the server's output at debug level, keeping the last lines for error messages.
    private func relay(_ child: ChildProcess) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        var log = logger
        log[metadataKey: "server.pid"] = "\(child.pid)"
        while true {
            let n = buffer.withUnsafeMutableBytes { read(child.output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buffer[0..<n])
            while let newline = pending.firstIndex(where: { $0 == 0x0a || $0 == 0x0d }) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                guard !line.allSatisfy(\.isWhitespace) else { continue }
                log.trace("llama.cpp server", metadata: ["server.output": "\(line)"])
                recentOutput.withLock {
                    $0.append(line)
                    if $0.count > 20 { $0.removeFirst($0.count - 20) }
                }
            }
        }
    }

    /// ": <the server's last line>" and a hint, for errors.
    private func lastWords() -> String {
        // Give the relay thread a moment to read what a dying server wrote last.
        _ = Cancellation().wait(for: .milliseconds(100))
        let lines = recentOutput.withLock { $0 }
        guard let last = lines.last(where: { $0.contains("Error") || $0.contains("error") }) ?? lines.last else {
            return "; see scripts/setup-llm"
        }
        let hint = last.contains("No module named") ? "; install it with scripts/setup-llm" : ""
        return ": \(last.trimming(" \t"))\(hint)"
    }

    /// A port on 127.0.0.1 that nothing listens on now: bound to port 0, read back, closed.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ToolError.unavailable("cannot pick a port for the llama.cpp server: \(IOError("socket"))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw ToolError.unavailable("cannot pick a port for the llama.cpp server: \(IOError("bind"))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
