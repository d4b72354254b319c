/// Header fields in the order they were set or received. Names compare without regard to case.
public struct HTTPHeaders: Sendable, Equatable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var fields: [Field]

    public init(_ fields: [Field] = []) {
        self.fields = fields
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    /// The value of the first field called `name`, or nil.
    public subscript(name: String) -> String? {
        let key = name.lowercased()
        return fields.first { $0.name.lowercased() == key }?.value
    }

    /// Adds a field, keeping any with the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces every field called `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        let key = name.lowercased()
        fields.removeAll { $0.name.lowercased() == key }
        fields.append(Field(name: name, value: value))
    }

    /// Sets `Authorization: Bearer <token>`. The client keeps the token out of logs and errors.
    public mutating func setBearer(_ token: Secret) {
        set("Authorization", "Bearer \(token.value)")
    }

    /// Names of the fields whose values are credentials: never logged, and cut from error excerpts.
    static let credentialNames: Set<String> = ["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"]

    /// The credential values among these fields, and for `Bearer`/`Basic` schemes the bare token too.
    var secrets: [String] {
        fields.filter { Self.credentialNames.contains($0.name.lowercased()) }.flatMap { field -> [String] in
            let value = field.value.trimmingSpaces
            guard let space = value.firstIndex(of: " ") else { return [value] }
            return [value, value[value.index(after: space)...].trimmingSpaces]
        }.filter { !$0.isEmpty }
    }

    /// Names and values, with credential values shown as `[redacted]`.
    public var description: String {
        fields.map { field in
            let value = Self.credentialNames.contains(field.name.lowercased()) ? "[redacted]" : field.value
            return "\(field.name): \(value)"
        }.joined(separator: ", ")
    }
}
