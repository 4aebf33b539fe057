import Foundation
import SluiceCore
import SluiceRuns

/// The human report of a plan: stage by stage, target by target, then a summary.
///
/// Everything it quotes (names, commands, paths, diffs, checks' output, reasons) is escaped
/// (``Swift/StringProtocol/escapedForTerminal``) before it is styled, so that a runbook cannot
/// hide from its reviewer what runs; ``TerminalStyle`` escapes what it styles.
struct PlanReport: Sendable {
    let plan: Plan
    let summary: PlanSummary
    let approval: ApprovalStatus
    let style: TerminalStyle
    let savedTo: String?

    /// The whole report as one string (for tests and small plans).
    var text: String {
        var text = ""
        write { text += $0 }
        return text
    }

    /// Writes the report piece by piece to `output`, so that a plan of many thousands of targets
    /// is never held as one string.
    func write(to output: (String) -> Void) {
        var lines = Lines()
        let headers = stepHeaders
        lines.append(style.bold("Plan \(plan.runID) for \(plan.runbook.id)") + (plan.runbook.title.map { ": \($0.escapedForTerminal)" } ?? ""))
        lines.append("  runbook   \(plan.runbook.file.escapedForTerminal) (content \(plan.content.hash.prefix(12)), \(plan.content.files.count) files)")
        lines.append("  window    \(windowText)")
        lines.append("  approval  \(approvalText)")
        lines.append("  failure   \(plan.onFailure == .rollback ? "roll back" : "halt") (scope: \(plan.rollbackScope))")
        if !plan.holds.isEmpty {
            lines.append("")
            lines.append(style.bold("Holds") + " (paused before the first stage, always resumed at the end; plan runs neither)")
            for hold in plan.holds {
                lines.append("  \(hold.name.escapedForTerminal)")
                lines.append("    pause:  \(hold.pause.escapedForTerminal)")
                lines.append("    resume: \(hold.resume.escapedForTerminal)")
            }
        }
        if !plan.guards.isEmpty {
            lines.append("")
            lines.append(style.bold("Guards") + " (checked before every stage" + (plan.guards.contains { $0.every != nil } ? " and while it runs)" : ")"))
            for guardCheck in plan.guards {
                lines.append("  \(guardCheck.name.escapedForTerminal)\(guardCheck.every.map { " (every \($0))" } ?? ""): \(outcomeText(guardCheck.check.outcome))")
                lines.append("    \(guardCheck.check.display.escapedForTerminal)")
                appendOutput(guardCheck.check.outcome, indent: "      ", to: &lines)
            }
        }
        for (index, stage) in plan.stages.enumerated() {
            lines.append("")
            let count = stage.targets.count
            lines.append(style.bold("Stage \(index + 1)/\(plan.stages.count) \(stage.name)") + ": \(count) target\(count == 1 ? "" : "s"), \(stage.parallel) at a time, tolerates \(stage.toleratedFailures) failure\(stage.toleratedFailures == 1 ? "" : "s")\(stage.bake.map { ", bake \($0)" } ?? "")")
            output(lines.take())
            // Targets are written in batches, each rendered in parallel chunks: a large plan has
            // hundreds of thousands of lines, and only one batch of them is held at a time.
            for batch in stride(from: 0, to: stage.targets.count, by: 2048) {
                let starts = Array(stride(from: batch, to: Swift.min(batch + 2048, stage.targets.count), by: 256))
                let chunks = starts.concurrentMap(minimumCount: 4) { (start: Int) -> String in
                    var chunk = Lines()
                    for target in stage.targets[start..<Swift.min(start + 256, stage.targets.count)] {
                        appendTarget(target, headers: headers, to: &chunk)
                    }
                    return chunk.text
                }
                for chunk in chunks { output(chunk) }
            }
        }
        lines.append("")
        var counts = "\(summary.targets) targets, \(summary.steps) steps (\(summary.checked) checked, \(summary.notChecked) not checked)"
        counts += ", \(summary.checks) preflight and guard checks; \(summary.failures) failed"
        if summary.unhealthy > 0 { counts += ", \(summary.unhealthy) health probes unhealthy now" }
        lines.append(style.bold("Summary") + ": " + counts + ".")
        if summary.ready {
            lines.append(style.green("Ready") + ": no check failed.")
        } else {
            lines.append(style.red("Not ready") + ": \(summary.failures) check\(summary.failures == 1 ? "" : "s") failed; fix them and plan again.")
        }
        if let savedTo { lines.append("Plan written to \(savedTo); apply it with `sluice apply \(plan.runbook.file) --plan \(savedTo)`.".escapedForTerminal) }
        lines.append("Recorded as \(plan.runID): `sluice show \(plan.runID)`.")
        output(lines.take())
    }

    /// `    3. restart [run]` for each step, spelt once: every target has the same steps.
    private var stepHeaders: [String] {
        (plan.stages.first { !$0.targets.isEmpty }?.targets.first?.steps ?? []).enumerated().map { index, step in
            Self.stepHeader(index, step)
        }
    }

    private static func stepHeader(_ index: Int, _ step: PlannedStep) -> String {
        "    \(index + 1). \(step.name.escapedForTerminal) [\(step.action.kind.rawValue)]"
    }

    private var windowText: String {
        switch plan.window {
        case .unrestricted: "no window or freeze applies"
        case .open(let closes, let lastStart): "open until \(Self.time(closes)) (no new stage after \(Self.time(lastStart)))"
        case .closed(let next): style.yellow("closed") + (next.map { "; next opens \(Self.time($0))" } ?? "; it does not open in the next \(WindowCalendar.horizonDays) days") + " (apply would refuse unless --override-window)"
        case .frozen(let until, let reason): style.yellow("frozen") + " until \(Self.time(until))\(reason.map { " (\($0.escapedForTerminal))" } ?? "") (apply would refuse unless --override-window)"
        }
    }

