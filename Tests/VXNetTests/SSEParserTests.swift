import Testing
import VXNet

/// The event-stream parser, fed whole and split at every byte position.
struct SSEParserTests {
    /// Feeds `text` split at `splits` (byte offsets) and returns every event.
    func parse(_ text: String, splits: [Int] = [], parser: inout SSEParser) throws -> [SSEEvent] {
        let bytes = Array(text.utf8)
        var events: [SSEEvent] = []
        var start = 0
        for cut in splits + [bytes.count] {
            events += try parser.feed(bytes[start..<cut])
            start = cut
        }
        return events
    }

    func parse(_ text: String) throws -> [SSEEvent] {
        var parser = SSEParser()
        return try parse(text, parser: &parser)
    }

    static let stream = "\u{FEFF}: hello\r\n"
        + "event: content_block_delta\r\n"
        + "data: {\"text\":\"Grüße\"}\r\n\r\n"
        + "id: 7\n"
        + "data: line one\n"
        + "data:line two\n"
        + "data\n"
        + "retry: 1500\n"
        + "unknown: ignored\n\n"
        + "data: cr only\r\r"
        + "data: [DONE]\n\n"

    static let expected = [
        SSEEvent(type: "content_block_delta", data: #"{"text":"Grüße"}"#),
        SSEEvent(data: "line one\nline two\n", lastEventID: "7"),
        SSEEvent(data: "cr only", lastEventID: "7"),
        SSEEvent(data: "[DONE]", lastEventID: "7"),
    ]

    @Test func parsesFieldsCommentsAndEveryLineEnding() throws {
        var parser = SSEParser()
        #expect(try parse(Self.stream, parser: &parser) == Self.expected)
        #expect(parser.retry == .milliseconds(1500))
        #expect(parser.lastEventID == "7")
        #expect(!parser.hasIncompleteEvent)
    }

    @Test func givesTheSameEventsSplitAtEveryByte() throws {
        let count = Self.stream.utf8.count
        for cut in 0...count {
            var parser = SSEParser()
            #expect(try parse(Self.stream, splits: [cut], parser: &parser) == Self.expected, "split at \(cut)")
        }
        var parser = SSEParser()
        #expect(try parse(Self.stream, splits: Array(1..<count), parser: &parser) == Self.expected, "one byte at a time")
    }

    @Test func doneMarksTheEndOfAnOpenAIStream() throws {
        let events = try parse("data: {\"choices\":[]}\n\ndata: [DONE]\n\n")
        #expect(events.map(\.isDone) == [false, true])
    }

    @Test func anEventWithoutDataIsNotDispatched() throws {
        #expect(try parse("event: ping\n\n: just a comment\n\nid: 3\n\n").isEmpty)
        // An empty data field is still data.
        #expect(try parse("data:\n\n") == [SSEEvent(data: "")])
        // The event type does not leak into the next event.
        #expect(try parse("event: a\n\ndata: x\n\n") == [SSEEvent(data: "x")])
    }

    @Test func anEventCutOffByTheEndOfTheStreamIsNotReturned() throws {
        var parser = SSEParser()
        #expect(try parse("data: complete\n\ndata: cut", parser: &parser) == [SSEEvent(data: "complete")])
        #expect(parser.hasIncompleteEvent)
        var other = SSEParser()
        #expect(try parse("data: no blank line\n", parser: &other).isEmpty)
        #expect(other.hasIncompleteEvent)
    }

    @Test func onlyOneSpaceAfterTheColonIsDropped() throws {
        #expect(try parse("data:  two spaces\n\n") == [SSEEvent(data: " two spaces")])
    }

    @Test func anOversizedEventIsAnError() throws {
        var parser = SSEParser(maxEventBytes: 16)
        #expect(throws: SSEError.eventTooLarge(limit: 16)) {
            _ = try parser.feed(Array("data: 0123456789abcdef\n\n".utf8))
        }
        var lines = SSEParser(maxEventBytes: 16)
        #expect(throws: SSEError.eventTooLarge(limit: 16)) {
            _ = try lines.feed(Array("data: 12345\ndata: 67890\n\n".utf8))
        }
    }
}
