#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, with what was being done: "cannot read stdin: Input/output error".
public struct IOError: Error, Sendable, CustomStringConvertible {
    public var action: String
    public var errno: Int32

    public init(_ action: String, errno: Int32 = Glibc.errno) {
        self.action = action
        self.errno = errno
    }

    public var description: String { "\(action): \(String(cString: strerror(errno)))" }

    /// True when the other end has gone away (a closed pipe or reset socket).
    public var isPeerGone: Bool { errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN }
}

/// Thin wrappers over read(2)/write(2) that retry on EINTR and throw `IOError`.
public enum SystemCall {
    /// Reads up to `buffer.count` bytes; 0 means end of input.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, what: String) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw IOError("cannot read \(what)")
        }
    }

    /// Writes all of `bytes`, looping over partial writes. Uses send(MSG_NOSIGNAL)
    /// on sockets so a vanished peer is an EPIPE error, never a signal.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, socket: Bool = false, what: String) throws {
        var done = 0
        while done < bytes.count {
            let rest = bytes.count - done
            let n = socket
                ? Glibc.send(fd, bytes.baseAddress! + done, rest, Int32(MSG_NOSIGNAL))
                : Glibc.write(fd, bytes.baseAddress! + done, rest)
            if n >= 0 {
                done += n
                continue
            }
            if errno == EINTR { continue }
            throw IOError("cannot write \(what)")
        }
    }
}
