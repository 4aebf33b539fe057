import Foundation

extension JSONEncoder {
    /// Sorted keys, indented, times as RFC 3339: for `--json` output and saved plans alike.
    public static var sluice: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    /// Reads what ``JSONEncoder/sluice`` writes (saved plans).
    public static var sluice: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
