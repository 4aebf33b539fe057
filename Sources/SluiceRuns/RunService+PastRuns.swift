import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

extension RunService {
    /// Goes on with an interrupted or halted run from where it stopped: the rollbacks it owes
    /// first, then its remaining steps, with the runbook where the run found it.
    ///
    /// - Parameters:
    ///   - acceptChanges: go on although the runbook or its files changed since (audited with
    ///     `reason`).
    ///   - loadRunbook: loads and validates the runbook at a path (the command line prints its
    ///     diagnostics and exits 2 when it is invalid).
    ///   - confirm: asked once the gates passed, before anything is recorded; throws to stop.
    public func resume(
        _ past: PastRun, acceptChanges: Bool = false, overrideWindow: Bool = false, reason: String? = nil,
        loadRunbook: (String) throws -> Runbook, confirm: (Plan) throws -> Void
    ) async throws -> RunReport {
        switch past.runner {
        case .running:
            throw RunRefusal.refused("refused: run \(past.id) is still running (pid \(past.record.pid) on \(past.record.host)); there is nothing to resume.")
        case .finished(.halted), .gone:
            break
        case .finished(let outcome):
            throw RunRefusal.refused("refused: run \(past.id) finished (\(outcome.rawValue)); only an interrupted or halted run can be resumed. `sluice rollback \(past.id)` undoes it.")
        }
        let progress = past.progress
        if progress.rollbackStarted {
            throw RunRefusal.refused("refused: run \(past.id) was rolling back when it stopped; going on would redo what it was undoing. `sluice rollback \(past.id)` finishes the rollback.")
        }
        let (recorded, _, planJournal) = try await past.openJournal()
        let backups = try await past.verifiedBackups(journal: planJournal)

        // The runbook the run started with, where it was.
        let path = recorded.runbook.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw RunRefusal.refused("refused: the runbook \(path) is gone, and resuming runs its remaining steps from it. Restore it, or undo the run with `sluice rollback \(past.id)`, which needs only the journal.")
        }
        let runbook = try loadRunbook(path)
        let variables = try RunGates.variables(of: runbook)
        let content = ContentDigest(runbook: runbook)
        let changes = content.changes(since: recorded.content)
        if !changes.isEmpty, !acceptChanges {
            throw RunRefusal.refused("""
                refused: the runbook changed since run \(past.id) started: \(changes.joined(separator: "; ")).
                Resume with --accept-changes --reason TEXT to go on with the new content, or `sluice rollback \(past.id)`.
                """)
        }
        let plan: Plan
        do {
            plan = try Planner().plan(
                runbook: runbook, variables: variables, runID: past.id.rawValue, now: Date(), content: content,
                validateFile: RunGates.validateFile(runID: past.id))
        } catch {
            throw RunRefusal.invalid("\(error)")
        }
        // A changed runbook may drop a step (its undo is then skipped, as the guide says), never
        // a target the run touched.
        try past.refuseUnaccounted(by: plan, checkingSteps: changes.isEmpty)
        // Resuming applies the rest of the change: the same gates as apply.
        try await RunGates.refuseOutsideWindowOrUnapproved(plan, runbook: runbook, store: past.store, actor: actor, overrideWindow: overrideWindow)
        try confirm(plan)

