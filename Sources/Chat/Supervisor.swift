#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import VXShared

/// How a chat ended, and the exit status that says so.
public enum ChatEnding: Sendable, Equatable {
    /// File mode: the input ended and its last reply was played.
    case finished
    /// A signal stopped it (exit 128 + the signal, as a shell reports it).
    case signal(Int32)
    /// A stage failed more often than allowed, or could not start.
    case stageFailed(String)
    /// File mode: the last reply did not finish within drain_timeout.
    case drainTimedOut

    public var exitStatus: Int32 {
        switch self {
        case .finished: return 0
        case .signal(let s): return 128 + s
        case .stageFailed: return SysExit.unavailable.rawValue
        case .drainTimedOut: return 75
        }
    }
}

/// vx-chat's supervisor: starts the six stages wired over Unix sockets (`StagePlan`), checks the
/// pipeline answers a ping before the microphone opens, restarts a stage that dies (with backoff,
/// at most `max_restarts` in `restart_window`, as an OTP supervisor does), follows every turn
/// (`EventMonitor`) and stops everything in pipeline order when done or told to.
public final class Supervisor: @unchecked Sendable {
    private let plan: StagePlan
    private let settings: ChatSettings
    private let logs: LogSink
    private let logger: Logger
    private let view: LiveView?
    private let signals: SignalWatch
    private let environment: [String: String]
    private let clock = SystemClock()
    private var stages: [StageName: StageProcess] = [:]
    private var monitor: EventMonitor?
    private var vadLink: QueuedFrameWriter?
    private var llmLink: QueuedFrameWriter?
    private var inputDone: Duration?
    /// File mode: when vx-capture was last started and where in its file (to resume it after a
    /// crash, and to place each turn in the input; read by the monitor's thread too).
    private let captureClock = Mutex<(at: Duration, offset: Double)?>(nil)
    /// File mode: the answers a killed vx-play had written, rescued from its temporary file.
    private var salvaged: [String] = []
    private let turnsFile: Int32?

    /// Call before starting any thread: it takes over SIGINT and SIGTERM.
    public init(plan: StagePlan, logs: LogSink, view: LiveView?, environment: [String: String], turnsFile: Int32?) {
        signals = SignalWatch()
        self.plan = plan
        settings = plan.settings
        self.logs = logs
        logger = logs.logger()
        self.view = view
        self.environment = environment
        self.turnsFile = turnsFile
        for name in StageName.allCases { stages[name] = StageProcess(name: name) }
    }

    public func run() -> ChatEnding {
        let ending = supervise()
        shutDown()
        summarize(ending)
        return ending
    }

    // MARK: Starting

    private func supervise() -> ChatEnding {
        logger.notice("starting", metadata: [
            "mode": "\(settings.isFileMode ? "file" : "live")", "runtime_dir": "\(plan.runtimeDir)",
            "log_file": "\(settings.logFile ?? "none")",
        ])
        view?.update { $0.state = "starting the stages" }
        let vadLink = QueuedFrameWriter(endpoint: .connect(plan.vadFeedback), logger: logger)
        let llmLink = QueuedFrameWriter(endpoint: .connect(plan.llmFeedback), logger: logger)
        self.vadLink = vadLink
        self.llmLink = llmLink
        do {
            monitor = try EventMonitor(listen: plan.events, vadFeedback: vadLink, llmFeedback: llmLink, logger: logger) {
                [weak self] action in self?.act(on: action)
            }
        } catch {
            return .stageFailed("cannot listen on \(plan.events): \(error)")
        }
        // Downstream first: each stage's input socket exists before the stage feeding it starts.
        let deadline = clock.now + .seconds(settings.readyTimeout)
        for name in StageName.allCases.reversed() where name != .capture {
            if let ending = start(name) { return ending }
            let socket = plan.input(of: name)!
            view?.update { $0.state = "starting \(name.tool)" }
            while access(socket, F_OK) != 0 {
                if let ending = tend() { return ending }
                if clock.now > deadline {
                    return .stageFailed("\(name.tool) did not open \(socket) within \(settings.readyTimeout.clean) s (ready_timeout)")
                }
                clock.sleep(for: .milliseconds(20))
            }
        }
        if let ending = ping(until: deadline) { return ending }
        if let ending = start(.capture) { return ending }
        logger.notice("ready", metadata: ["listening": "\(settings.input ?? settings.device)"])
        view?.update { $0.state = TurnTracker.Phase.listening.rawValue }
        return loop()
    }

