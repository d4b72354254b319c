#if canImport(Glibc)
import Glibc
#endif
import TOMLKit

/// Settings and where each came from.
public struct ResolvedConfig: Sendable {
    public var settings: ChatSettings
    /// Key name → "--input", "VX_INPUT", "/home/u/.config/vx/chat.toml"; absent for defaults.
    public var origins: [String: String]
    /// The config file read, if any.
    public var file: String?
}

/// Fills `ChatSettings` from, lowest first: defaults, the config file, `VX_*` variables, flags.
public enum ConfigLoader {
    /// `$XDG_CONFIG_HOME/vx/chat.toml`, else `~/.config/vx/chat.toml`.
    public static func defaultFile(environment: [String: String]) -> String? {
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { return "\(xdg)/vx/chat.toml" }
        if let home = environment["HOME"], !home.isEmpty { return "\(home)/.config/vx/chat.toml" }
        return nil
    }

    /// `flags` are (key name, value, flag spelling) in command-line order. `configFile` is
    /// `--config` (or `VX_CONFIG`): it must exist; the default file is read only if it exists.
    public static func resolve(flags: [(key: String, value: ConfigValue, flag: String)], configFile: String?,
                               environment: [String: String]) throws(ConfigError) -> ResolvedConfig {
        var settings = ChatSettings()
        var origins: [String: String] = [:]
        var file: String?
        let explicit = configFile ?? environment["VX_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let path = explicit ?? defaultFile(environment: environment), explicit != nil || access(path, F_OK) == 0 {
            let text: String
            do { text = try readFile(path) } catch {
                throw ConfigError("cannot read config file \(path): \(error.message)")
            }
            try applyTOML(text, path: path, to: &settings, origins: &origins)
            file = path
        }
        for key in ConfigKey.all {
            let name = key.environmentName
            guard let text = environment[name], !text.isEmpty else { continue }
            try key.apply(key.parse(text, source: name), to: &settings, source: name)
            origins[key.name] = name
        }
        for (name, value, flag) in flags {
            guard let key = ConfigKey.named(name) else { throw ConfigError("\(flag): no such setting") }
            try key.apply(value, to: &settings, source: flag)
            origins[key.name] = flag
        }
        return ResolvedConfig(settings: settings, origins: origins, file: file)
    }

    /// Reads a TOML config: top-level keys and one table per stage (`[vad] args = [...]`).
    static func applyTOML(_ text: String, path: String, to settings: inout ChatSettings,
                          origins: inout [String: String]) throws(ConfigError) {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ConfigError("\(path):\(error.source.begin.line):\(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError("\(path): \(error)")
        }
        func apply(_ name: String, _ value: TOMLValueConvertible) throws(ConfigError) {
            guard let key = ConfigKey.named(name) else {
                throw ConfigError("\(path): unknown setting '\(name)' (vx-chat --print-config lists them)")
            }
            guard let converted = configValue(value) else {
                throw ConfigError("\(path): \(name) has a value of an unusable type")
            }
            try key.apply(converted, to: &settings, source: "\(path): \(name)")
            origins[name] = path
        }
        for (name, value) in table {
            if let stageTable = value.table {
                guard StageName(rawValue: name) != nil else {
                    throw ConfigError("\(path): unknown table [\(name)] (tables: \(StageName.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                for (sub, subValue) in stageTable { try apply("\(name).\(sub)", subValue) }
            } else {
                try apply(name, value)
            }
        }
    }

    private static func configValue(_ value: TOMLValueConvertible) -> ConfigValue? {
        if let s = value.string { return .string(s) }
        if let b = value.bool { return .bool(b) }
        if let i = value.int { return .int(i) }
        if let d = value.double { return .double(d) }
        if let array = value.array {
            var list: [String] = []
            for item in array {
                if let s = item.string { list.append(s) } else if let i = item.int { list.append(String(i)) } else {
                    if let d = item.double { list.append(d.clean) } else { return nil }
                }
            }
            return .strings(list)
        }
        return nil
    }

    /// The whole settings as a config file, each key with its help, variable, flag and origin.
    public static func render(_ config: ResolvedConfig) -> String {
        var out = """
            # vx-chat configuration, as resolved: flags, then VX_* variables, then the config file, then defaults.
            # Config file: \(config.file ?? "none read")

            """
        var lastTable: String?
        for key in ConfigKey.all {
            let parts = key.name.split(separator: ".", maxSplits: 1).map(String.init)
            let table = parts.count == 2 ? parts[0] : nil
            let local = parts.last!
            if table != lastTable, let table {
                out += "\n[\(table)]\n"
                lastTable = table
            }
            out += "\n# \(key.help)\n# \(key.environmentName), \(key.flag)\n"
            if let value = key.value(in: config.settings) {
                let origin = config.origins[key.name].map { "from \($0)" } ?? "default"
                out += "\(local) = \(value.text)  # \(origin)\n"
            } else {
                out += "# \(local) =  (not set)\n"
            }
        }
        return out
    }

    private static func readFile(_ path: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigError(String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigError(String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
