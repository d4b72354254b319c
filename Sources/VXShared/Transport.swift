#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Bytes in: a standard stream or a socket. A source can span several
/// connections; each is a stream of its own, starting at a frame boundary.
public protocol ByteSource: AnyObject {
    var name: String { get }
    /// Reads into `buffer`; 0 means this connection's stream has ended.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// After an end: true when a new stream follows (a reconnected or newly
    /// accepted peer), false when the input is over.
    func resume() throws -> Bool
    /// Stops reading: closes connections and removes a listening socket.
    func close()
    /// True for a listener, which serves one peer after another: a peer that
    /// sends bad data is dropped instead of ending the input.
    var servesPeersInTurn: Bool { get }
}

extension ByteSource {
    public var servesPeersInTurn: Bool { false }
}

/// Bytes out: a standard stream or a socket.
public protocol ByteSink: AnyObject {
    var name: String { get }
    /// Writes all of `bytes` on one connection; a socket sink that loses its
    /// peer reconnects (or accepts the next peer) and writes them again.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Ends the output: closes connections and removes a listening socket.
    func close()
    /// Bytes to send first on every new connection after the first (a writer
    /// uses it to repeat the open stretch's `audio-start` to a new peer).
    var greeting: (() -> [UInt8])? { get set }
}

public enum TransportError: Error, Sendable, CustomStringConvertible {
    /// stdout (or the pipe behind it) was closed by the reader: a quiet end.
    case outputClosed(String)
    /// The peer could not be reached within the retry policy.
    case unavailable(String, reason: String)

    public var description: String {
        switch self {
        case .outputClosed(let name): "\(name) was closed by the reader"
        case .unavailable(let name, let reason): "\(name) is unavailable: \(reason)"
        }
    }
}

/// Opens endpoints with one retry policy and logger.
public struct Transport: Sendable {
    public var retry: RetryPolicy
    public var logger: Logger

    /// How long a connecting side waits for its peer: up to 30 s, trying
    /// from 50 ms apart to 1 s apart, so either side of a socket may start first.
    public static let reconnect = RetryPolicy(
        maxAttempts: 60, initialDelay: .milliseconds(50), maxDelay: .seconds(1), multiplier: 2, jitter: 0.2,
        deadline: .seconds(30))

    public init(retry: RetryPolicy = Transport.reconnect, logger: Logger) {
        self.retry = retry
        self.logger = logger
    }

    public func source(_ endpoint: Endpoint) throws -> any ByteSource {
        switch endpoint {
        case .stdio: return StandardInput()
        case .connect(let path): return ConnectingSource(path: path, transport: self)
        case .listen(let path): return try ListeningSource(path: path, logger: logger)
        }
    }

    public func sink(_ endpoint: Endpoint) throws -> any ByteSink {
        switch endpoint {
        case .stdio: return StandardOutput()
        case .connect(let path): return ConnectingSink(path: path, transport: self)
        case .listen(let path): return try ListeningSink(path: path, logger: logger)
        }
    }

    /// Connects to `path`, retrying while the peer is absent.
    func connect(_ path: String) throws -> Int32 {
        do {
            return try retry.run(
                isRetryable: { ($0 as? UnixSocket.Failure)?.isPeerAbsent ?? false },
                onRetry: { attempt in
                    logger.debug("peer not there yet, retrying", metadata: [
                        "socket": "\(path)", "attempt": "\(attempt.attempt)", "delay": "\(attempt.delay)",
                    ])
                }
            ) { _ in try UnixSocket.connect(path) }
        } catch let error as RetryError {
            throw TransportError.unavailable("connect:\(path)", reason: error.description)
        } catch let error as UnixSocket.Failure where !error.isPeerAbsent {
            throw TransportError.unavailable("connect:\(path)", reason: error.description)
        }
    }
}

final class StandardInput: ByteSource {
    let name = "stdin"
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try SystemCall.read(0, into: buffer, what: "stdin")
    }
    func resume() throws -> Bool { false }
    func close() {}
}

final class StandardOutput: ByteSink {
    let name = "stdout"
    var greeting: (() -> [UInt8])?
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try SystemCall.writeAll(1, bytes, what: "stdout")
        } catch let error as IOError where error.isPeerGone {
            throw TransportError.outputClosed("stdout")
        }
    }
    func close() {}
}

