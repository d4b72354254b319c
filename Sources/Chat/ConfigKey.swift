import Logging
import VXShared

/// A configuration value as a source gave it.
public enum ConfigValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case strings([String])
}

/// One key of vx-chat's configuration: its name in the config file, its `VX_*` variable and its
/// flag, and how it reads into `ChatSettings`.
public struct ConfigKey: Sendable {
    public enum Kind: String, Sendable { case string, path, int, seconds, bool, strings, level, view }

    /// The name in the config file: `input`, or `vad.args` for key `args` in table `[vad]`.
    public let name: String
    public let kind: Kind
    public let help: String
    let read: @Sendable (ChatSettings) -> ConfigValue?
    let write: @Sendable (inout ChatSettings, ConfigValue) throws(ConfigError) -> Void

    /// `VX_INPUT`, `VX_VAD_ARGS`.
    public var environmentName: String {
        "VX_" + name.uppercased().replacing(".", with: "_")
    }

    /// `--input`, `--vad-args`.
    public var flag: String { "--" + name.replacing(".", with: "-").replacing("_", with: "-") }

    /// Reads `text` (an environment variable or a flag's value) as this key's kind. Lists are split
    /// at blanks.
    public func parse(_ text: String, source: String) throws(ConfigError) -> ConfigValue {
        switch kind {
        case .string, .path: return .string(text)
        case .int:
            guard let n = Int(text) else { throw ConfigError("\(source) '\(text)' is not a whole number") }
            return .int(n)
        case .seconds:
            guard let n = Double(text), n.isFinite else { throw ConfigError("\(source) '\(text)' is not a number of seconds") }
            return .double(n)
        case .bool:
            switch text.lowercased() {
            case "1", "true", "yes", "on": return .bool(true)
            case "0", "false", "no", "off": return .bool(false)
            default: throw ConfigError("\(source) '\(text)' is not true or false")
            }
        case .strings: return .strings(text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        case .level, .view: return .string(text)
        }
    }

    /// Sets the key, checking the value's type and range.
    public func apply(_ value: ConfigValue, to settings: inout ChatSettings, source: String) throws(ConfigError) {
        do { try write(&settings, value) } catch { throw ConfigError("\(source): \(error.message)") }
    }

    public func value(in settings: ChatSettings) -> ConfigValue? { read(settings) }
}

public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: The keys

extension ConfigKey {
    /// Every key, in the order `--print-config` shows them.
    public static let all: [ConfigKey] = [
        optionalString("input", .path, "File mode: the recorded question (any sound file), fed in at real time as a microphone would.",
                       \.input),
        optionalString("output", .path, "File mode: the WAV file the spoken answers go to, written at real time as a speaker plays.",
                       \.output),
        string("device", "Live mode: the ALSA capture device.", \.device),
        string("output_device", "Live mode: the ALSA playback device.", \.outputDevice),
        optionalString("runtime_dir", .path,
                       "Private directory (0700) for the stages' sockets. Default: $XDG_RUNTIME_DIR/vx-chat.PID or /tmp/vx-chat-UID/PID.",
                       \.runtimeDir),
        optionalString("log_file", .path,
                       "Every stage's log lines (info and up) and the turn reports are appended here. Default: $XDG_STATE_HOME/vx/vx-chat.log.",
                       \.logFile),
        ConfigKey(name: "log_level", kind: .level,
                  help: "Least severe log level shown on stderr: trace, debug, info, notice, warning, error, critical.",
                  read: { .string($0.logLevel.rawValue) },
                  write: { s, v throws(ConfigError) in
                      guard case .string(let text) = v, let level = Logger.Level(rawValue: text.lowercased()) else {
                          throw ConfigError("'\(v.plain)' is not one of trace, debug, info, notice, warning, error, critical")
                      }
                      s.logLevel = level
                  }),
        optionalString("bin_dir", .path, "Where the six vx tools are. Default: the directory vx-chat is in.", \.binDir),
        optionalString("session", .path, "vx-llm's conversation file (its --session). Default: vx-llm's own default.", \.session),
        int("max_restarts", "Restarts of one stage allowed within restart_window; one more stops the chat.", \.maxRestarts, 0...1000),
        seconds("restart_window", "Seconds over which a stage's restarts are counted.", \.restartWindow, 1...86_400),
        seconds("ready_timeout", "Seconds the stages have to start and answer a ping (the local LLM loads in this time).",
                \.readyTimeout, 1...3600),
        seconds("drain_timeout", "File mode: seconds to wait, after the input ends, for the last reply to be played.",
                \.drainTimeout, 1...3600),
        ConfigKey(name: "realtime", kind: .bool,
                  help: "File mode: feed the input and write the answers at real time, as devices would; false runs as fast as the stages go.",
                  read: { .bool($0.realtime) },
                  write: { s, v throws(ConfigError) in
                      guard case .bool(let b) = v else { throw ConfigError("'\(v.plain)' is not true or false") }
                      s.realtime = b
                  }),
        ConfigKey(name: "echo", kind: .seconds,
                  help: "File mode: simulate a speaker-to-mic echo: the answers, as they play, are added to the input at this gain in dB (e.g. -6). Unset for none.",
                  read: { s in s.echo.map { .double($0) } },
                  write: { s, v throws(ConfigError) in
                      guard let db = v.number else { throw ConfigError("'\(v.plain)' is not a gain in dB") }
                      guard (-60...20).contains(db) else { throw ConfigError("\(v.plain) is not from -60 to 20 dB") }
                      s.echo = db
                  }),
        ConfigKey(name: "barge_in", kind: .bool, help: "Let the user's voice interrupt the assistant.",
                  read: { .bool($0.bargeIn) },
                  write: { s, v throws(ConfigError) in
                      guard case .bool(let b) = v else { throw ConfigError("'\(v.plain)' is not true or false") }
                      s.bargeIn = b
                  }),
        ConfigKey(name: "view", kind: .view,
                  help: "auto (the live screen when stderr is a terminal), live or plain (log lines).",
                  read: { .string($0.view.rawValue) },
                  write: { s, v throws(ConfigError) in
                      guard case .string(let text) = v, let view = ChatSettings.View(rawValue: text) else {
                          throw ConfigError("'\(v.plain)' is not auto, live or plain")
                      }
                      s.view = view
                  }),
        optionalString("turns_file", .path, "One JSON line per turn, with its latency figures, is appended here.", \.turnsFile),
    ] + StageName.allCases.flatMap { stage in
        [
            ConfigKey(name: "\(stage.rawValue).args", kind: .strings,
                      help: "Extra arguments for \(stage.tool), after the ones vx-chat passes.",
                      read: { s in s.arguments[stage].map { .strings($0) } },
                      write: { s, v throws(ConfigError) in
                          switch v {
                          case .strings(let list): s.arguments[stage] = list
                          case .string(let one): s.arguments[stage] = [one]
                          default: throw ConfigError("'\(v.plain)' is not a list of strings")
                          }
                      }),
            ConfigKey(name: "\(stage.rawValue).command", kind: .path,
                      help: "A program standing in for \(stage.tool) (a fixture); it gets the same arguments.",
                      read: { s in s.commands[stage].map { .string($0) } },
                      write: { s, v throws(ConfigError) in
                          guard case .string(let path) = v else { throw ConfigError("'\(v.plain)' is not a path") }
                          s.commands[stage] = path.isEmpty ? nil : path
                      }),
        ]
    }

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }

