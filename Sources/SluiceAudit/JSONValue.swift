import Foundation

/// A JSON value as the audit store writes it: the detail of an event.
///
/// Numbers are integers only, so that the canonical form (see ``CanonicalJSON``) has exactly one
/// spelling for every value; durations and sizes are recorded in whole units (milliseconds,
/// bytes).
public enum JSONValue: Sendable, Hashable {
    /// A string.
    case string(String)
    /// A whole number.
    case integer(Int64)
    /// `true` or `false`.
    case bool(Bool)
    /// An ordered list.
    case array([JSONValue])
    /// An object; keys are written sorted, whatever order they were given in.
    case object([String: JSONValue])
    /// `null`.
    case null

    /// Returns the value with every string value passed through `transform`; object keys,
    /// which are names the code chose, stay as they are.
    public func mapValueStrings(_ transform: (String) -> String) -> JSONValue {
        switch self {
        case .string(let text):
            return .string(transform(text))
        case .array(let items):
            return .array(items.map { $0.mapValueStrings(transform) })
        case .object(let members):
            return .object(members.mapValues { $0.mapValueStrings(transform) })
        case .integer, .bool, .null:
            return self
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// A string literal is a JSON string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer literal is a JSON number.
    public init(integerLiteral value: Int64) { self = .integer(value) }
    /// A Boolean literal is a JSON Boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array literal is a JSON array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal is a JSON object; a repeated key keeps its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue: Codable {
    /// Reads any JSON value; a number with a fraction or beyond 64 bits is an error (the store
    /// writes whole numbers only).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// The value for a person: a string as itself, anything else as compact JSON.
    public var text: String {
        if case .string(let text) = self { return text }
        return CanonicalJSON.encode(self)
    }

    /// `text` read as JSON, or `nil` when it is not JSON.
    public init?(json text: String) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
        self = value
    }
}
