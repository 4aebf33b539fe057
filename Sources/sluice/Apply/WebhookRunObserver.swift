import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import Synchronization

/// Sends a run's events to the runbook's webhooks as the journal commits them (so that
/// `run.started` and `run.finished` go out as well as the engine's events), and audits each
/// failure to notify as `notify.failed` as soon as it is known, so that a runner killed later
/// loses none. When the run has finished it waits, bounded, for what is outstanding. A failure to
/// notify never fails the run.
struct WebhookRunObserver: RunObserver {
    let runbookID: String
    let notifier: WebhookNotifier
    let failures: FailureAudit

    /// `nil` when the runbook has no `notify` entries. `audit` is the run's journal without an
    /// observer (a `notify.failed` is never itself notified); its redactor cleans every message.
    init?(runbook: Runbook, audit: RunJournal) {
        guard !runbook.notify.isEmpty else { return nil }
        runbookID = runbook.id
        let failures = FailureAudit(journal: audit)
        self.failures = failures
        notifier = WebhookNotifier(
            notify: runbook.notify, redactor: audit.redactor, log: { Console.error("warning: \($0)") },
            onFailure: { failures.record($0) })
    }

    func observe(_ event: RecordedEvent) {
        notifier.send(WebhookMessage(
            runID: event.runID ?? "", runbook: runbookID, actor: event.actor, event: event.kind, stage: event.stage,
            target: event.target, step: event.step, outcome: event.status, time: event.time, seq: event.seq,
            hash: event.hash))
    }

    func runFinished() async {
        _ = await notifier.drain()  // each failure, abandoned ones included, went to `failures`
        await failures.settle()
    }
}

extension RunJournal {
    /// The journal of `runID` whose committed events also go to `runbook`'s webhooks, if it has any.
    static func notifying(_ runbook: Runbook, store: AuditStore, runID: RunID, actor: String, variables: ResolvedVariables) -> RunJournal {
        let audit = RunJournal(store: store, runID: runID, actor: actor, redactor: variables.redactor)
        return RunJournal(
            store: store, runID: runID, actor: actor, redactor: variables.redactor,
            observer: WebhookRunObserver(runbook: runbook, audit: audit), secrets: variables.secretValues)
    }
}

/// Records failures to notify in the audit store as they happen, each in a task of its own (the
/// notifier reports them on its event loop, which must not wait for the store).
final class FailureAudit: Sendable {
    let journal: RunJournal
    private let recording = Mutex<[Task<Void, Never>]>([])

    init(journal: RunJournal) {
        self.journal = journal
    }

    func record(_ failure: WebhookFailure) {
        let journal = journal
        let task = Task {
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
        recording.withLock { $0.append(task) }
    }

    /// Waits until every failure reported so far is in the store.
    func settle() async {
        let tasks = recording.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks { await task.value }
    }
}