    private var approvalText: String {
        if !approval.approvers.isEmpty { return "approved for this content by \(approval.approvers.joined(separator: ", ").escapedForTerminal)" }
        let changed = approval.changedSince.map { since in
            ("; changed since the approval by \(since.approver) at \(since.approvedAt)"
                + (since.changes.isEmpty ? "" : ": " + since.changes.joined(separator: "; "))).escapedForTerminal
        } ?? ""
        return approval.required ? style.yellow("required, not yet given for this content") + changed + " (`sluice approve`)" : "not required" + changed
    }

    private func appendTarget(_ target: PlannedTarget, headers: [String], to lines: inout Lines) {
        lines.append("  " + style.bold(target.name))
        for check in target.preflight {
            lines.append("    preflight \(check.name.escapedForTerminal): \(outcomeText(check.outcome))")
            lines.append("      \(check.command.display.escapedForTerminal)")
            appendOutput(check.outcome, indent: "        ", to: &lines)
        }
        for (index, step) in target.steps.enumerated() {
            let header = index < headers.count ? headers[index] : Self.stepHeader(index, step)
            guard step.applies else {
                lines.append(header + ": " + style.dim(step.verification.detail))
                continue
            }
            lines.append(header, ": ", outcomeText(step.verification))
            if let command = step.command { lines.append("      run:      ", command.display.escapedForTerminal) }
            if let check = step.check { lines.append("      check:    ", check.display.escapedForTerminal) }
            if let rollback = step.rollback { lines.append("      rollback: ", rollback.display.escapedForTerminal) }
            if let health = step.health {
                var expectation = health.status.map { "status \($0)" } ?? "any 2xx"
                if let contains = health.contains { expectation += ", body contains `\(contains.escapedForTerminal)`" }
                if case .command = health.probe { expectation = "exit status 0" }
                lines.append("      probe:    \(String(describing: health.probe).escapedForTerminal) (\(expectation); \(health.attempts) attempts, \(health.interval) apart, \(health.timeout) each)")
            }
            if let file = step.file { appendFile(file, to: &lines) }
            if let wait = step.wait { lines.append("      wait:     \(wait)") }
            appendOutput(step.verification, indent: "        ", to: &lines)
        }
        let recovery = target.recovery.filter(\.applies).map(\.name)
        lines.append("    recovery after a rollback: " + (recovery.isEmpty ? "nothing (no recovery, cache_refresh or health steps)" : recovery.joined(separator: ", ").escapedForTerminal))
    }

    private func appendFile(_ file: PlannedFile, to lines: inout Lines) {
        var change: String
        switch file.change {
        case .create?: change = "new file, mode \(file.mode ?? "0644")"
        case .modify?: change = "changes" + (file.mode.map { $0 != file.currentMode ? ", mode \(file.currentMode ?? "?") -> \($0)" : "" } ?? "")
        case .mode?: change = "content unchanged, mode \(file.currentMode ?? "?") -> \(file.mode ?? "?")"
        case .unchanged?: change = "unchanged: apply writes nothing and does not reload"
        case nil: change = "not inspected"
        }
        if let target = file.linkTarget { change = "a link followed to \(target); " + change }
        lines.append("      file:     \(file.path) (\(change))".escapedForTerminal)
        if let validate = file.validate { lines.append("      validate: \(validate.display.escapedForTerminal)") }
        if let reload = file.reload { lines.append("      reload:   \(reload.display.escapedForTerminal)") }
        if let diff = file.diff, !diff.isEmpty {
            for line in diff.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                lines.append("        " + style.diff(String(line)))
            }
        }
    }

    private func outcomeText(_ outcome: CheckOutcome?) -> String {
        guard let outcome else { return style.dim("not run") }
        // The same few "not checked" reasons repeat for every target; spell them without colour
        // work when colour is off.
        if !style.enabled, outcome.status == .notChecked { return "not checked: " + outcome.detail.escapedForTerminal }
        switch outcome.status {
        case .passed: return style.green("passed") + (outcome.detail.hasPrefix("healthy") ? " (\(outcome.detail.escapedForTerminal))" : "")
        case .failed: return style.red("FAILED") + " (\(outcome.detail.escapedForTerminal))"
        case .unhealthy: return style.yellow(outcome.detail)
        case .notChecked: return style.yellow("not checked") + ": \(outcome.detail.escapedForTerminal)"
        case .nothingToCheck: return style.dim(outcome.detail)
        }
    }

    /// The last lines of a failed check's output.
    private func appendOutput(_ outcome: CheckOutcome?, indent: String, to lines: inout Lines) {
        guard let outcome, outcome.status == .failed, let output = outcome.output else { return }
        for line in output.split(separator: "\n").suffix(5) { lines.append(indent + "| " + line.escapedForTerminal) }
    }

    static func time(_ date: Date) -> String { WindowText.time(date) }
}

/// Text built line by line in one buffer: a large plan has hundreds of thousands of lines.
struct Lines {
    private(set) var text = ""


    mutating func append(_ line: String) {
        text += line
        text += "\n"
    }

    /// The text so far, leaving the buffer empty.
    mutating func take() -> String {
        defer { text = "" }
        return text
    }

    /// Appends the parts as one line, without building the line first.
    mutating func append(_ first: String, _ second: String, _ third: String = "") {
        text += first
        text += second
        text += third
        text += "\n"
    }
}
