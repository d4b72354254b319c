import Testing
@testable import Chat

@Suite struct ConfigTests {
    @Test func flagsBeatEnvironmentWhichBeatsTheFile() throws {
        let dir = "/tmp/vx-chat-config-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(dir, 0o700) == 0)
        defer { unlink("\(dir)/chat.toml"); rmdir(dir) }
        let toml = """
            max_restarts = 3
            restart_window = 30
            device = "hw:1"
            [vad]
            args = ["--min-silence", "500"]
            """
        let fd = open("\(dir)/chat.toml", O_WRONLY | O_CREAT, 0o600)
        _ = toml.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        let resolved = try ConfigLoader.resolve(
            flags: [("max_restarts", .int(7), "--max-restarts")], configFile: "\(dir)/chat.toml",
            environment: ["VX_RESTART_WINDOW": "45", "VX_DEVICE": "", "HOME": "/nonexistent"])
        #expect(resolved.settings.maxRestarts == 7)
        #expect(resolved.settings.restartWindow == 45)
        #expect(resolved.settings.device == "hw:1")
        #expect(resolved.settings.arguments[.vad] == ["--min-silence", "500"])
        #expect(resolved.origins["max_restarts"] == "--max-restarts")
        #expect(resolved.origins["restart_window"] == "VX_RESTART_WINDOW")
        #expect(resolved.origins["device"] == "\(dir)/chat.toml")
        let printed = ConfigLoader.render(resolved)
        #expect(printed.contains("max_restarts = 7  # from --max-restarts"))
        #expect(printed.contains("[vad]\n"))
        #expect(printed.contains("args = [\"--min-silence\", \"500\"]"))
    }

    @Test func badValuesNameTheirSource() {
        #expect(throws: ConfigError.self) {
            _ = try ConfigLoader.resolve(flags: [], configFile: nil, environment: ["VX_MAX_RESTARTS": "many", "HOME": "/nonexistent"])
        }
        do {
            _ = try ConfigLoader.resolve(flags: [], configFile: nil, environment: ["VX_VIEW": "fancy", "HOME": "/nonexistent"])
            Issue.record("no error")
        } catch {
            #expect(error.message == "VX_VIEW: 'fancy' is not auto, live or plain")
        }
    }

    @Test func unknownKeysInTheFileAreRefused() throws {
        var settings = ChatSettings()
        var origins: [String: String] = [:]
        do {
            try ConfigLoader.applyTOML("colour = \"blue\"\n", path: "chat.toml", to: &settings, origins: &origins)
            Issue.record("no error")
        } catch {
            #expect(error.message.contains("unknown setting 'colour'"))
        }
        do {
            try ConfigLoader.applyTOML("max_restarts = \n", path: "chat.toml", to: &settings, origins: &origins)
            Issue.record("no error")
        } catch {
            #expect(error.message.hasPrefix("chat.toml:1:"))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
