import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// Sends a run's events to the runbook's webhooks as the journal commits them (so that
/// `run.started` and `run.finished` go out as well as the engine's events), and audits each
/// failure to notify as `notify.failed` as soon as it is known, so that a runner killed later
/// loses none. A failure to notify never fails the run.
///
/// Observing only queues a message; the deliveries run in ``delivering(clock:during:)``, which
/// `RunSession` wraps around the run up to `run.finished`.
struct WebhookRunObserver: RunObserver {
    let runbookID: String
    let notifier: WebhookNotifier

    /// `nil` when the runbook has no `notify` entries. `audit` is the run's journal without an
    /// observer (a `notify.failed` is never itself notified); its redactor cleans every message.
    /// `warn` shows a warning on standard error (`warning: ` is added).
    init?(runbook: Runbook, audit: RunJournal, warn: @escaping @Sendable (String) -> Void) {
        guard !runbook.notify.isEmpty else { return nil }
        runbookID = runbook.id
        notifier = WebhookNotifier(
            notify: runbook.notify, redactor: audit.redactor, log: warn,
            onFailure: { await Self.record($0, in: audit, warn: warn) })
    }

    func observe(_ event: RecordedEvent) {
        notifier.send(WebhookMessage(
            runID: event.runID ?? "", runbook: runbookID, actor: event.actor, event: event.kind, stage: event.stage,
            target: event.target, step: event.step, outcome: event.status, time: event.time, seq: event.seq,
            hash: event.hash))
    }

    /// Runs `body` while the webhooks are told of what the journal commits; then waits for what
    /// is outstanding at most the notifier's bound on `clock`, each failure audited.
    func delivering<T, C: Clock>(clock: C, during body: () async throws -> T) async throws -> T where C.Duration == Duration {
        try await notifier.delivering(clock: clock, during: body)
    }

    /// Records `failure` as the run's `notify.failed`; a store that fails is only warned about.
    static func record(_ failure: WebhookFailure, in audit: RunJournal, warn: @Sendable (String) -> Void) async {
        var detail: [String: JSONValue] = [
            "webhook": .string(failure.webhook), "declared_at": .string(failure.location.description),
            "event": .string(failure.event), "reason": .string(failure.reason), "attempts": .integer(Int64(failure.attempts)),
        ]
        if let seq = failure.seq { detail["event_seq"] = .integer(seq) }
        do {
            try await audit.record(.notifyFailed, status: EventStatus.failed.rawValue, detail: detail)
        } catch {
            warn("could not audit the failed notification of \(failure.event) to \(failure.webhook): \(error)")
        }
    }
}

extension RunJournal {
    /// The journal of `runID` whose committed events also go to `runbook`'s webhooks, if it has
    /// any, and those webhooks, for `RunSession` to deliver to.
    static func notifying(
        _ runbook: Runbook, store: any EventLog & BackupStore, runID: RunID, actor: String, variables: ResolvedVariables,
        warn: @escaping @Sendable (String) -> Void
    ) -> (journal: RunJournal, webhooks: WebhookRunObserver?) {
        let audit = RunJournal(store: store, runID: runID, actor: actor, redactor: variables.redactor)
        let webhooks = WebhookRunObserver(runbook: runbook, audit: audit, warn: warn)
        let journal = RunJournal(
            store: store, runID: runID, actor: actor, redactor: variables.redactor, observer: webhooks,
            secrets: variables.secretValues)
        return (journal, webhooks)
    }
}
