#if canImport(Glibc)
import Glibc
#endif
import CCurl
import VXShared

/// libcurl's process-wide set-up, run once before the first handle is made. Swift runs a static
/// property's initialiser exactly once even when several threads race to it.
enum CurlGlobal {
    static let initialized: Bool = vx_curl_global_init() == CURLE_OK
}

/// One libcurl easy handle and the multi handle that drives it, owned together and freed together.
///
/// A transfer runs one request at a time on the calling thread, then can be reused for the next
/// request, keeping its connections (and TLS sessions) for them. `wake()` may be called from any
/// thread: it cuts short the transfer's wait for network activity (`curl_multi_wakeup`), which
/// is how a `Cancellation` stops a request at once.
final class CurlTransfer: Waking, @unchecked Sendable {
    private let easy: UnsafeMutableRawPointer
    private let multi: UnsafeMutableRawPointer
    /// libcurl writes its error text here during a transfer.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// nil when libcurl cannot initialise or is out of memory.
    init?() {
        guard CurlGlobal.initialized, let easy = curl_easy_init() else { return nil }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(easy)
            return nil
        }
        self.easy = easy
        self.multi = multi
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
    }

    func wake() {
        curl_multi_wakeup(multi)
    }

    /// Runs `request` to completion, delivering the response through `state`'s closures.
    /// Throws `HTTPError`, or the first error a closure threw.
    func perform(_ request: HTTPRequest, endpoint: HTTPEndpoint, state: TransferState) throws {
        curl_easy_reset(easy)
        errorBuffer.initialize(to: 0)
        if let cancellation = state.cancellation {
            guard cancellation.register(self) else { throw HTTPError.cancelled(endpoint) }
        }
        defer { state.cancellation?.unregister(self) }

        var headerList: UnsafeMutablePointer<curl_slist>?
        var mime: OpaquePointer?
        defer {
            curl_slist_free_all(headerList)
            curl_mime_free(mime)
        }
        try configure(request, endpoint: endpoint, state: state, headerList: &headerList, mime: &mime)

        guard curl_multi_add_handle(multi, easy) == CURLM_OK else {
            throw HTTPError.failed(endpoint, reason: "libcurl could not start the transfer")
        }
        defer { curl_multi_remove_handle(multi, easy) }
        let code = try drive(request.timeouts, endpoint: endpoint, state: state)
        if let error = state.callerError { throw error }
        if code != CURLE_OK { throw error(for: code, endpoint: endpoint, state: state, timeouts: request.timeouts) }
        try state.finish(endpoint: endpoint)
    }

    /// Sets every option for this request; libcurl copies what it needs except `headerList` and
    /// `mime`, which the caller frees after the transfer.
    private func configure(
        _ request: HTTPRequest, endpoint: HTTPEndpoint, state: TransferState,
        headerList: inout UnsafeMutablePointer<curl_slist>?, mime: inout OpaquePointer?
    ) throws {
        func set(_ option: CURLoption, _ value: Int) { vx_curl_setopt_long(easy, option, value) }
        func set(_ option: CURLoption, _ value: String) throws {
            guard vx_curl_setopt_string(easy, option, value) == CURLE_OK else {
                throw HTTPError.invalidRequest(endpoint, reason: "libcurl refused option \(option.rawValue)")
            }
        }
        func milliseconds(_ d: Duration) -> Int {
            let (s, atto) = d.components
            return max(Int(s) * 1000 + Int(atto / 1_000_000_000_000_000), 1)
        }

        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_USERAGENT, "vx")
        set(CURLOPT_NOSIGNAL, 1)  // threads: no SIGALRM for DNS timeouts
        set(CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.timeouts.connect))
        vx_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)

        // Callbacks get the state through libcurl's user-data pointers. `perform` keeps `state` alive.
        let context = Unmanaged.passUnretained(state).toOpaque()
        vx_curl_setopt_write_function(easy, CURLOPT_WRITEFUNCTION, curlWrite)
        vx_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        vx_curl_setopt_write_function(easy, CURLOPT_HEADERFUNCTION, curlHeader)
        vx_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
        vx_curl_setopt_xferinfo_function(easy, curlProgress)
        vx_curl_setopt_pointer(easy, CURLOPT_XFERINFODATA, context)
        set(CURLOPT_NOPROGRESS, 0)

        // Headers. An empty `Expect:` stops libcurl waiting up to a second for `100 Continue`
        // before sending a larger body.
        for field in request.headers.fields {
            let bad = { (c: Unicode.Scalar) in c == "\r" || c == "\n" || c == "\0" }
            guard !field.name.isEmpty, !field.name.unicodeScalars.contains(where: { bad($0) || $0 == ":" || $0 == " " }),
                  !field.value.unicodeScalars.contains(where: bad) else {
                throw HTTPError.invalidRequest(endpoint, reason: "header '\(redact(field.name, request.headers.secrets))' contains a line break or an invalid name")
            }
        }
        for line in request.headers.fields.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            guard let appended = curl_slist_append(headerList, line) else {
                throw HTTPError.failed(endpoint, reason: "out of memory for headers")
            }
            headerList = appended
        }
        vx_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)

        // Method and body.
        let method = request.method.uppercased()
        switch request.body {
        case .empty where method == "GET":
            set(CURLOPT_HTTPGET, 1)
        case .empty where method == "HEAD":
            set(CURLOPT_NOBODY, 1)
        case .empty:
            try setBody([], method: method, endpoint: endpoint)
        case .bytes(let bytes):
            try setBody(bytes, method: method, endpoint: endpoint)
        case .multipart(let parts):
            mime = curl_mime_init(easy)
            for part in parts {
                guard let handle = curl_mime_addpart(mime) else {
                    throw HTTPError.failed(endpoint, reason: "out of memory for the form")
                }
                curl_mime_name(handle, part.name)
                // libcurl copies the data.
                if part.data.isEmpty {
                    curl_mime_data(handle, "", 0)
                } else {
                    part.data.withUnsafeBufferPointer {
                        $0.withMemoryRebound(to: CChar.self) { _ = curl_mime_data(handle, $0.baseAddress, $0.count) }
                    }
                }
                if let filename = part.filename { curl_mime_filename(handle, filename) }
                if let type = part.contentType { curl_mime_type(handle, type) }
            }
            vx_curl_setopt_mime(easy, mime)
            if method != "POST" { try set(CURLOPT_CUSTOMREQUEST, method) }
        }
    }

    private func setBody(_ bytes: [UInt8], method: String, endpoint: HTTPEndpoint) throws {
        vx_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
        // COPYPOSTFIELDS copies `POSTFIELDSIZE` bytes (binary-safe once the size is set).
        let rc = bytes.isEmpty ? vx_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "") : bytes.withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { vx_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) }
        }
        guard rc == CURLE_OK else { throw HTTPError.failed(endpoint, reason: "out of memory for the body") }
        if method != "POST" {
            guard vx_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK else {
                throw HTTPError.failed(endpoint, reason: "out of memory for the method")
            }
        }
    }

    /// The transfer loop: lets libcurl work, then waits for network activity, a wake-up or the
    /// next time limit, whichever comes first. Returns libcurl's result for the transfer.
    private func drive(_ timeouts: HTTPTimeouts, endpoint: HTTPEndpoint, state: TransferState) throws -> CURLcode {
        let clock = SystemClock()
        let start = clock.now
        state.lastActivity = start
        while true {
            var running: Int32 = 0
            let rc = curl_multi_perform(multi, &running)
            guard rc == CURLM_OK else {
                throw HTTPError.failed(endpoint, reason: String(cString: curl_multi_strerror(rc)))
            }
            if running == 0 { break }
            if state.cancellation?.isCancelled == true { throw HTTPError.cancelled(endpoint) }

            let now = clock.now
            var wait = Duration.seconds(1)
            if let total = timeouts.total {
                let left = total - (now - start)
                if left <= .zero {
                    throw HTTPError.timeout(endpoint, limit: .total, after: total, responseStarted: state.responseStarted)
                }
                wait = min(wait, left)
            }
            if let idle = timeouts.idle {
                let left = idle - (now - state.lastActivity)
                if left <= .zero {
                    throw HTTPError.timeout(endpoint, limit: .idle, after: idle, responseStarted: state.responseStarted)
                }
                wait = min(wait, left)
            }
            let (s, atto) = wait.components
            let ms = Int32(clamping: s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000)
            curl_multi_poll(multi, nil, 0, max(ms, 1), nil)
        }
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            if message.pointee.msg == CURLMSG_DONE { return message.pointee.data.result }
        }
        throw HTTPError.failed(endpoint, reason: "libcurl ended the transfer without a result")
    }

    /// What a libcurl failure means for the caller.
    private func error(for code: CURLcode, endpoint: HTTPEndpoint, state: TransferState, timeouts: HTTPTimeouts) -> HTTPError {
        if state.cancellation?.isCancelled == true { return .cancelled(endpoint) }
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let reason = redact(detail.lowercasedFirst, state.secrets)
        switch code {
        case CURLE_COULDNT_CONNECT:
            // The system's word for it ("connection refused") says it best.
            var osError = 0
            vx_curl_getinfo_long(easy, CURLINFO_OS_ERRNO, &osError)
            return .connect(endpoint, reason: osError != 0 ? String(cString: strerror(Int32(osError))).lowercased() : reason)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR:
            return .connect(endpoint, reason: reason)
        case CURLE_OPERATION_TIMEDOUT:
            // The connect timeout is the only limit libcurl enforces itself; `drive` checks the others.
            return .connect(endpoint, reason: "no connection within \(timeouts.connect.humanReadable)")
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            return .connectionLost(endpoint, reason: reason, responseStarted: state.responseStarted)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_CONTENT_ENCODING:
            // Unsupported protocol after the URL was accepted is libcurl refusing an HTTP/0.9 reply.
            return .malformedResponse(endpoint, reason: reason)
        default:
            return .failed(endpoint, reason: reason)
        }
    }
}

