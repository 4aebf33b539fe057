import Foundation
import Yams

/// The outcome of loading a calendar file: the calendar (when it is valid) and every problem.
public struct FreezeCalendarLoadResult: Sendable {
    /// The calendar as far as it could be read: nil when the file is missing, unreadable, not UTF-8,
    /// not YAML or not a mapping; with errors, it lacks the freezes that were wrong, so a command
    /// uses ``validCalendar``.
    public var calendar: FreezeCalendar?
    /// Every problem found, in reading order.
    public var diagnostics: [Diagnostic]

    /// The calendar, when it loaded without errors.
    public var validCalendar: FreezeCalendar? { diagnostics.hasErrors ? nil : calendar }
}

/// Reads calendar files:
///
/// ```yaml
/// freeze:
///   - { start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year-end freeze }
/// ```
///
/// Each freeze has a runbook freeze's keys and rules, and problems are reported the way a
/// runbook's are: every one at once, each as `FILE:LINE:COLUMN` with what to do.
public struct FreezeCalendarLoader: Sendable {
    /// A loader; it keeps no state between loads.
    public init() {}

    /// The keys a calendar file may have.
    static let topLevelKeys = ["freeze"]

    /// Loads the calendar file at `path`.
    public func load(path: String) -> FreezeCalendarLoadResult {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path)
                ? "cannot be read; check its permissions" : "does not exist; check the path given by --calendar or SLUICE_CALENDAR"
            return FreezeCalendarLoadResult(calendar: nil, diagnostics: [Diagnostic(.error, at: start, "calendar file \(reason)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return FreezeCalendarLoadResult(calendar: nil, diagnostics: [Diagnostic(.error, at: start, "calendar file is not UTF-8 text")])
        }
        return load(text: text, file: path)
    }

    /// Loads calendar `text` as if read from `file`.
    public func load(text: String, file: String) -> FreezeCalendarLoadResult {
        let sink = DiagnosticSink()
        let reader = YAMLReader(file: file, text: text, sink: sink)
        guard let root = RunbookLoader.compose(text, file: file, sink: sink, what: "calendar file", emptyHint: "list freezes under `freeze:`"),
            let top = reader.fields(root, "the calendar file", known: Self.topLevelKeys)
        else {
            return FreezeCalendarLoadResult(calendar: nil, diagnostics: sink.diagnostics.sortedForReading())
        }
        var freezes: [Freeze] = []
        // An empty list is a valid calendar: no freeze is declared right now.
        if let node = reader.required(top, "freeze") {
            freezes = reader.sequence(node, "`freeze`").compactMap(reader.freeze)
        }
        return FreezeCalendarLoadResult(calendar: FreezeCalendar(file: file, freezes: freezes), diagnostics: sink.diagnostics.sortedForReading())
    }
}

extension YAMLReader {
    /// A freeze, `{ start, end, reason }`, as runbooks and calendar files write it.
    func freeze(_ node: Node) -> Freeze? {
        guard let fields = fields(node, "a freeze", known: ["start", "end", "reason"]) else { return nil }
        let startNode = required(fields, "start"), endNode = required(fields, "end")
        let reason = string(fields["reason"], "`reason`")
        guard let start = timestamp(startNode, "the freeze's `start`"),
            let end = timestamp(endNode, "the freeze's `end`"), let endNode
        else { return nil }
        guard start < end else {
            sink.error("the freeze's `end` must be after its `start`", at: location(endNode))
            return nil
        }
        return Freeze(start: start, end: end, reason: reason, location: fields.location)
    }
}
