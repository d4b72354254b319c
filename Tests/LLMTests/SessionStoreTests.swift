import Foundation
import Testing
import VXShared
@testable import LLM

struct SessionStoreTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vx-llm-session-\(UUID().uuidString.prefix(8))")
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func turnsAreWrittenPrivatelyAndReadBackByANewStore() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state/vx/session.jsonl").path
        let logs = LogStore()
        do {
            let conversation = Conversation(store: try SessionStore(path: path, logger: logs.logger))
            conversation.append(.user("What is the capital of France?"))
            conversation.append(.assistant("Paris, \"of course\".\nIt is.", id: "r-1"))
            conversation.append(.user("And Italy?"))
            conversation.append(.assistant("Ro", interrupted: true, id: "r-2"))
        }
        #expect(try mode(path) == 0o600)
        #expect(try mode(directory.appendingPathComponent("state/vx").path) == 0o700)

        let resumed = Conversation(store: try SessionStore(path: path, logger: logs.logger))
        #expect(resumed.turns == [
            .user("What is the capital of France?"), .assistant("Paris, \"of course\".\nIt is.", id: "r-1"),
            .user("And Italy?"), .assistant("Ro", interrupted: true, id: "r-2"),
        ])
    }

    @Test func aCorruptLineIsSkippedWithAWarningNamingIt() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("session.jsonl").path
        let text = """
            {"role":"user","text":"one"}
            {"role":"assistant","text":"uno","id":"a"}
            {"role":"user","tex
            [1, 2]

            {"role":"robot","text":"beep"}
            {"role":"user","text":"two"}
            """
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
        let logs = LogStore()
        let store = try SessionStore(path: path, logger: logs.logger)
        #expect(store.load() == [.user("one"), .assistant("uno", id: "a"), .user("two")])
        let warnings = logs.all.filter { $0.hasPrefix("warning skipped a line of the session file") }
        #expect(warnings.count == 3)
        #expect(warnings.contains { $0.contains("line=3") } && warnings.contains { $0.contains("line=4") }
            && warnings.contains { $0.contains("line=6") && $0.contains("role") })
        #expect(try mode(path) == 0o600, "an existing file is made private")
    }

    @Test func aRefinementReplacesAReplyWithWhatWasHeard() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("session.jsonl").path
        let logs = LogStore()
        do {
            let conversation = Conversation(store: try SessionStore(path: path, logger: logs.logger))
            conversation.append(.user("Tell me a story."))
            conversation.append(.assistant("Once upon a time there was a fox.", id: "r-7"))
            #expect(conversation.refineReply(id: "r-7", heard: "Once upon a time"))
            #expect(!conversation.refineReply(id: "r-8", heard: "x"))
            #expect(conversation.turns.last == .assistant("Once upon a time", interrupted: true, id: "r-7"))
        }
        let resumed = Conversation(store: try SessionStore(path: path, logger: logs.logger))
        #expect(resumed.turns.last == .assistant("Once upon a time", interrupted: true, id: "r-7"))
    }

    @Test func anUnwritableSessionFileIsAnIOErrorNamingIt() throws {
        let path = "/proc/vx-no-such-dir/session.jsonl"
        #expect {
            _ = try SessionStore(path: path, logger: LogStore().logger)
        } throws: { error in
            guard let error = error as? ToolError else { return false }
            return error.exit == .ioError && error.message.contains("/proc/vx-no-such-dir") && error.message.contains("--no-session")
        }
    }
}
