import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// `sluice resume RUN`: continues a run whose runner died (or that halted) from its journal,
/// with the same stages and thresholds: finished steps are skipped, a step in doubt runs again.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue an interrupted or halted run from its journal.",
        discussion: """
            Finished steps are skipped; a step that started but never reported finishing runs again, so \
            steps must be safe to repeat. Holds are paused again; preflight does not run again. The runbook \
            must be the one the run started with, unless --accept-changes --reason TEXT; the window and the \
            approval are checked as for apply.
            Exit status: as apply: 0 succeeded; 1 failed; 3 rollback incomplete; 4 refused; 2 invalid runbook.
            """
    )

    @Argument(help: ArgumentHelp("The run to resume, e.g. r-20261121-083015-7f3a.", valueName: "run"))
    var run: String

    @Flag(name: .long, help: "Resume even though the runbook or its files changed since the run started (needs --reason; audited).")
    var acceptChanges = false

    @OptionGroup var start: StartOptions
    @OptionGroup var calendarOptions: CalendarOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if acceptChanges, !start.hasReason {
            throw ValidationError("--accept-changes needs --reason TEXT saying why; it is recorded in the audit store.")
        }
    }

    func run() async throws {
        let style = TerminalStyle(enabled: output.useColor)
        let past = try await PastRun.load(run, storeOptions: storeOptions)
        switch past.runner {
        case .running:
            Console.fail("refused: run \(past.id) is still running (pid \(past.record.pid) on \(past.record.host)); there is nothing to resume.")
            throw ExitCode(4)
        case .finished(.halted), .gone:
            break
        case .finished(let outcome):
            Console.fail("refused: run \(past.id) finished (\(outcome.rawValue)); only an interrupted or halted run can be resumed. `sluice rollback \(past.id)` undoes it.")
            throw ExitCode(4)
        }
        let progress = past.progress
        if progress.rollbackStarted {
            Console.fail("refused: run \(past.id) was rolling back when it stopped; going on would redo what it was undoing. `sluice rollback \(past.id)` finishes the rollback.")
            throw ExitCode(4)
        }
        let (recorded, _, planJournal) = try await past.openJournal()
        let backups = try await past.verifiedBackups(journal: planJournal)

        // The runbook the run started with, where it was.
        let path = recorded.runbook.path
        guard FileManager.default.fileExists(atPath: path) else {
            Console.fail("refused: the runbook \(path) is gone, and resuming runs its remaining steps from it. Restore it, or undo the run with `sluice rollback \(past.id)`, which needs only the journal.")
            throw ExitCode(4)
        }
        let runbook = try RunbookInputs.load(path, calendar: calendarOptions, style: style)
        let variables = try RunbookInputs.variables(of: runbook)
        let content = ContentDigest(runbook: runbook)
        let changes = content.changes(since: recorded.content)
        if !changes.isEmpty, !acceptChanges {
            Console.fail("""
                refused: the runbook changed since run \(past.id) started: \(changes.joined(separator: "; ")).
                Resume with --accept-changes --reason TEXT to go on with the new content, or `sluice rollback \(past.id)`.
                """)
            throw ExitCode(4)
        }
        let plan: Plan
        do {
            plan = try Planner().plan(
                runbook: runbook, variables: variables, runID: past.id.rawValue, now: Date(), content: content,
                validateFile: ApplyCommand.validateFile(runID: past.id))
        } catch {
            Console.error("\(error)")
            throw ExitCode(2)
        }
        // A changed runbook may drop a step (its undo is then skipped, as the guide says), never
        // a target the run touched.
        try past.refuseUnaccounted(by: plan, checkingSteps: changes.isEmpty)
        let actor = actorOptions.resolvedActor
        // Resuming applies the rest of the change: the same gates as apply.
        try await ApplyCommand.refuseOutsideWindowOrUnapproved(plan, runbook: runbook, store: past.store, actor: actor, overrideWindow: start.overrideWindow)
        try ApplyCommand.confirm(plan, yes: start.yes, verb: "Resume run \(past.id) of")

        let (journal, webhooks) = RunJournal.notifying(runbook, store: past.store, runID: past.id, actor: actor, variables: variables)
        let session = RunSession(store: past.store, journal: journal, webhooks: webhooks, plan: plan, style: style, json: start.json)
        if let refusal = try await session.lockTargets() {
            Console.fail(refusal)
            throw ExitCode(4)
        }
        try await past.takeOver(journal)
        if start.overrideWindow {
            try await ApplyCommand.recordOverride(of: plan, runbook: runbook, reason: start.reason, in: journal)
        }
        let journalHash = try await RunJournalStore.save(plan, runbook: runbook, variables: variables, in: past.store, runID: past.id)
        try await journal.record(.runResumed, detail: [
            "was": .string(past.state), "content_hash": .string(content.hash), "journal_sha256": .string(journalHash),
            "accepted_changes": .array(changes.map(JSONValue.string)), "reason": .string(acceptChanges ? start.reason ?? "" : ""),
        ])
        let inDoubt = progress.targets.sorted { $0.key < $1.key }.flatMap { target, recorded in
            recorded.failed || recorded.rollbackBegan ? [] : recorded.inDoubt.map { "\(target) / \($0)" }
        }
        let owed = plan.targets.filter(progress.owesRollback).map(\.name)
        Console.line(("Run \(past.id): resuming \(runbook.id)"
            + (owed.isEmpty ? "" : "; first finishing the rollback of \(owed.joined(separator: ", ")), which failed")
            + (inDoubt.isEmpty ? "" : "; running again the step\(inDoubt.count == 1 ? "" : "s") in doubt: \(inDoubt.joined(separator: ", "))"))
            .escapedForTerminal)
        try await session.carryOut(from: .resuming(progress, backups: backups))
    }
}
