import SluiceAudit

/// Formats durations and times of runs for people.
enum RunDurationFormat {
    /// `850ms`, `4.2s`, `2m 03s`, `1h 02m`.
    static func duration(milliseconds: Int64) -> String {
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        if milliseconds < 60_000 {
            let tenths = milliseconds / 100
            return "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = milliseconds / 1000
        if seconds < 3600 { return "\(seconds / 60)m " + twoDigits(seconds % 60) + "s" }
        return "\(seconds / 3600)h " + twoDigits(seconds / 60 % 60) + "m"
    }

    /// The time between two store timestamps, when both parse.
    static func between(_ start: String, _ end: String?) -> Int64? {
        guard let end, let from = Timestamp.milliseconds(start), let to = Timestamp.milliseconds(end) else { return nil }
        return to - from
    }

    /// `2026-11-21 08:30:15Z` from a store timestamp (seconds are enough for lists).
    static func time(_ timestamp: String) -> String {
        guard timestamp.count == 24 else { return timestamp }
        return timestamp.prefix(10) + " " + timestamp.dropFirst(11).prefix(8) + "Z"
    }

    /// `08:30:15.123` from a store timestamp, for timelines.
    static func clock(_ timestamp: String) -> String {
        guard timestamp.count == 24 else { return timestamp }
        return String(timestamp.dropFirst(11).prefix(12))
    }

    private static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
