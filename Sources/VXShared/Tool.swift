#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging

/// Options every vx tool takes: logging and the frame size limit.
public struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "Least severe log level shown: trace, debug, info, notice, warning, error, critical. Default: $VX_LOG_LEVEL or notice.",
        valueName: "level"))
    public var logLevelName: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp(
        "Log lines on stderr as logfmt (for people) or json (one object a line). Default: $VX_LOG_FORMAT or logfmt.",
        valueName: "format"))
    public var logFormatName: String?

    @Option(name: .customLong("max-frame"), help: ArgumentHelp(
        "Largest frame payload accepted, in bytes; a bigger frame is an error naming its offset.", valueName: "bytes"))
    public var maxFrame: Int = Frame.defaultMaxPayload

    public init() {}

    public var logLevel: Logger.Level {
        Logger.Level(rawValue: (logLevelName ?? env("VX_LOG_LEVEL") ?? "notice").lowercased()) ?? .notice
    }

    public var logFormat: LogFormat {
        LogFormat(rawValue: (logFormatName ?? env("VX_LOG_FORMAT") ?? "logfmt").lowercased()) ?? .logfmt
    }

    public func validate() throws {
        for (value, source) in [(logLevelName, "--log-level"), (env("VX_LOG_LEVEL"), "VX_LOG_LEVEL")] {
            if let value, Logger.Level(rawValue: value.lowercased()) == nil {
                throw ValidationError("\(source) '\(value)' is not one of trace, debug, info, notice, warning, error, critical")
            }
        }
        for (value, source) in [(logFormatName, "--log-format"), (env("VX_LOG_FORMAT"), "VX_LOG_FORMAT")] {
            if let value, LogFormat(rawValue: value.lowercased()) == nil {
                throw ValidationError("\(source) '\(value)' is not logfmt or json")
            }
        }
        guard (64...(1 << 30)).contains(maxFrame) else {
            throw ValidationError("--max-frame \(maxFrame) is not from 64 to \(1 << 30) bytes")
        }
    }

    public func logger(for tool: String) -> Logger {
        let level = logLevel
        let format = logFormat
        return Logger(label: tool) { _ in VXLogHandler(tool: tool, level: level, format: format) }
    }
}

/// The value of an environment variable, nil when unset or empty.
public func env(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let s = String(cString: value)
    return s.isEmpty ? nil : s
}

/// Runs a tool's work with vx process behaviour and never returns:
/// SIGPIPE ignored (a closed stdout ends the tool quietly, status 0), errors
/// reported as one line on stderr with their sysexits status.
public func runTool(_ tool: String, options: CommonOptions, _ body: (Logger) throws -> Void) -> Never {
    signal(SIGPIPE, SIG_IGN)
    let logger = options.logger(for: tool)
    do {
        try body(logger)
        exit(0)
    } catch TransportError.outputClosed(let name) {
        logger.debug("output closed by the reader; stopping", metadata: ["output": "\(name)"])
        exit(0)
    } catch {
        let failure = ToolError.classify(error)
        reportFailure(failure, tool: tool, format: options.logFormat)
        exit(failure.exit.rawValue)
    }
}

/// Prints a tool's fatal error: "vx-play: message" for people, a JSON record for machines.
public func reportFailure(_ failure: ToolError, tool: String, format: LogFormat) {
    switch format {
    case .logfmt:
        VXLogHandler.write("\(tool): \(failure.message)\n")
    case .json:
        VXLogHandler.write(VXLogHandler.json([
            ("ts", VXLogHandler.timestamp()), ("level", "error"), ("tool", tool), ("msg", failure.message),
            ("exit", "\(failure.exit.rawValue)"),
        ]) + "\n")
    }
}

extension ParsableCommand {
    /// Parses the command line and runs the command, reporting a usage error
    /// as one line ("vx-play: Unknown option '--foo' (see vx-play --help)")
    /// with status 64. `--help` and `--version` behave as usual.
    public static func runReportingOneLine(_ tool: String) -> Never {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
            let format = LogFormat(rawValue: (env("VX_LOG_FORMAT") ?? "logfmt").lowercased()) ?? .logfmt
            reportFailure(.usage("\(message) (see \(tool) --help)"), tool: tool, format: format)
            Glibc.exit(SysExit.usage.rawValue)
        }
        do {
            var command = command
            try command.run()
            Glibc.exit(0)
        } catch {
            exit(withError: error)
        }
    }
}