/// Reads from a listening peer; after an end, reconnects if the peer comes
/// back. A peer that ended cleanly has removed its socket file: then the input is over.
final class ConnectingSource: ByteSource {
    let path: String
    let transport: Transport
    var fd: Int32 = -1
    var name: String { "connect:\(path)" }

    init(path: String, transport: Transport) {
        self.path = path
        self.transport = transport
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if fd < 0 { fd = try transport.connect(path) }
        do {
            return try SystemCall.read(fd, into: buffer, what: name)
        } catch let error as IOError where error.isPeerGone {
            return 0
        }
    }

    func resume() throws -> Bool {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
        if access(path, F_OK) != 0 { return false }
        transport.logger.info("peer went away, reconnecting", metadata: ["socket": "\(path)"])
        fd = try transport.connect(path)
        return true
    }
}

/// Writes to a listening peer, reconnecting when it goes away.
final class ConnectingSink: SocketSink {
    let path: String
    let transport: Transport
    var fd: Int32 = -1
    var connections = 0
    var greeting: (() -> [UInt8])?
    var name: String { "connect:\(path)" }

    init(path: String, transport: Transport) {
        self.path = path
        self.transport = transport
    }

    func openConnection() throws -> Int32 { try transport.connect(path) }

    func peerLost() {
        Glibc.close(fd)
        fd = -1
        transport.logger.info("peer went away, reconnecting", metadata: ["socket": "\(path)"])
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// Owns a listening socket and one accepted connection at a time.
class Listener {
    let path: String
    let logger: Logger
    var listener: Int32
    var fd: Int32 = -1
    var name: String { "listen:\(path)" }

    init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        listener = try UnixSocket.listen(path)
        ExitCleanup.shared.removeOnExit(path)
        logger.info("listening", metadata: ["socket": "\(path)"])
    }

    func acceptIfNeeded() throws {
        guard fd < 0 else { return }
        fd = try UnixSocket.accept(listener, path: path)
        logger.debug("peer connected", metadata: ["socket": "\(path)"])
    }

    func dropConnection() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Removes the socket file first, so a connected reader sees that the end is clean.
    func close() {
        if listener >= 0 {
            unlink(path)
            ExitCleanup.shared.forget(path)
            Glibc.close(listener)
            listener = -1
        }
        dropConnection()
    }
}

final class ListeningSource: Listener, ByteSource {
    var servesPeersInTurn: Bool { true }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        // Closed (by a signal handler, while this thread waited for a peer): the input has ended.
        do { try acceptIfNeeded() } catch where listener < 0 { return 0 }
        do {
            return try SystemCall.read(fd, into: buffer, what: name)
        } catch let error as IOError where error.isPeerGone {
            return 0
        }
    }

    /// Serves the next peer: a listening reader's input never ends by itself, only when it is closed.
    func resume() throws -> Bool {
        dropConnection()
        do { try acceptIfNeeded() } catch where listener < 0 { return false }
        return true
    }
}

final class ListeningSink: Listener, SocketSink {
    var connections = 0
    var greeting: (() -> [UInt8])?

    func openConnection() throws -> Int32 {
        try acceptIfNeeded()
        return fd
    }

    func peerLost() {
        logger.info("peer went away, waiting for the next", metadata: ["socket": "\(path)"])
        dropConnection()
    }
}

/// A sink on a socket that replaces a lost peer (by reconnecting or by
/// accepting the next) and writes what failed again on the new connection.
protocol SocketSink: ByteSink {
    var fd: Int32 { get set }
    var connections: Int { get set }
    /// Opens the next connection (connects, or accepts a peer).
    func openConnection() throws -> Int32
    /// Forgets a connection whose peer went away.
    func peerLost()
}

extension SocketSink {
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        while true {
            do {
                if fd < 0 {
                    fd = try openConnection()
                    connections += 1
                    if connections > 1, let hello = greeting?(), !hello.isEmpty {
                        try hello.withUnsafeBytes { try SystemCall.writeAll(fd, $0, socket: true, what: name) }
                    }
                }
                try SystemCall.writeAll(fd, bytes, socket: true, what: name)
                return
            } catch let error as IOError where error.isPeerGone {
                peerLost()
            }
        }
    }
}
