import ArgumentParser
import SluiceAudit
import SluiceCore
import SluiceRuns

/// The end of `apply`, `resume` and `rollback` on the terminal: the run's summary and the exit
/// status that says how it ended, or a refusal and its status.
enum RunSummary {
    /// Runs `body` (a ``RunService`` call), then prints the run's summary and exits with its
    /// status; a refusal is printed instead, with its own status.
    static func carryOut(json: Bool, _ body: () async throws -> RunReport) async throws {
        let report: RunReport
        do {
            report = try await body()
        } catch let refusal as RunRefusal {
            switch refusal.kind {
            case .refused: Console.fail(refusal.message)
            case .invalid: Console.error(refusal.message)
            }
            if let recorded = refusal.recorded {
                Console.line(ProgressLines.auditLine(runID: recorded.run, head: recorded.head))
            }
            throw ExitCode(refusal.exitStatus)
        }
        print(report, json: json)
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }

    /// The summary's lines: the outcome, then what the operator must know or do.
    static func print(_ report: RunReport, json: Bool) {
        let (runID, result, failed) = (report.runID, report.result, report.failed)
        Console.line("Run \(runID) \(report.outcome.rawValue)" + (failed.isEmpty ? "" : "; failed: \(failed.joined(separator: ", ").escapedForTerminal)"))
        switch report.outcome {
        case .succeeded:
            break
        case .refused:
            Console.line(result.stopReason == .stopRequested
                ? "Stopped before anything changed."
                : "Preflight failed on at least one target: nothing was changed. `sluice show \(runID)` shows which.")
        case .rollbackIncomplete:
            Console.line("An operator must act: the rollback or recovery of \(report.incomplete.joined(separator: ", ")) did not complete.".escapedForTerminal)
            for line in report.unfinishedUndo { Console.line("  " + line.escapedForTerminal) }
            Console.line("Put each of these right by hand, then check the targets' health. `sluice show \(runID)` has the output.")
        case .halted where result.stopReason == .lockLost:
            let lost = report.lostLocks.keys.sorted()
            Console.line("Halted: the run lost its lock on \(lost.joined(separator: ", ")); no further step started there, and nothing was undone on it.".escapedForTerminal)
            for (target, why) in report.lostLocks.sorted(by: { $0.key < $1.key }) { Console.line("  \(target): \(why)".escapedForTerminal) }
            Console.line("Find out who holds it (`sluice runs`); once the target is free, `sluice rollback \(runID)` to undo, or `sluice resume \(runID)` to go on.")
        case .halted:
            Console.line("Halted: the run keeps its state and its targets. `sluice rollback \(runID)` to undo, or `sluice resume \(runID)` to go on.")
        default:
            Console.line("`sluice show \(runID)` shows every step.")
        }
        if json { Console.line(ProgressLines.json(finished: report.finished)) }
        Console.line(ProgressLines.auditLine(runID: runID, head: AuditAnchor(report.finished)))
    }
}