    /// Sends a `ping` in at the head of the pipeline and waits for vx-play's `pong` at its end.
    private func ping(until deadline: Duration) -> ChatEnding? {
        let text = "vx-chat-ready-\(getpid())"
        while true {
            do {
                let writer = FrameWriter(sink: try Transport(logger: logger).sink(.connect(plan.input(of: .vad)!)))
                try writer.write(.event(Event(EventType.ping, ["text": .string(text)])))
                writer.close()
            } catch {
                return .stageFailed("cannot reach vx-vad: \(error)")
            }
            let retryAt = min(deadline, clock.now + .seconds(5))
            while clock.now < retryAt {
                if monitor?.waitForPong(text, until: clock.now + .milliseconds(50)) == true {
                    logger.info("pipeline answered the ping")
                    return nil
                }
                if let ending = tend() { return ending }
            }
            if clock.now >= deadline {
                return .stageFailed("the pipeline did not answer a ping within \(settings.readyTimeout.clean) s (ready_timeout)")
            }
        }
    }

    private func start(_ name: StageName, resumeAt: Double = 0) -> ChatEnding? {
        let stage = stages[name]!
        let executable = plan.executable(for: name)
        let arguments = plan.arguments(for: name, resumeAt: resumeAt)
        logger.info("starting \(name.tool)", metadata: ["command": "\(([executable] + arguments).joined(separator: " "))"])
        do {
            try stage.start(executable: executable, arguments: arguments, environment: environment, logs: logs, clock: clock)
        } catch {
            return .stageFailed("cannot start \(name.tool): \(error)")
        }
        if name == .capture { captureClock.withLock { $0 = (stage.startedAt, resumeAt) } }
        return nil
    }

    // MARK: Running

    private func loop() -> ChatEnding {
        var quietSince: Duration?
        while true {
            if let ending = tend() { return ending }
            if let done = inputDone, let monitor {
                let tracker = monitor.snapshot
                let now = clock.now
                if tracker.isIdle(at: now) {
                    quietSince = quietSince ?? now
                    let lastEvent = max(tracker.lastEventAt, done)
                    if now - quietSince! >= .milliseconds(500) && now - lastEvent >= .milliseconds(1500) {
                        logger.notice("the input has ended and every reply has been played")
                        return .finished
                    }
                } else {
                    quietSince = nil
                }
                if now - done > .seconds(settings.drainTimeout) {
                    logger.warning("the last reply did not finish within drain_timeout", metadata: [
                        "drain_timeout_s": "\(settings.drainTimeout.clean)",
                    ])
                    return .drainTimedOut
                }
            }
            clock.sleep(for: .milliseconds(20))
        }
    }

    /// One round of care: signals, children that ended, restarts that are due.
    private func tend() -> ChatEnding? {
        if let signal = signals.first { return .signal(signal) }
        let now = clock.now
        for name in StageName.allCases {
            let stage = stages[name]!
            if let child = stage.child, let status = child.exitStatus {
                stage.ended()
                if let ending = handleExit(of: stage, status: status, now: now) { return ending }
            }
            if stage.child == nil, let due = stage.restartAt, now >= due {
                var resume = 0.0
                if name == .capture { resume = capturePosition(at: now) ?? 0 }
                if let ending = start(name, resumeAt: resume) { return ending }
                logger.notice("restarted \(name.tool)", metadata: ["restarts_in_window": "\(stage.restarts.count)"])
            }
        }
        return nil
    }

    /// Where vx-capture's file has got to at `time`: it plays at real time from where it was last
    /// started, and a microphone would have gone on while the stage was down, so the time of an
    /// outage is skipped too. Nil before vx-capture has started.
    private func capturePosition(at time: Duration) -> Double? {
        captureClock.withLock { $0 }.map { $0.offset + TurnTracker.milliseconds(time - $0.at) / 1000 }
    }

