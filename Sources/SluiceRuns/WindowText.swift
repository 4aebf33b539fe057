import Foundation
import SluiceCore

/// Window and freeze verdicts in words, for refusals and the audit store.
public enum WindowText {
    /// Why a stage may not start: `the window is closed; it next opens ...`, or `a freeze is on
    /// until ... (year-end; calendar.yaml:2:5)`, naming where each freeze in force is declared.
    public static func describe(
        _ verdict: WindowVerdict, runbook: Runbook, at now: Date, time: (Date) -> String = WindowText.time
    ) -> String {
        switch verdict {
        case .closed(let next):
            return "the window is closed" + (next.map { "; it next opens \(time($0))" } ?? " and does not open again in the next \(WindowCalendar.horizonDays) days")
        case .frozen(let until, let reason):
            let places = WindowCalendar(runbook: runbook).freezes(at: now).map(\.location.description)
            let notes = ([reason].compactMap { $0 } + (places.isEmpty ? [] : ["declared at " + places.joined(separator: ", ")]))
            return "a freeze is on until \(time(until))" + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))")
        case .open(let closes, let lastStart):
            return "the window is open until \(time(closes)), no new stage after \(time(lastStart))"
        case .unrestricted:
            return "no window or freeze applies"
        }
    }

    /// A time as RFC 3339 in UTC, to the second: how refusals and reports name times.
    public static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
