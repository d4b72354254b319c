import VXShared

/// What one transfer's libcurl callbacks share with the thread running it: the response head as
/// it is parsed, the caller's closures, and when bytes last moved. Only the transfer's own thread
/// touches it (libcurl calls back on the thread running `curl_multi_perform`).
final class TransferState {
    let cancellation: Cancellation?
    /// Credential values to cut out of error text.
    let secrets: [String]
    private let onHead: (HTTPResponseHead) throws -> Void
    private let onBody: (UnsafeRawBufferPointer) throws -> Void

    private(set) var status = 0
    private var headers = HTTPHeaders()
    /// True once any byte of the response (status line included) has arrived.
    private(set) var responseStarted = false
    private var headDelivered = false
    /// The start of a non-2xx body, for the error.
    private var errorBody: [UInt8] = []
    private static let errorBodyLimit = 4096
    /// The first error a caller's closure threw; the transfer is aborted and `perform` rethrows it.
    private(set) var callerError: (any Error)?
    /// When bytes last moved either way (read by the idle timeout).
    var lastActivity: Duration = .zero
    private var downloaded: Int64 = 0
    private var uploaded: Int64 = 0
    private let clock = SystemClock()

    init(
        cancellation: Cancellation?, secrets: [String],
        onHead: @escaping (HTTPResponseHead) throws -> Void,
        onBody: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) {
        self.cancellation = cancellation
        self.secrets = secrets
        self.onHead = onHead
        self.onBody = onBody
    }

    var head: HTTPResponseHead { HTTPResponseHead(status: status, headers: headers) }

    func receivedHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        responseStarted = true
        lastActivity = clock.now
        var line = Substring(decoding: bytes, as: UTF8.self)
        while let last = line.last, last.isNewline { line = line.dropLast() }
        if line.hasPrefix("HTTP/") {
            // A new response (after `100 Continue` or an interim 1xx): start over.
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = HTTPHeaders()
        } else if let first = line.first, first == " " || first == "\t", var last = headers.fields.last {
            // An obsolete folded continuation line.
            last.value += " " + line.trimmingSpaces
            headers.set(last.name, last.value)
        } else if let colon = line.firstIndex(of: ":") {
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces)
        }
    }

    /// Returns false to abort the transfer.
    func receivedBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        lastActivity = clock.now
        guard (200..<300).contains(status) else {
            errorBody.append(contentsOf: bytes.prefix(max(Self.errorBodyLimit - errorBody.count, 0)))
            return true
        }
        do {
            try deliverHead()
            try onBody(bytes)
            return true
        } catch {
            callerError = error
            return false
        }
    }

    func progressed(downloaded: Int64, uploaded: Int64) {
        if downloaded != self.downloaded || uploaded != self.uploaded {
            self.downloaded = downloaded
            self.uploaded = uploaded
            lastActivity = clock.now
        }
    }

    /// After a complete response: throws the status error for a non-2xx, else makes sure the
    /// head was delivered (a response without a body never reached `receivedBody`).
    func finish(endpoint: HTTPEndpoint) throws {
        guard (200..<300).contains(status) else {
            let retryAfter = status == 429 || status == 503 ? head.retryAfter : nil
            throw HTTPError.status(endpoint, status: status, retryAfter: retryAfter, excerpt: excerpt())
        }
        try deliverHead()
    }

    private func deliverHead() throws {
        guard !headDelivered else { return }
        headDelivered = true
        try onHead(head)
    }

    /// The start of the error body on one line: controls and runs of white space become one
    /// space, credentials are cut out, and it stops after about 200 characters.
    private func excerpt() -> String {
        var text = ""
        var space = false
        for c in String(decoding: errorBody, as: UTF8.self) {
            if c.isWhitespace || c.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .control }) {
                space = !text.isEmpty
                continue
            }
            if space { text.append(" ") }
            space = false
            text.append(c)
        }
        text = redact(text, secrets)
        return text.count > 200 ? text.prefix(200) + "…" : text
    }
}