    private func handleExit(of stage: StageProcess, status: Int32, now: Duration) -> ChatEnding? {
        let how = ChildProcess.describe(status)
        if stage.name == .capture && settings.isFileMode && how == "exit status 0" {
            logger.info("the input file has been read", metadata: ["file": "\(settings.input ?? "")"])
            inputDone = now
            return nil
        }
        if stage.name == .play, let pid = stage.lastPID { salvage(pid: pid) }
        if how == "exit status 64" || how == "exit status 66" {
            return .stageFailed(failure(stage, "\(stage.name.tool) refused its arguments (\(how))"))
        }
        let window = Duration.seconds(settings.restartWindow)
        stage.restarts.removeAll { now - $0 > window }
        guard stage.restarts.count < settings.maxRestarts else {
            return .stageFailed(failure(stage, "\(stage.name.tool) failed \(stage.restarts.count + 1) times within \(settings.restartWindow.clean) s (max_restarts \(settings.maxRestarts)); last: \(how)"))
        }
        // Backoff: 100 ms, then doubling with each recent restart, at most 5 s.
        let delay = min(Duration.milliseconds(100) * (1 << min(stage.restarts.count, 6)), .seconds(5))
        stage.restarts.append(now)
        stage.restartAt = now + delay
        logger.warning("\(stage.name.tool) ended (\(how)); restarting", metadata: [
            "delay_ms": "\(Int(TurnTracker.milliseconds(delay)))", "stage": "\(stage.name.rawValue)",
        ])
        return nil
    }

    /// A vx-play that died left what it had written in its temporary file (`.NAME.PID.part`, beside
    /// the output, its header not yet finished: libsndfile still reads it whole). It is kept, and put
    /// in front of the answers when the chat ends.
    private func salvage(pid: pid_t) {
        guard let output = settings.output else { return }
        let slash = output.lastIndex(of: "/")
        let dir = slash.map { String(output[...$0]) } ?? ""
        let name = slash.map { String(output[output.index(after: $0)...]) } ?? output
        let part = "\(dir).\(name).\(pid).part"
        guard access(part, R_OK) == 0 else { return }
        let kept = "\(dir).\(name).salvaged-\(salvaged.count + 1).wav"
        guard rename(part, kept) == 0 else { return }
        salvaged.append(kept)
        logger.notice("kept the answers the dead vx-play had written", metadata: ["file": "\(kept)"])
    }

    /// Joins the rescued answers and the last vx-play's file into the output, with vx-capture and vx-play.
    private func joinSalvaged() {
        guard !salvaged.isEmpty, let output = settings.output else { return }
        let inputs = salvaged + (access(output, R_OK) == 0 ? [output] : [])
        let sh = "'\(plan.binDir)/vx-capture' \(inputs.map { "'\($0)'" }.joined(separator: " ")) | '\(plan.binDir)/vx-play' '\(output)'"
        do {
            let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", sh], environment: environment)
            let deadline = clock.now + .seconds(60)
            while child.isRunning && clock.now < deadline { clock.sleep(for: .milliseconds(20)) }
            let status = child.exitStatus ?? -1
            guard status == 0 else {
                logger.warning("could not join the rescued answers", metadata: ["files": "\(inputs)", "status": "\(ChildProcess.describe(status))"])
                return
            }
            for file in salvaged { unlink(file) }
            logger.info("joined the rescued answers into the output", metadata: ["files": "\(salvaged.count)", "output": "\(output)"])
        } catch {
            logger.warning("could not join the rescued answers", metadata: ["error": "\(error)"])
        }
    }

    private func failure(_ stage: StageProcess, _ headline: String) -> String {
        let lines = stage.lastLines.suffix(8)
        guard !lines.isEmpty else { return "\(headline); it wrote nothing" }
        return headline + "; its last lines:\n" + lines.map { "    " + $0 }.joined(separator: "\n")
    }

    // MARK: What the monitor reports