/// Header lines, one per call. Returning anything but the byte count aborts the transfer.
private func curlHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let bytes = size * count
    guard let data, !(state.cancellation?.isCancelled ?? false) else { return 0 }
    state.receivedHeaderLine(UnsafeRawBufferPointer(start: data, count: bytes))
    return bytes
}

/// Body bytes as they arrive. Returning anything but the byte count aborts the transfer.
private func curlWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let bytes = size * count
    guard let data, !(state.cancellation?.isCancelled ?? false) else { return 0 }
    return state.receivedBody(UnsafeRawBufferPointer(start: data, count: bytes)) ? bytes : 0
}

/// Progress, called often during a transfer: notes activity, and aborts (non-zero) when cancelled.
private func curlProgress(_ context: UnsafeMutableRawPointer?, _ downloadTotal: curl_off_t, _ downloaded: curl_off_t,
                          _ uploadTotal: curl_off_t, _ uploaded: curl_off_t) -> Int32 {
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    if state.cancellation?.isCancelled == true { return 1 }
    state.progressed(downloaded: Int64(downloaded), uploaded: Int64(uploaded))
    return 0
}

extension String {
    var lowercasedFirst: String {
        guard let first, first.isUppercase, dropFirst().first?.isUppercase != true else { return self }
        return first.lowercased() + dropFirst()
    }
}
