#if canImport(Glibc)
import Glibc
#endif

/// Where `scripts/setup-llm` puts the local model server and model: in the vx checkout,
/// `.local/llm` (a Python venv with `llama-cpp-python[server]`) and `.local/models/`.
public enum LocalInstall {
    public static let python = ".local/llm/bin/python"
    public static let model = ".local/models/gemma-3-270m-q4_k_m.gguf"

    /// The vx checkout: the nearest directory holding `scripts/setup-llm`, looking upward from the
    /// executable (`.build/release/vx-llm` lives in one), then from the current directory.
    public static func checkout() -> String? {
        var starts: [String] = []
        if let exe = executablePath(), let slash = exe.lastIndex(of: "/") { starts.append(String(exe[..<slash])) }
        if let cwd = currentDirectory() { starts.append(cwd) }
        for start in starts {
            var directory = start
            while true {
                if access(directory + "/scripts/setup-llm", F_OK) == 0 { return directory }
                guard let slash = directory.lastIndex(of: "/"), directory != "/" else { break }
                directory = slash == directory.startIndex ? "/" : String(directory[..<slash])
            }
        }
        return nil
    }

    /// The default Python and model paths, in the checkout found (or relative to the current
    /// directory, so that errors name the path that was expected).
    public static func defaults() -> (python: String, model: String) {
        let root = checkout().map { $0 == "/" ? "" : $0 } ?? (currentDirectory() ?? ".")
        return (root + "/" + python, root + "/" + model)
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
