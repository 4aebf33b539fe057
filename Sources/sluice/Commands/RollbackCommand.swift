import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// `sluice rollback RUN [--reason TEXT]`: undoes a past or failed run from its journal, then runs
/// recovery. It needs nothing but the audit store: the commands are those recorded when the run
/// happened, so the runbook may have changed or be gone (only its webhooks are read from it).
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Undo a past run from its journal, then run recovery.",
        discussion: """
            Every target the run touched and did not already undo is rolled back, last stage first, \
            each target's steps in reverse order (a step in doubt counts as started), then its recovery; \
            holds are paused around it. Undoing is never blocked by a window or a freeze. Ctrl-C, \
            SIGTERM or SIGHUP never terminate a rollback command (an undo cut short would leave its \
            target half undone): the rollback, recovery and holds finish.
            Exit status: 0 rolled back; 3 rollback incomplete, an operator must act; 4 refused, nothing changed.
            """
    )

    @Argument(help: ArgumentHelp("The run to undo, e.g. r-20261121-083015-7f3a.", valueName: "run"))
    var run: String

    @Option(name: .long, help: ArgumentHelp("Why the run is rolled back (recorded).", valueName: "text"))
    var reason: String?

    @Flag(name: .long, help: "Print each event as a JSON line instead of progress lines.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let past = try await PastRun.load(run, storeOptions: storeOptions)
        switch past.runner {
        case .running:
            Console.fail("refused: run \(past.id) is still running (pid \(past.record.pid) on \(past.record.host)). Stop it with Ctrl-C, which rolls it back or halts it as its runbook says, then try again.")
            throw ExitCode(4)
        case .finished(.rolledBack):
            let when = past.events.last { $0.eventKind == .runFinished }.map { " (\($0.time), by \($0.actor))" } ?? ""
            Console.fail("refused: run \(past.id) is already rolled back\(when). `sluice show \(past.id)` shows what was undone.")
            throw ExitCode(4)
        case .finished(.rollbackIncomplete):
            Console.fail("refused: run \(past.id) was already rolled back, but not completely. Put right by hand what `sluice show \(past.id)` lists as failed, then check the targets' health.")
            throw ExitCode(4)
        case .finished(.refused), .finished(.checksFailed):
            Console.fail("refused: run \(past.id) changed nothing (it was \(past.record.outcome?.rawValue ?? "refused")), so there is nothing to roll back.")
            throw ExitCode(4)
        case .finished, .gone:
            break
        }
        let actor = actorOptions.resolvedActor
        let (plan, redactor, planJournal) = try await past.openJournal()
        try past.refuseUnaccounted(by: plan, checkingSteps: true)
        let webhooks = Self.webhooks(of: plan, audit: RunJournal(store: past.store, runID: past.id, actor: actor, redactor: redactor))
        let journal = RunJournal(store: past.store, runID: past.id, actor: actor, redactor: redactor, observer: webhooks.observer)
        let session = RunSession(
            store: past.store, journal: journal, webhooks: webhooks.observer, plan: plan, style: TerminalStyle(enabled: output.useColor), json: json)
        let backups = try await past.verifiedBackups(journal: planJournal)
        if let refusal = try await session.lockTargets() {
            Console.fail(refusal)
            throw ExitCode(4)
        }
        if let warning = webhooks.warning { Console.error("warning: \(warning)") }
        try await past.takeOver(journal)
        try await journal.record(.rollbackRequested, detail: ["reason": .string(reason ?? ""), "was": .string(past.state)])
        Console.line("Run \(past.id): rolling back \(plan.runbook.id.escapedForTerminal) from its journal")
        try await session.carryOut(from: .rollingBack(past.progress, backups: backups), mode: "rollback")
    }

    /// The webhooks of the runbook where the run found it, as it reads now: the rollback's events
    /// go where the run's went. The journal holds no `notify` (a webhook's URL may carry a
    /// token), so a runbook that is gone, invalid or now another runbook notifies no one: the
    /// warning says why, and the rollback goes on.
    static func webhooks(of plan: Plan, audit: RunJournal) -> (observer: WebhookRunObserver?, warning: String?) {
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
        return (WebhookRunObserver(runbook: runbook, audit: audit), nil)
    }
}