        let (journal, webhooks) = RunJournal.notifying(runbook, store: past.store, runID: past.id, actor: actor, variables: variables, warn: display.warn)
        let session = RunSession(store: past.store, journal: journal, webhooks: webhooks, plan: plan, display: display)
        if let refusal = try await session.lockTargets() { throw RunRefusal.refused(refusal) }
        try await past.takeOver(journal)
        if overrideWindow {
            try await RunGates.recordOverride(of: plan, runbook: runbook, reason: reason, in: journal)
        }
        let journalHash = try await RunJournalStore.save(plan, runbook: runbook, variables: variables, in: past.store, runID: past.id)
        try await journal.record(.runResumed, detail: [
            "was": .string(past.state), "content_hash": .string(content.hash), "journal_sha256": .string(journalHash),
            "accepted_changes": .array(changes.map(JSONValue.string)), "reason": .string(acceptChanges ? reason ?? "" : ""),
        ])
        let inDoubt = progress.targets.sorted { $0.key < $1.key }.flatMap { target, recorded in
            recorded.failed || recorded.rollbackBegan ? [] : recorded.inDoubt.map { "\(target) / \($0)" }
        }
        let owed = plan.targets.filter(progress.owesRollback).map(\.name)
        display.say(("Run \(past.id): resuming \(runbook.id)"
            + (owed.isEmpty ? "" : "; first finishing the rollback of \(owed.joined(separator: ", ")), which failed")
            + (inDoubt.isEmpty ? "" : "; running again the step\(inDoubt.count == 1 ? "" : "s") in doubt: \(inDoubt.joined(separator: ", "))"))
            .escapedForTerminal)
        return try await session.carryOut(from: .resuming(progress, backups: backups))
    }

    /// Undoes a past run from its journal: every target it touched and did not undo yet, last
    /// stage first, with each file's backup checked against the audit chain first.
    public func rollback(_ past: PastRun, reason: String?) async throws -> RunReport {
        switch past.runner {
        case .running:
            throw RunRefusal.refused("refused: run \(past.id) is still running (pid \(past.record.pid) on \(past.record.host)). Stop it with Ctrl-C, which rolls it back or halts it as its runbook says, then try again.")
        case .finished(.rolledBack):
            let when = past.events.last { $0.eventKind == .runFinished }.map { " (\($0.time), by \($0.actor))" } ?? ""
            throw RunRefusal.refused("refused: run \(past.id) is already rolled back\(when). `sluice show \(past.id)` shows what was undone.")
        case .finished(.rollbackIncomplete):
            throw RunRefusal.refused("refused: run \(past.id) was already rolled back, but not completely. Put right by hand what `sluice show \(past.id)` lists as failed, then check the targets' health.")
        case .finished(.refused), .finished(.checksFailed):
            throw RunRefusal.refused("refused: run \(past.id) changed nothing (it was \(past.record.outcome?.rawValue ?? "refused")), so there is nothing to roll back.")
        case .finished, .gone:
            break
        }
        let (plan, redactor, planJournal) = try await past.openJournal()
        try past.refuseUnaccounted(by: plan, checkingSteps: true)
        let webhooks = Self.webhooks(of: plan, audit: RunJournal(store: past.store, runID: past.id, actor: actor, redactor: redactor), warn: display.warn)
        let journal = RunJournal(store: past.store, runID: past.id, actor: actor, redactor: redactor, observer: webhooks.observer)
        let session = RunSession(store: past.store, journal: journal, webhooks: webhooks.observer, plan: plan, display: display)
        let backups = try await past.verifiedBackups(journal: planJournal)
        if let refusal = try await session.lockTargets() { throw RunRefusal.refused(refusal) }
        if let warning = webhooks.warning { display.warn(warning) }
        try await past.takeOver(journal)
        try await journal.record(.rollbackRequested, detail: ["reason": .string(reason ?? ""), "was": .string(past.state)])
        display.say("Run \(past.id): rolling back \(plan.runbook.id.escapedForTerminal) from its journal")
        return try await session.carryOut(from: .rollingBack(past.progress, backups: backups), mode: "rollback")
    }

    /// The webhooks of the runbook where the run found it, as it reads now: the rollback's events
    /// go where the run's went. The journal holds no `notify` (a webhook's URL may carry a
    /// token), so a runbook that is gone, invalid or now another runbook notifies no one: the
    /// warning says why, and the rollback goes on.
    static func webhooks(
        of plan: Plan, audit: RunJournal, warn: @escaping @Sendable (String) -> Void
    ) -> (observer: WebhookRunObserver?, warning: String?) {
        let path = plan.runbook.path
        let notifyingNoOne = "so its webhooks, if it had any, are not told of this rollback"
        guard FileManager.default.fileExists(atPath: path) else {
            return (nil, "\(path) is gone, \(notifyingNoOne)")
        }
        let loaded = RunbookLoader().load(path: path)
        guard let runbook = loaded.validRunbook else {
            return (nil, "\(path) is no longer valid (`sluice validate \(path)` says why), \(notifyingNoOne)")
        }
        guard runbook.id == plan.runbook.id else {
            return (nil, "\(path) is now runbook `\(runbook.id)`, not `\(plan.runbook.id)`, \(notifyingNoOne)")
        }
        return (WebhookRunObserver(runbook: runbook, audit: audit, warn: warn), nil)
    }
}
