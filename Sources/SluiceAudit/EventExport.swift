/// Writes events for other tools: JSON Lines or CSV.
public enum EventExport {
    /// The export formats.
    public enum Format: String, Sendable, CaseIterable {
        /// One JSON object per line, every column, keys sorted, values typed: numbers as numbers,
        /// `detail` as the object it is. The stored detail is canonical JSON, so a hash is
        /// recomputed from the export by writing `detail` back in canonical form (as a string)
        /// into the row form ``RecordedEvent/canonicalJSON`` describes.
        case jsonl
        /// RFC 4180 CSV with a header row: fields holding a comma, a double quote, CR or LF are
        /// quoted, and double quotes inside doubled; lines end with CRLF.
        case csv
    }

    /// The column names, in table order.
    public static let columns = [
        "seq", "time", "run_id", "actor", "kind", "target", "stage", "step", "status", "exit_code", "duration_ms",
        "detail", "prev_hash", "hash",
    ]

    /// The header line for `format`, if it has one (with its line ending).
    public static func header(_ format: Format) -> String? {
        switch format {
        case .jsonl: return nil
        case .csv: return columns.joined(separator: ",") + "\r\n"
        }
    }

    /// One event as a line of `format`, with its line ending.
    public static func line(_ event: RecordedEvent, format: Format) -> String {
        switch format {
        case .jsonl:
            return CanonicalJSON.encode(object(event)) + "\n"
        case .csv:
            return values(of: event).map(csvField).joined(separator: ",") + "\r\n"
        }
    }

    /// One event as a JSON object, as `audit export` and `show --json` write it: every column,
    /// snake_case, `detail` an object (a detail that is not JSON, in a damaged store, stays text).
    public static func object(_ event: RecordedEvent) -> JSONValue {
        var members = Dictionary(uniqueKeysWithValues: zip(columns, values(of: event)))
        members["detail"] = JSONValue(json: event.detail) ?? .string(event.detail)
        return .object(members)
    }

    private static func values(of event: RecordedEvent) -> [JSONValue] {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func number(_ value: Int64?) -> JSONValue { value.map(JSONValue.integer) ?? .null }
        return [
            .integer(event.seq), .string(event.time), text(event.runID), .string(event.actor), .string(event.kind),
            text(event.target), text(event.stage), text(event.step), text(event.status),
            number(event.exitCode.map(Int64.init)), number(event.durationMilliseconds), .string(event.detail),
            .string(event.prevHash), .string(event.hash),
        ]
    }

    /// A CSV field: absent values are empty, numbers plain, text quoted when it must be.
    private static func csvField(_ value: JSONValue) -> String {
        let text: String
        switch value {
        case .null: return ""
        case .integer(let number): return String(number)
        case .string(let string): text = string
        default: text = CanonicalJSON.encode(value)
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacing("\"", with: "\"\"") + "\""
    }
}