    private static func optionalString(_ name: String, _ kind: Kind, _ help: String,
                                       _ path: WritableKeyPath<ChatSettings, String?> & Sendable) -> ConfigKey {
        ConfigKey(name: name, kind: kind, help: help, read: { s in s[keyPath: path].map { .string($0) } },
                  write: { s, v throws(ConfigError) in
                      guard case .string(let text) = v else { throw ConfigError("'\(v.plain)' is not a string") }
                      s[keyPath: path] = text.isEmpty ? nil : text
                  })
    }

    private static func string(_ name: String, _ help: String, _ path: WritableKeyPath<ChatSettings, String> & Sendable) -> ConfigKey {
        ConfigKey(name: name, kind: .string, help: help, read: { s in .string(s[keyPath: path]) },
                  write: { s, v throws(ConfigError) in
                      guard case .string(let text) = v, !text.isEmpty else { throw ConfigError("'\(v.plain)' is not a name") }
                      s[keyPath: path] = text
                  })
    }

    private static func int(_ name: String, _ help: String, _ path: WritableKeyPath<ChatSettings, Int> & Sendable,
                            _ range: ClosedRange<Int>) -> ConfigKey {
        ConfigKey(name: name, kind: .int, help: help, read: { s in .int(s[keyPath: path]) },
                  write: { s, v throws(ConfigError) in
                      guard case .int(let n) = v else { throw ConfigError("'\(v.plain)' is not a whole number") }
                      guard range.contains(n) else {
                          throw ConfigError("\(n) is not from \(range.lowerBound) to \(range.upperBound)")
                      }
                      s[keyPath: path] = n
                  })
    }

    private static func seconds(_ name: String, _ help: String, _ path: WritableKeyPath<ChatSettings, Double> & Sendable,
                                _ range: ClosedRange<Double>) -> ConfigKey {
        ConfigKey(name: name, kind: .seconds, help: help, read: { s in .double(s[keyPath: path]) },
                  write: { s, v throws(ConfigError) in
                      guard let n = v.number else { throw ConfigError("'\(v.plain)' is not a number of seconds") }
                      guard range.contains(n) else {
                          throw ConfigError("\(v.text) is not from \(range.lowerBound.clean) to \(range.upperBound.clean) seconds")
                      }
                      s[keyPath: path] = n
                  })
    }
}

extension ConfigValue {
    /// A number, whole or not; nil for any other value.
    var number: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }

    /// The value as a person typed it, for error messages.
    public var plain: String {
        if case .string(let s) = self { return s }
        return text
    }

    /// The value as the config file writes it (TOML).
    public var text: String {
        switch self {
        case .string(let s): return tomlString(s)
        case .int(let n): return "\(n)"
        case .double(let d): return d.clean
        case .bool(let b): return b ? "true" : "false"
        case .strings(let list): return "[" + list.map(tomlString).joined(separator: ", ") + "]"
        }
    }
}

/// A TOML basic string: JSON's string escapes are TOML's.
func tomlString(_ s: String) -> String {
    var out = ""
    JSONValue.writeString(s, to: &out)
    return out
}

extension Double {
    /// 60 rather than 60.0; 0.5 as 0.5.
    var clean: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : "\(self)" }
}
