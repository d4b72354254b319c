#if canImport(Glibc)
import Glibc
#endif

/// Unix-domain stream sockets: connect, listen (private directory 0700,
/// socket 0600, stale socket files replaced) and accept.
public enum UnixSocket {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case pathTooLong(String, limit: Int)
        case notASocket(String)
        case inUse(String)
        case system(IOError)

        public var description: String {
            switch self {
            case .pathTooLong(let path, let limit):
                "socket path \(path) is \(path.utf8.count) bytes, over the system's \(limit)-byte limit"
            case .notASocket(let path): "\(path) exists and is not a socket"
            case .inUse(let path): "another process is already listening on \(path)"
            case .system(let error): error.description
            }
        }

        /// The peer is not there (yet): worth trying again.
        public var isPeerAbsent: Bool {
            if case .system(let e) = self { return e.errno == ENOENT || e.errno == ECONNREFUSED }
            return false
        }
    }

    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) throws(Failure) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard bytes.count < capacity else { throw .pathTooLong(path, limit: capacity - 1) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    static func newSocket() throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(IOError("cannot create a socket")) }
        return fd
    }

    /// Connects once. `isPeerAbsent` on the error tells a missing or not yet listening peer.
    public static func connect(_ path: String) throws(Failure) -> Int32 {
        let fd = try newSocket()
        let result = try withAddress(path) { Glibc.connect(fd, $0, $1) }
        if result != 0 {
            let error = IOError("cannot connect to \(path)")
            close(fd)
            var info = stat()
            if error.errno == ECONNREFUSED, lstat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFSOCK {
                throw .notASocket(path)  // not worth retrying
            }
            throw .system(error)
        }
        return fd
    }

    /// Creates a listening socket at `path`, making its directory (0700) if needed.
    public static func listen(_ path: String) throws(Failure) -> Int32 {
        try makePrivateDirectory(for: path)
        var info = stat()
        if lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket(path) }
            if let live = try? connect(path) {
                close(live)
                throw .inUse(path)
            }
            unlink(path)  // left behind by a listener that died
        }
        let fd = try newSocket()
        let oldMask = umask(0o177)
        let bound = try withAddress(path) { bind(fd, $0, $1) }
        umask(oldMask)
        guard bound == 0 else {
            let error = IOError("cannot listen on \(path)")
            close(fd)
            throw .system(error)
        }
        chmod(path, 0o600)
        guard Glibc.listen(fd, 4) == 0 else {
            let error = IOError("cannot listen on \(path)")
            close(fd)
            throw .system(error)
        }
        return fd
    }

    /// Waits for the next peer.
    public static func accept(_ listener: Int32, path: String) throws(Failure) -> Int32 {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                return fd
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            throw .system(IOError("cannot accept a connection on \(path)"))
        }
    }

    /// Creates the socket's directory, and any missing parents, with mode 0700.
    static func makePrivateDirectory(for path: String) throws(Failure) {
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        do { try makePrivateDirectories(parent.isEmpty && path.hasPrefix("/") ? "/" : parent) } catch { throw .system(error) }
    }

    /// Creates `directory` and any missing parents with mode 0700 (existing ones are left as they are).
    public static func makePrivateDirectories(_ directory: String) throws(IOError) {
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw IOError("cannot create directory \(current)")
            }
        }
    }
}
