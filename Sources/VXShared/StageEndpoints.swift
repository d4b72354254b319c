#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging

/// `--from` and `--to` for a stage that reads frames and writes frames.
public struct StageEndpoints: ParsableArguments {
    @Option(help: ArgumentHelp("Where frames come from: - (stdin), connect:PATH or listen:PATH (a Unix socket).",
                               valueName: "endpoint"))
    public var from: Endpoint = .stdio

    @Option(help: ArgumentHelp(
        "Where frames go: - (stdout; JSON text lines when it is a terminal), connect:PATH or listen:PATH.",
        valueName: "endpoint"))
    public var to: Endpoint = .stdio

    public init() {}

    /// Opens both ends. Output to a terminal is written in the text form, for people.
    public func open(options: CommonOptions, logger: Logger, retry: RetryPolicy = Transport.reconnect) throws -> (FrameReader, FrameWriter) {
        let transport = Transport(retry: retry, logger: logger)
        let reader = FrameReader(source: try transport.source(from), maxPayload: options.maxFrame, logger: logger)
        let form: FrameWriter.Form = to == .stdio && isatty(1) == 1 ? .text : .binary
        let writer = FrameWriter(sink: try transport.sink(to), form: form)
        return (reader, writer)
    }
}
