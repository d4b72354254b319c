import Logging
import VXNet
import VXShared

/// How one streamed reply went.
public struct ReplyOutcome: Sendable, Equatable {
    public enum Ending: Sendable, Equatable {
        /// The stream reached its end marker.
        case complete
        /// Stopped by the request's `Cancellation` (a barge-in).
        case cancelled
        /// No (more) reply could be had; the text says why, in one line without credentials.
        case failed(String)
    }

    public var ending: Ending
    /// Pieces of text handed out.
    public var deltas: Int
    /// Events that could not be read and were skipped.
    public var unreadable: Int
}

/// Sends a backend's requests and reads its streamed replies: retries and the circuit breaker
/// (`Resilience`), cancellation from another thread, server-sent events, and the backend's decoder.
///
/// Retries happen only before the reply has started (VXNet's classification: no connection, 429
/// honouring `Retry-After`, 5xx, a timeout or lost connection before the first byte). Once text
/// has been handed out, a failure ends the reply: what came is kept. Keep one streamer, and so one
/// breaker, per backend for the life of the process: while the backend keeps failing, later replies
/// fail at once without a request.
public final class ReplyStreamer: Sendable {
    public let backend: any LLMBackend
    public let resilience: Resilience
    private let client: HTTPClient
    private let clock: any MonotonicClock
    private let logger: Logger

    public init(backend: any LLMBackend, resilience: Resilience, client: HTTPClient? = nil,
                clock: any MonotonicClock = SystemClock(), logger: Logger) {
        self.backend = backend
        self.resilience = resilience
        self.client = client ?? HTTPClient(logger: logger)
        self.clock = clock
        self.logger = logger
    }

    /// Streams the reply to `prompt`, handing each piece of text to `onDelta` on this thread as it
    /// arrives, with the time from sending the request (the attempt that got an answer) until its
    /// bytes came: the engine's own time. Returns how it ended; throws only what `onDelta` throws
    /// (the output failing).
    public func stream(_ prompt: Prompt, cancellation: Cancellation,
                       onDelta: (_ text: String, _ sinceRequest: Duration) throws -> Void) throws -> ReplyOutcome {
        var deltas = 0
        var unreadable = 0
        let request: HTTPRequest
        do {
            request = try backend.request(for: prompt)
        } catch {
            return ReplyOutcome(ending: .failed(error.description), deltas: 0, unreadable: 0)
        }
        var log = logger
        log[metadataKey: "llm.backend"] = "\(backend.name)"
        log.trace("request", metadata: ["http.url": "\(request.url)", "http.body": "\(Self.bodyText(request))"])
        do {
            try resilience.run(logger: log, cancellation: cancellation, clock: clock) { _ in
                var parser = SSEParser()
                var decoder = backend.makeDecoder()
                var ended = false
                let sentAt = clock.now
                try client.stream(request, cancellation: cancellation, onHead: { head in
                    if let type = head.headers["Content-Type"], !type.lowercased().hasPrefix("text/event-stream") {
                        throw LLMError.notAnEventStream(contentType: type)
                    }
                }) { chunk in
                    let arrived = clock.now - sentAt
                    for event in try parser.feed(chunk) where !ended {
                        for item in try decoder.decode(event) {
                            switch item {
                            case .delta(let text):
                                deltas += 1
                                do { try onDelta(text, arrived) } catch { throw DeliveryFailure(error: error) }
                            case .end:
                                ended = true
                            case .ignored(let problem?):
                                unreadable += 1
                                if unreadable <= 3 {
                                    log.warning("skipped an unreadable event in the reply stream", metadata: [
                                        "problem": "\(problem)", "sse.event": "\(event.type)",
                                    ])
                                }
                            case .ignored(nil):
                                break
                            }
                        }
                    }
                }
                if !ended { throw LLMError.streamEnded(expected: decoder.endMarker) }
            }
            return ReplyOutcome(ending: .complete, deltas: deltas, unreadable: unreadable)
        } catch let failure as DeliveryFailure {
            throw failure.error
        } catch {
            if cancellation.isCancelled || (error as? HTTPError).map({ if case .cancelled = $0 { true } else { false } }) == true {
                return ReplyOutcome(ending: .cancelled, deltas: deltas, unreadable: unreadable)
            }
            return ReplyOutcome(ending: .failed("\(error)"), deltas: deltas, unreadable: unreadable)
        }
    }

    /// An error from the caller's `onDelta`, carried through the transfer unchanged.
    private struct DeliveryFailure: Error {
        var error: any Error
    }

    private static func bodyText(_ request: HTTPRequest) -> String {
        if case .bytes(let bytes) = request.body { return String(decoding: bytes, as: UTF8.self) }
        return ""
    }
}
