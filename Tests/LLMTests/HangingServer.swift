import Foundation
import Synchronization

/// An HTTP server on 127.0.0.1 for one request: it answers with the head of an event stream and
/// `firstChunk`, then sends nothing more and waits for the client to close the connection, which
/// it records. It shows that a cancelled request really goes away.
final class HangingServer: Sendable {
    let port: Int
    private let listener: Int32
    private let closed = Mutex(false)
    private let requested = Mutex(false)

    init(firstChunk: String) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = listener
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 4) == 0
            }
        }
        guard ok else { throw FakeEngineServer.Failure(message: "HangingServer cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n" + firstChunk
        Thread.detachNewThread { [self] in serve(response) }
    }

    deinit { close(listener) }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private func serve(_ response: String) {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var answered = false
        while true {
            let n = recv(connection, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[0..<n]
            if !answered, String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
                answered = true
                requested.withLock { $0 = true }
                _ = Array(response.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
        closed.withLock { $0 = true }
    }

    /// Waits (at most `seconds`) for the client to close the connection.
    func waitForClose(seconds: Double) -> Bool {
        for _ in 0..<Int(seconds * 100) {
            if closed.withLock({ $0 }) { return true }
            usleep(10_000)
        }
        return false
    }

    var sawRequest: Bool { requested.withLock { $0 } }
}
