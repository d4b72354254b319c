/// BSD sysexits codes, the exit statuses of every vx tool.
public enum SysExit: Int32, Sendable {
    case ok = 0
    case usage = 64        // EX_USAGE: bad flags or arguments
    case dataError = 65    // EX_DATAERR: bad input data
    case noInput = 66      // EX_NOINPUT: an input file does not exist or cannot be read
    case unavailable = 69  // EX_UNAVAILABLE: a device, peer or service is not there
    case software = 70     // EX_SOFTWARE: an internal error
    case ioError = 74      // EX_IOERR: reading or writing failed
}

/// An error a tool reports as one line and an exit code.
public struct ToolError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var exit: SysExit

    public init(_ message: String, exit: SysExit) {
        self.message = message
        self.exit = exit
    }

    public var description: String { message }

    public static func usage(_ message: String) -> ToolError { ToolError(message, exit: .usage) }
    public static func data(_ message: String) -> ToolError { ToolError(message, exit: .dataError) }
    public static func unavailable(_ message: String) -> ToolError { ToolError(message, exit: .unavailable) }
    public static func io(_ message: String) -> ToolError { ToolError(message, exit: .ioError) }

    /// The exit code and message for any error a tool can meet.
    public static func classify(_ error: any Error) -> ToolError {
        switch error {
        case let e as ToolError: e
        case let e as FrameError: .data(e.description)
        case let e as IOError: .io(e.description)
        case let e as UnixSocket.Failure: .unavailable(e.description)
        case let e as TransportError: .unavailable(e.description)
        case let e as RetryError: .unavailable(e.description)
        case let e as CircuitBreakerError: .unavailable(e.description)
        default: ToolError("\(error)", exit: .software)
        }
    }
}
