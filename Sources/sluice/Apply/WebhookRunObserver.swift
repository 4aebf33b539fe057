import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// Sends a run's events to the runbook's webhooks as the journal commits them (so that
/// `run.started` and `run.finished` go out as well as the engine's events), and when the run
/// has finished waits, bounded, for what is outstanding and audits each failure as
/// `notify.failed`. A failure to notify never fails the run.
struct WebhookRunObserver: RunObserver {
    let runbookID: String
    let notifier: WebhookNotifier

    /// `nil` when the runbook has no `notify` entries.
    init?(runbook: Runbook, redactor: Redactor) {
        guard !runbook.notify.isEmpty else { return nil }
        runbookID = runbook.id
        notifier = WebhookNotifier(notify: runbook.notify, redactor: redactor, log: { Console.error("warning: \($0)") })
    }

    func observe(_ event: RecordedEvent) {
        notifier.send(WebhookMessage(
            runID: event.runID ?? "", runbook: runbookID, actor: event.actor, event: event.kind, stage: event.stage,
            target: event.target, step: event.step, outcome: event.status, time: event.time, seq: event.seq))
    }

    func runFinished(journal: RunJournal) async {
        for failure in await notifier.drain() {
            var detail: [String: JSONValue] = [
                "webhook": .string(failure.webhook), "declared_at": .string(failure.location.description),
                "event": .string(failure.event), "reason": .string(failure.reason), "attempts": .integer(Int64(failure.attempts)),
            ]
            if let seq = failure.seq { detail["event_seq"] = .integer(seq) }
            do {
                try await journal.record(.notifyFailed, status: "failed", detail: detail)
            } catch {
                Console.error("warning: could not audit the failed notification of \(failure.event) to \(failure.webhook): \(error)")
            }
        }
    }
}
