import Foundation

/// The identifier of one run: `r-YYYYMMDD-HHMMSS-xxxx`, the UTC time the run started followed by
/// four random lowercase hex digits, for example `r-20261121-083015-7f3a`.
///
/// Scripts and tests rely on this form (SPEC section 1), so ``init(_:)`` accepts nothing else.
/// Identifiers sort by start time up to the second; the random suffix only separates runs that
/// started in the same second.
public struct RunID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The identifier's text, always in the documented form.
    public let rawValue: String

    /// Parses `text`; returns `nil` unless it is exactly `r-YYYYMMDD-HHMMSS-xxxx` with a real
    /// calendar date, a time of day and four lowercase hex digits.
    public init?(_ text: String) {
        guard Self.isWellFormed(text) else { return nil }
        rawValue = text
    }

    /// Parses `rawValue` exactly as ``init(_:)`` does.
    public init?(rawValue: String) { self.init(rawValue) }

    /// Creates the identifier of a run that starts at `date`, with `suffix` (0...0xffff) as the
    /// four hex digits.
    public init(startedAt date: Date, suffix: UInt16) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let number = value ?? 0
            return number < 10 ? "0\(number)" : "\(number)"
        }
        let year = String(parts.year ?? 0)
        let hex = String(suffix, radix: 16)
        let paddedHex = String(repeating: "0", count: 4 - hex.count) + hex
        rawValue = "r-\(year)\(two(parts.month))\(two(parts.day))-"
            + "\(two(parts.hour))\(two(parts.minute))\(two(parts.second))-\(paddedHex)"
    }

    /// Creates a fresh identifier for a run starting at `date`, with a random suffix.
    public static func generate(at date: Date = Date()) -> RunID {
        var generator = SystemRandomNumberGenerator()
        return generate(at: date, using: &generator)
    }

    /// Creates an identifier for a run starting at `date`, drawing the suffix from `generator`
    /// (tests pass a seeded generator to get a known identifier).
    public static func generate<G: RandomNumberGenerator>(at date: Date, using generator: inout G) -> RunID {
        RunID(startedAt: date, suffix: UInt16.random(in: 0...UInt16.max, using: &generator))
    }

    /// The identifier's text.
    public var description: String { rawValue }

    /// Orders identifiers by their text, which orders them by start time.
    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Decodes an identifier from a JSON string, rejecting any other form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = RunID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a run id of the form r-YYYYMMDD-HHMMSS-xxxx")
        }
        self = id
    }

    /// Encodes the identifier as a JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static func isWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        // r - Y Y Y Y M M D D - H H M M S S - x x x x
        guard bytes.count == 22, bytes[0] == UInt8(ascii: "r"), bytes[1] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "-"), bytes[17] == UInt8(ascii: "-") else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard number(2..<6) != nil, let month = number(6..<8), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(13..<15), let second = number(15..<17),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return false }
        return bytes[18..<22].allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
    }
}