/// A run read back from the audit store for `resume` or `rollback`: its row, events, progress
/// and whether its runner is still there.
struct PastRun {
    let id: RunID
    let store: any SluiceStore
    let record: RunRecord
    let events: [RecordedEvent]
    let runner: RunnerState

    var progress: RunProgress { RunJournalStore.progress(from: events) }

    /// Refuses (exit 4) when the journal says the run changed a target, or ran a step on it,
    /// that `plan` has no name for: going on would do nothing there and still end
    /// `rolled_back` or `succeeded`.
    func refuseUnaccounted(by plan: Plan, checkingSteps: Bool) throws {
        let unaccounted = progress.unaccounted(in: plan, checkingSteps: checkingSteps)
        guard !unaccounted.isEmpty else { return }
        Console.fail("""
            refused: run \(id)'s journal says it changed what its plan cannot account for, so nothing would be undone or finished there: \(unaccounted.joined(separator: "; ")).
            Nothing was changed. Check the store with `sluice audit verify` and `sluice show \(id)`, and put those targets right by hand.
            """)
        throw ExitCode(4)
    }

    /// The run's state as `sluice runs` shows it.
    var state: String {
        switch runner {
        case .finished(let outcome): outcome.rawValue
        case .running: "running"
        case .gone: RunOutcome.interrupted.rawValue
        }
    }

    /// Reads the run, or refuses (exit 4) when there is no such run or it was a dry run.
    static func load(_ text: String, storeOptions: StoreOptions) async throws -> PastRun {
        let id = try AuditCommandSupport.runID(text)
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("refused: there is no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath), so no run \(id). Pass --store PATH or set SLUICE_STORE to the store the run used.")
            throw ExitCode(4)
        }
        guard let record = try await store.run(id) else {
            Console.fail("refused: no run \(id) in the audit store \(store.location.lexicallyNormalizedPath). List runs with `sluice runs`.")
            throw ExitCode(4)
        }
        guard record.mode == .apply else {
            Console.fail("refused: run \(id) was a dry run (`sluice \(record.mode.rawValue)`), which changes nothing.")
            throw ExitCode(4)
        }
        let events = try await store.events(of: id)
        return PastRun(id: id, store: store, record: record, events: events, runner: try await RunnerState(of: record, locks: try await store.locks(), store: store))
    }

    /// The plan the run carried out, from its journal; refuses (exit 4) when it cannot be read.
    func openJournal() async throws -> (plan: Plan, redactor: Redactor, journal: PlanJournal) {
        do {
            return try await RunJournalStore.open(id, in: store, events: events)
        } catch let problem as JournalProblem {
            Console.fail("refused: \(problem)")
            throw ExitCode(4)
        }
    }

    /// The run's file backups, each checked against the audit chain; refuses (exit 4) when one
    /// was changed in the store, before anything is locked or restored.
    func verifiedBackups(journal: PlanJournal) async throws -> RolloutEngine<ContinuousClock>.Backups {
        do {
            return try await RunJournalStore.backups(of: id, in: store, journal: journal)
        } catch let problem as JournalProblem {
            Console.fail("refused: \(problem)")
            throw ExitCode(4)
        } catch let error as AuditStoreError {
            guard case .backupTampered = error else { throw error }
            Console.fail("refused: \(error)")
            throw ExitCode(4)
        }
    }

    /// Makes this process the run's runner, recording first that the previous one died.
    func takeOver(_ journal: RunJournal) async throws {
        if runner == .gone {
            try await journal.record(.runInterrupted, detail: [
                "host": .string(record.host), "pid": .integer(Int64(record.pid)),
            ])
        }
        try await store.reopenRun(id, host: ProcessProbe.hostName, pid: ProcessProbe.currentPID)
    }
}
