#if canImport(Glibc)
import Glibc
#endif
import VXShared

/// What vx-chat prepares before the supervisor starts: paths, files and checks, each failing with
/// a one-line `ToolError` that names the setting.
public enum ChatSetup {
    /// The process environment as a dictionary.
    public static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }

    /// The directory vx-chat's own executable is in.
    public static func ownDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    /// Checks the settings make a chat: file mode needs a readable input; live mode needs a sound
    /// card unless devices are named; every tool must be in `binDir`.
    public static func check(_ settings: ChatSettings, binDir: String) throws(ToolError) {
        if let input = settings.input {
            guard access(input, R_OK) == 0 else {
                throw ToolError("cannot read --input \(input): \(String(cString: strerror(errno)))", exit: .noInput)
            }
        } else if settings.output != nil {
            throw ToolError("--output needs --input: file mode reads a recorded question and writes the answers", exit: .usage)
        } else if settings.device == "default" || settings.outputDevice == "default", !hasSoundCard() {
            throw ToolError("no sound card here (/proc/asound/cards lists none); for a recorded question use file mode: vx-chat --input question.wav --output answer.wav",
                            exit: .unavailable)
        }
        if let output = settings.output, let slash = output.lastIndex(of: "/") {
            let dir = String(output[..<slash])
            if !dir.isEmpty && access(dir, W_OK) != 0 {
                throw ToolError("cannot write --output \(output): its directory \(dir) is not writable or does not exist", exit: .ioError)
            }
        }
        for stage in StageName.allCases {
            let path = settings.commands[stage] ?? "\(binDir)/\(stage.tool)"
            guard access(path, X_OK) == 0 else {
                if settings.commands[stage] != nil {
                    throw ToolError("cannot run --\(stage.rawValue)-command \(path): \(String(cString: strerror(errno)))", exit: .unavailable)
                }
                throw ToolError("\(stage.tool) is not in \(binDir) (build the tools with swift build -c release, or set --bin-dir)",
                                exit: .unavailable)
            }
        }
    }

    /// True when ALSA lists at least one card.
    static func hasSoundCard() -> Bool {
        guard let file = fopen("/proc/asound/cards", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if text.contains("no soundcards") { return false }
            if text.first == " " || text.first?.isNumber == true { return true }
        }
        return false
    }

    /// The runtime directory: made (with its parents) mode 0700; refuses one that others can enter.
    public static func runtimeDirectory(_ configured: String?, environment: [String: String]) throws(ToolError) -> String {
        let path: String
        if let configured {
            path = configured
        } else if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty, access(xdg, W_OK) == 0 {
            path = "\(xdg)/vx-chat.\(getpid())"
        } else {
            path = "/tmp/vx-chat-\(getuid())/\(getpid())"
        }
        try makeDirectories(path, what: "--runtime-dir")
        var info = stat()
        guard stat(path, &info) == 0, info.st_uid == getuid() else {
            throw ToolError("--runtime-dir \(path) belongs to another user", exit: .ioError)
        }
        if info.st_mode & 0o077 != 0 { chmod(path, 0o700) }
        // The longest socket name must fit a Unix socket address (108 bytes).
        guard path.utf8.count + "/llm-feedback.sock".utf8.count < 108 else {
            throw ToolError("--runtime-dir \(path) is too long for Unix socket names (keep it under 90 bytes)", exit: .usage)
        }
        return path
    }

    /// The log file, opened for appending (mode 0600), its directory made if need be.
    public static func openLog(_ path: String) throws(ToolError) -> Int32 {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]), what: "--log-file")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ToolError("cannot open --log-file \(path): \(String(cString: strerror(errno)))", exit: .ioError)
        }
        return fd
    }

    /// `$XDG_STATE_HOME/vx/vx-chat.log`, else `~/.local/state/vx/vx-chat.log`.
    public static func defaultLogFile(environment: [String: String]) -> String? {
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return "\(state)/vx/vx-chat.log" }
        if let home = environment["HOME"], !home.isEmpty { return "\(home)/.local/state/vx/vx-chat.log" }
        return nil
    }

    static func makeDirectories(_ path: String, what: String) throws(ToolError) {
        do { try UnixSocket.makePrivateDirectories(path) } catch {
            throw ToolError("cannot make \(what) \(path): \(error)", exit: .ioError)
        }
    }
}