    private func act(on action: TurnTracker.Action) {
        switch action {
        case .turn(var record):
            if settings.isFileMode { record.inputSeconds = capturePosition(at: record.playedAt) }
            var metadata: Logger.Metadata = [:]
            for (key, value) in record.fields { metadata[key] = "\(value)" }
            logger.notice("turn", metadata: metadata)
            if let turnsFile { LogSink.writeAll(turnsFile, record.json.jsonText + "\n") }
            view?.update { $0.lastTurn = "turn \(record.index): voice-to-voice \(TurnRecord.ms(record.voiceToVoice)) ms (\(TurnRecord.ms(record.voiceToVoiceWithSilence)) with the silence)" }
        case .bargeIn(let record):
            logger.notice("barge-in", metadata: [
                "onset_to_silence_ms": "\(TurnRecord.ms(record.onsetToSilence))", "heard": "\(record.heard)",
            ])
        case .phase(let phase):
            logger.info("state", metadata: ["state": "\(phase.rawValue)"])
            view?.update { $0.state = phase.rawValue }
        case .partial(let text):
            view?.update { $0.heard = text }
        case .reply(let text):
            view?.update { $0.reply = text }
        case .error(let text):
            logger.warning("a stage reported an error", metadata: ["error": "\(text)"])
        case .toVAD, .toLLM, .pong:
            break
        }
    }

    // MARK: Stopping

    /// Stops the stages in pipeline order (so each one's input has ended before it is asked to
    /// stop), each with SIGTERM and 5 s to finish (vx-play completes its file), then SIGKILL.
    private func shutDown() {
        view?.update { $0.state = "stopping" }
        let kill = signals.count > 1
        for name in StageName.allCases {
            guard let child = stages[name]!.child else { continue }
            child.terminate(grace: kill ? .zero : .seconds(5))
            stages[name]!.ended()
        }
        monitor?.stop()
        vadLink?.close()
        llmLink?.close()
        joinSalvaged()
        removeRuntimeDirectory()
    }

    private func removeRuntimeDirectory() {
        for name in ["events", "vad-feedback", "llm-feedback", "echo"] + StageName.allCases.map(\.rawValue) {
            unlink("\(plan.runtimeDir)/\(name).sock")
        }
        if rmdir(plan.runtimeDir) != 0 && errno != ENOENT {
            logger.warning("could not remove the runtime directory", metadata: ["dir": "\(plan.runtimeDir)", "error": "\(String(cString: strerror(errno)))"])
        }
    }

    private func summarize(_ ending: ChatEnding) {
        let tracker = monitor?.snapshot ?? TurnTracker()
        let summary = Self.summary(records: tracker.records, bargeIns: tracker.bargeIns)
        view?.update { $0.state = "stopped"; $0.summary = "" }
        view?.finish()
        switch ending {
        case .finished: logger.notice("done", metadata: ["summary": "\(summary)"])
        case .signal(let s): logger.notice("stopped by signal \(s)", metadata: ["summary": "\(summary)"])
        case .drainTimedOut: logger.warning("stopped: the last reply did not finish", metadata: ["summary": "\(summary)"])
        case .stageFailed(let message):
            logger.error("stopped", metadata: ["summary": "\(summary)"])
            logs.writeFileOnly("vx-chat: \(message)")
        }
    }

    /// "3 turns; v2v p50 412.0 ms p95 530.0 ms; with silence p50 … ; 1 barge-in, onset to silence p50 …".
    static func summary(records: [TurnRecord], bargeIns: [BargeInRecord]) -> String {
        var parts = ["\(records.count) turn\(records.count == 1 ? "" : "s")"]
        func pp(_ values: [Double]) -> String {
            let p = Percentiles(values)
            return "p50 \(TurnRecord.ms(p.percentile(50) ?? 0)) ms, p95 \(TurnRecord.ms(p.percentile(95) ?? 0)) ms"
        }
        if !records.isEmpty {
            parts.append("voice-to-voice \(pp(records.map(\.voiceToVoice)))")
            parts.append("with the silence window \(pp(records.map(\.voiceToVoiceWithSilence)))")
            let engines = records.compactMap(\.engines)
            if !engines.isEmpty { parts.append("engines \(pp(engines))") }
        }
        if !bargeIns.isEmpty {
            parts.append("\(bargeIns.count) barge-in\(bargeIns.count == 1 ? "" : "s"), onset to silence \(pp(bargeIns.map(\.onsetToSilence)))")
        }
        return parts.joined(separator: "; ")
    }
}
