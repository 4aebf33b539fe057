/// A duration in a plan, the value execution uses, written in a plan or journal as a runbook
/// writes durations (`5m`, `300ms`) and read back strictly: text that is not a duration is an
/// error when the plan is read, never a default when a step runs.
public struct PlannedDuration: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The duration execution uses.
    public let duration: Duration
    /// As a runbook writes it.
    public let text: String

    /// `duration`, spelt as ``RunbookDuration/format(_:)`` writes it.
    public init(_ duration: Duration) {
        self.init(duration, text: RunbookDuration.format(duration))
    }

    /// `text` must be how ``RunbookDuration`` writes `duration` (the planner passes spellings
    /// it made once for the common durations).
    init(_ duration: Duration, text: String) {
        self.duration = duration
        self.text = text
    }

    /// As a runbook writes it (`5m`).
    public var description: String { text }

    /// Reads a runbook duration; any other text is a `DecodingError`, never a default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let duration = RunbookDuration.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "`\(text)` is not a duration (a whole number with ms, s, m or h)")
        }
        self.init(duration, text: text)
    }

    /// Writes ``text``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
