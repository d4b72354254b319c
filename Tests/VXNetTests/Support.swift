import Foundation
import Logging
import Synchronization
import Testing
import VXNet

/// Keeps every log record as one line of text, so tests can look through them.
final class LogStore: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    var logger: Logger {
        Logger(label: "test") { _ in CapturingLogHandler(store: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
        store.append("\(event.level) \(event.message) \(fields)")
    }
}

/// Runs `body` on a new thread; `wait` returns its result, or nil if it has not finished within
/// `seconds` (the thread is then left to end on its own).
final class Background<T: Sendable>: Sendable {
    private let result = Mutex<T?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            let value = body()
            result.withLock { $0 = value }
            done.signal()
        }
    }

    func wait(seconds: Double) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return result.withLock { $0 }
    }
}

/// What a throwing call ended with, as a value that can cross threads.
enum Outcome<Value: Sendable>: Sendable {
    case value(Value)
    case error(any Error & Sendable)

    init(_ body: () throws -> Value) {
        do {
            self = .value(try body())
        } catch let error as HTTPError {
            self = .error(error)
        } catch {
            self = .error(Described(text: "\(error)"))
        }
    }

    var error: (any Error)? {
        if case .error(let e) = self { return e }
        return nil
    }

    struct Described: Error, Sendable, CustomStringConvertible { var text: String; var description: String { text } }
}
