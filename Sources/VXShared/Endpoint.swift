import ArgumentParser

/// Where a tool reads or writes frames: its standard stream, or a Unix socket
/// that it connects to or listens on.
///
///     -                  stdin (for --from) or stdout (for --to)
///     connect:PATH       connect to a listening peer; reconnect if it goes away
///     listen:PATH        create the socket (directory 0700, socket 0600) and wait for a peer
public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
    case stdio
    case connect(String)
    case listen(String)

    public init?(_ text: String) {
        if text == "-" {
            self = .stdio
        } else if text.hasPrefix("connect:"), text.count > 8 {
            self = .connect(String(text.dropFirst(8)))
        } else if text.hasPrefix("listen:"), text.count > 7 {
            self = .listen(String(text.dropFirst(7)))
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .stdio: "-"
        case .connect(let path): "connect:\(path)"
        case .listen(let path): "listen:\(path)"
        }
    }

    public var isStdio: Bool { self == .stdio }
}

extension Endpoint: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { description }
    public static var defaultCompletionKind: CompletionKind { .file() }
}
