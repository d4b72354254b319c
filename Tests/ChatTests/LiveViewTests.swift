#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Chat

@Suite struct LiveViewTests {
    /// Everything written to the pipe so far.
    func drain(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func theScreenIsRedrawnInPlaceWithLogLinesAboveIt() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        defer { close(fds[0]); close(fds[1]) }
        let view = LiveView(fd: fds[1])
        view.update { $0.state = "hearing you"; $0.heard = "what is the" }
        let first = drain(fds[0])
        #expect(first.hasPrefix("── vx-chat ── hearing you\n  you: what is the\n"))
        view.update { $0.heard = "what is the capital" }
        let second = drain(fds[0])
        #expect(second.hasPrefix("\r\u{1B}[4A\u{1B}[J"), "moves up over the 4 lines drawn and clears them")
        #expect(second.contains("you: what is the capital"))
        view.printAbove("ts=… level=warning tool=vx-stt msg=slow\n")
        let third = drain(fds[0])
        #expect(third.hasPrefix("\r\u{1B}[4A\u{1B}[Jts=… level=warning tool=vx-stt msg=slow\n── vx-chat ── hearing you"))
        view.update { $0.heard = "what is the capital" }
        #expect(drain(fds[0]).isEmpty, "nothing changed, nothing drawn")
    }

    @Test func longLinesAreCutToTheTerminalWidth() {
        #expect(LiveView.fit("abcdefghij", 5) == "abcd…")
        #expect(LiveView.fit("abc\tdef", 20) == "abc def")
    }
}
