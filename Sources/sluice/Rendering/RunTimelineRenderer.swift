import SluiceAudit

/// Renders a ``RunTimeline`` as plain lines for `sluice show`.
///
/// What the store recorded (names, commands, output tails, notes) is shown with its control
/// characters escaped (``Swift/StringProtocol/escapedForTerminal``) before it is coloured: the
/// store keeps the raw text, and `--json` gives it.
struct RunTimelineRenderer {
    /// How many lines of a step's output tail are shown (the whole 4 KiB tail is in `--json`).
    static let outputLines = 10

    let useColor: Bool

    func render(_ timeline: RunTimeline, id: String) -> String {
        var lines: [String] = []
        if let run = timeline.run {
            lines.append(bold("Run \(run.id)") + "  \(run.mode.rawValue)  \(run.runbookID): \(run.title)".escapedForTerminal)
            var finished = "not finished"
            if let finishedAt = run.finishedAt {
                let took = RunDurationFormat.between(run.startedAt, finishedAt).map { " (\(RunDurationFormat.duration(milliseconds: $0)))" }
                finished = "finished \(RunDurationFormat.time(finishedAt))\(took ?? "")"
            }
            lines.append("  by \(run.actor) on \(run.host) (pid \(run.pid)), started \(RunDurationFormat.time(run.startedAt)), \(finished)".escapedForTerminal)
            lines.append("  outcome: " + colored(RunsCommand.status(of: run), status: run.outcome?.rawValue))
            lines.append("  runbook \(run.runbookPath), content \(run.contentHash)".escapedForTerminal)
        } else {
            lines.append(bold("Run \(id)") + "  (no run row; showing its recorded events)")
        }
        for section in timeline.sections {
            lines.append("")
            lines.append(bold(section.stage.map { "Stage \($0)" } ?? "Run events"))
            for track in section.tracks {
                var indent = "  "
                if let target = track.target {
                    lines.append("  " + bold(target))
                    indent = "    "
                }
                for entry in track.entries {
                    lines.append(contentsOf: render(entry, indent: indent))
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func render(_ entry: RunTimeline.Entry, indent: String) -> [String] {
        var parts = [RunDurationFormat.clock(entry.time), entry.kind.escapedForTerminal]
        if let step = entry.step { parts.append("\"\(step.escapedForTerminal)\"") }
        if entry.inDoubt {
            parts.append(colored("started, not finished (in doubt)", status: "in_doubt"))
        } else if let status = entry.status {
            parts.append(colored(status, status: status))
        }
        if let exitCode = entry.exitCode { parts.append("exit \(exitCode)") }
        if let duration = entry.durationMilliseconds { parts.append(RunDurationFormat.duration(milliseconds: duration)) }
        for key in entry.notes.keys.sorted() {
            parts.append("\(key)=\(entry.notes[key]?.text ?? "")".escapedForTerminal)
        }
        var lines = [indent + parts.joined(separator: "  ")]
        let detailIndent = indent + "    "
        if let command = entry.command { lines.append(detailIndent + "$ " + command.escapedForTerminal) }
        if let output = entry.output, !output.isEmpty {
            let outputLines = output.split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init).reversed().drop { $0.isEmpty }.reversed()
            let shown = Array(outputLines.suffix(Self.outputLines))
            if outputLines.count > shown.count {
                lines.append(detailIndent + "| … (\(outputLines.count - shown.count) earlier lines; see --json)")
            }
            lines.append(contentsOf: shown.map { detailIndent + "| " + $0.escapedForTerminal })
        }
        return lines
    }

    /// `text` escaped, then in bold.
    private func bold(_ text: String) -> String {
        let text = text.escapedForTerminal
        return useColor ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }

    /// `text` escaped, then coloured for `status`.
    private func colored(_ text: String, status: String?) -> String {
        let text = text.escapedForTerminal
        guard useColor, let status else { return text }
        switch status {
        case "succeeded", "ok", "passed", "rolled_back": return "\u{1B}[32m\(text)\u{1B}[0m"
        case "failed", "timed_out", "rollback_incomplete", "refused", "interrupted": return "\u{1B}[31m\(text)\u{1B}[0m"
        default: return "\u{1B}[33m\(text)\u{1B}[0m"
        }
    }
}
