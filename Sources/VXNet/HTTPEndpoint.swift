import CCurl

/// Where a request goes, as errors and logs show it: `scheme://host:port/path`, without the query,
/// fragment, user name or password, which may carry credentials.
public struct HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    public var path: String

    /// Parses an absolute `http` or `https` URL with libcurl's own URL parser (the one that will
    /// send the request). Throws `HTTPError.invalidURL`.
    public init(url: String) throws(HTTPError) {
        guard let handle = curl_url() else { throw .invalidURL(Self.shown(url), reason: "out of memory") }
        defer { curl_url_cleanup(handle) }
        let rc = curl_url_set(handle, CURLUPART_URL, url, 0)
        guard rc == CURLUE_OK else {
            throw .invalidURL(Self.shown(url), reason: String(cString: curl_url_strerror(rc)).lowercased())
        }
        func part(_ what: CURLUPart, _ flags: UInt32 = 0) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, what, &value, flags) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        let scheme = part(CURLUPART_SCHEME)?.lowercased() ?? ""
        guard scheme == "http" || scheme == "https" else {
            throw .invalidURL(Self.shown(url), reason: "the scheme must be http or https")
        }
        guard let host = part(CURLUPART_HOST), !host.isEmpty else {
            throw .invalidURL(Self.shown(url), reason: "no host")
        }
        self.scheme = scheme
        self.host = host
        self.port = part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT)).flatMap { Int($0) } ?? (scheme == "https" ? 443 : 80)
        self.path = part(CURLUPART_PATH) ?? "/"
    }

    public var description: String { "\(scheme)://\(host):\(port)\(path)" }

    /// A URL that did not parse, shown without what may be a query, fragment or credentials.
    static func shown(_ url: String) -> String {
        var s = Substring(url)
        if let cut = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<cut] }
        if let at = s.lastIndex(of: "@") {
            let schemeEnd = s.firstRange(of: "://")?.upperBound ?? s.startIndex
            if at >= schemeEnd { s = s[..<schemeEnd] + s[s.index(after: at)...] }
        }
        return String(s)
    }
}
