import Foundation
import Logging
import Testing
@testable import VXShared

/// Unix-socket transports on real sockets in a temporary directory.
struct TransportTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vx-sock-\(UUID().uuidString.prefix(8))")

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func listenerMakesPrivateDirectoryAndSocket() throws {
        let path = dir.appendingPathComponent("run/vx/stage.sock").path
        defer { try? FileManager.default.removeItem(at: dir) }
        let sink = try Transport(logger: logger).sink(.listen(path))
        #expect(try mode(dir.appendingPathComponent("run/vx").path) == 0o700)
        #expect(try mode(path) == 0o600)
        sink.close()
        #expect(!FileManager.default.fileExists(atPath: path), "a clean close removes the socket file")
    }

    @Test func staleSocketIsReplacedButALiveListenerIsNot() throws {
        let path = dir.appendingPathComponent("s.sock").path
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try UnixSocket.listen(path)
        #expect(throws: UnixSocket.Failure.self) { try UnixSocket.listen(path) }
        close(first)  // the file stays behind, as after a crash
        #expect(FileManager.default.fileExists(atPath: path))
        let second = try UnixSocket.listen(path)
        close(second)
    }

    @Test func refusesAPathThatIsNotASocket() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("plain").path
        try "x".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try UnixSocket.listen(path) } throws: { "\($0)".contains("is not a socket") }
    }

    @Test func connectingToNobodyGivesUpWithUnavailable() throws {
        let quick = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(2), deadline: .seconds(1))
        let source = try Transport(retry: quick, logger: logger).source(.connect(dir.appendingPathComponent("none.sock").path))
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect {
            try buffer.withUnsafeMutableBytes { _ = try source.read(into: $0) }
        } throws: { error in
            guard case TransportError.unavailable(_, let reason)? = error as? TransportError else { return false }
            return reason.contains("gave up after 3 attempts")
        }
    }

    @Test func framesCrossASocketAndTheReaderEndsWhenTheListenerClosesCleanly() throws {
        let path = dir.appendingPathComponent("s.sock").path
        defer { try? FileManager.default.removeItem(at: dir) }
        let transport = Transport(logger: logger)
        let writer = FrameWriter(sink: try transport.sink(.listen(path)))
        let frames: [Frame] = [.event(.audioStart(.pipeline, timestamp: 0)), .audio(AudioChunk(timestamp: 0, pcm: [1, 2, 3, 4])),
                               .event(.audioStop(timestamp: 125_000))]
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? writer.write(frames)
            writer.close()
            done.signal()
        }
        let reader = FrameReader(source: try transport.source(.connect(path)), logger: logger)
        var received: [Frame] = []
        while let frame = try reader.next() { received.append(frame) }
        #expect(received == frames)
        #expect(done.wait(timeout: .now() + 5) == .success)
    }
}
