import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// Plain, timestamped progress lines: one per event, for a terminal or a log.
///
/// What they quote (target, stage and step names, results, reasons, a command's output) is
/// shown with its control characters escaped (``Swift/StringProtocol/escapedForTerminal``):
/// a command's output must not rewrite the lines above it. ``json(for:runID:)`` keeps the raw
/// values (JSON escapes them).
struct ProgressLines: Sendable {
    let style: TerminalStyle

    func line(for event: RunEvent) -> String? {
        if event.kind == .stepStarted || event.kind == .rollbackStepStarted { return nil }  // the finished line says it all
        let time = Self.clockTime(Date())
        let who = [event.target, event.step].compactMap { $0 }.joined(separator: " / ").escapedForTerminal
        let status = event.status.map { status in
            switch status {
            case .succeeded: style.green(status.rawValue)
            case .failed: style.red(status.rawValue)
            default: status.rawValue
            }
        } ?? ""
        let result = event.detail["result"].map { " (\($0.escapedForTerminal))" } ?? ""
        switch event.kind {
        case .stageStarted: return "\(time)  " + style.bold("stage \(event.stage ?? "")")
        case .stageFinished: return "\(time)  stage \((event.stage ?? "").escapedForTerminal) finished: \(status)"
        case .rollbackStarted: return "\(time)  " + style.red("rolling back: \(event.detail["reason"] ?? "")")
        default: return "\(time)  \(event.kind)  \(who)  \(status)\(result)"
        }
    }

    /// One line a command printed: `HH:MM:SS    target / step | line`, its control characters
    /// (a progress bar's CR, a colour, a line erase) shown escaped.
    func line(forOutput output: String, target: String, step: String) -> String {
        let text = output.hasSuffix("\n") ? output.dropLast() : output[...]
        return style.dim("\(Self.clockTime(Date()))    \(target) / \(step) | ") + text.escapedForTerminal
    }

    /// One event as a JSON line: `{"event": ..., "run": ..., "target": ..., ...}`, keys sorted.
    static func json(for event: RunEvent, runID: String) -> String {
        var object: [String: Any] = ["event": event.kind.rawValue, "run": runID, "time": Timestamp.format(Date())]
        if let target = event.target { object["target"] = target }
        if let stage = event.stage { object["stage"] = stage }
        if let step = event.step { object["step"] = step }
        if let status = event.status { object["status"] = status.rawValue }
        if let exitCode = event.exitCode { object["exit_code"] = Int(exitCode) }
        if let duration = event.duration { object["duration_ms"] = Int(duration.timeInterval * 1000) }
        if !event.detail.isEmpty { object["detail"] = event.detail }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The run's `run.finished` as the last JSON line: what ``json(for:runID:)`` writes, plus the
    /// event's `seq` and `hash`, the chain head to keep as an anchor.
    static func json(finished event: RecordedEvent) -> String {
        var object: [String: Any] = [
            "event": event.kind, "run": event.runID ?? "", "time": event.time, "seq": Int(event.seq), "hash": event.hash,
        ]
        if let status = event.status { object["status"] = status }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The summary's last line: where the run's record is, and the chain head its `run.finished`
    /// left, to keep off this host as an anchor.
    static func auditLine(runID: RunID, head: AuditAnchor) -> String {
        "Audit: `sluice show \(runID)`; chain head \(head) (`sluice audit verify --anchor \(head)` proves the store still holds it)."
    }

    /// `HH:mm:ss` in UTC, by hand: a shared DateFormatter was a measurable share of a short
    /// step's cost.
    static func clockTime(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let ofDay = (seconds % 86_400 + 86_400) % 86_400
        func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(twoDigits(ofDay / 3600)):\(twoDigits(ofDay / 60 % 60)):\(twoDigits(ofDay % 60))"
    }
}
