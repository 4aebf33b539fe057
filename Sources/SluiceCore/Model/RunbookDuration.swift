/// Durations as runbooks write them: a whole number and one unit, `250ms`, `30s`, `5m` or `2h`.
public enum RunbookDuration {
    /// The accepted units, for error messages.
    public static let examples = "250ms, 30s, 5m or 2h"

    /// Parses `text`, or returns nil when it is not a runbook duration.
    public static func parse(_ text: String) -> Duration? {
        let units: [(suffix: String, seconds: Int64, isMilliseconds: Bool)] = [
            ("ms", 0, true), ("s", 1, false), ("m", 60, false), ("h", 3600, false),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let digits = text.dropLast(unit.suffix.count)
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int64(digits)
            else { return nil }
            return unit.isMilliseconds ? .milliseconds(value) : .seconds(value * unit.seconds)
        }
        return nil
    }

    /// The shortest runbook spelling of `duration` (`90s`, `2h`, `1500ms`).
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        if seconds != 0, seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds != 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
