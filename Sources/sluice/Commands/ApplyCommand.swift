import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// `sluice apply RUNBOOK`: runs the change stage by stage, gates every target on its health, and
/// undoes what it did when anything goes wrong.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run a runbook: stages in order, health gates, automatic rollback and recovery.",
        discussion: """
            Ctrl-C, SIGTERM or SIGHUP once: no new step starts (a wait ends at once), running steps \
            finish, then the run rolls back or halts as its runbook says. Twice: the running commands \
            are terminated too (SIGTERM, SIGKILL after 10 s) and their targets rolled back; during a \
            rollback nothing is terminated (an undo cut short would leave its target half undone). \
            Holds are always resumed.
            Exit status: 0 succeeded; 1 failed (rolled back, halted, or completed with failures); \
            3 rollback incomplete, an operator must act; 4 refused, nothing changed; 2 invalid runbook.
            """
    )

    @Argument(help: ArgumentHelp("The runbook to apply.", valueName: "runbook"))
    var runbook: String

    @Option(name: .long, help: ArgumentHelp("Refuse unless the runbook and its files are exactly as when this plan was saved.", valueName: "plan"))
    var plan: String?

    @OptionGroup var start: StartOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var calendarOptions: CalendarOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let style = TerminalStyle(enabled: output.useColor)
        let runbookValue = try RunbookInputs.load(runbook, calendar: calendarOptions, style: style)
        let variables = try RunbookInputs.variables(of: runbookValue)
        let runID = RunID.generate()
        let content = ContentDigest(runbook: runbookValue)
        let planned: Plan
        do {
            planned = try Planner().plan(
                runbook: runbookValue, variables: variables, runID: runID.rawValue, now: Date(), content: content,
                validateFile: Self.validateFile(runID: runID))
        } catch {
            Console.error("\(error)")
            throw ExitCode(2)
        }

        let store = try storeOptions.openStore(failingWith: 4)
        let actor = actorOptions.resolvedActor
        try await refuseIfNotAllowed(planned, runbook: runbookValue, store: store, actor: actor)
        try Self.confirm(planned, yes: start.yes, verb: "Apply")

        try await store.createRun(RunbookInputs.runRecord(
            runID, of: runbookValue, mode: .apply, actor: actor, contentHash: content.hash, startedAt: planned.createdAt))
        let (journal, webhooks) = RunJournal.notifying(runbookValue, store: store, runID: runID, actor: actor, variables: variables)
        let session = RunSession(store: store, journal: journal, webhooks: webhooks, plan: planned, style: style, json: start.json)
        if let refusal = try await session.lockTargets() {
            Console.fail(refusal)
            let finished = try await session.notifying {
                try await journal.record(.runFinished, status: RunOutcome.refused.rawValue, detail: ["reason": "targets locked by another run"])
            }
            _ = try await store.finishRun(runID, outcome: .refused)
            Console.line(ProgressLines.auditLine(runID: runID, head: AuditAnchor(finished)))
            throw ExitCode(4)
        }
        if start.overrideWindow {
            try await Self.recordOverride(of: planned, runbook: runbookValue, reason: start.reason, in: journal)
        }
        let journalHash = try await RunJournalStore.save(planned, runbook: runbookValue, variables: variables, in: store, runID: runID)
        try await journal.record(.runStarted, detail: [
            "runbook": .string(runbookValue.file), "content_hash": .string(content.hash),
            "targets": .integer(Int64(planned.targets.count)), "journal_sha256": .string(journalHash),
        ])
        Console.line("Run \(runID): applying \(runbookValue.id.escapedForTerminal) to \(planned.targets.count) target\(planned.targets.count == 1 ? "" : "s") in \(planned.stages.count) stage\(planned.stages.count == 1 ? "" : "s")")
        try await session.carryOut()
    }

    /// Refuses (exit 4) when the window is closed or a freeze is on, when a required approval is
    /// missing, or when `--plan` is stale.
    private func refuseIfNotAllowed(_ plan: Plan, runbook: Runbook, store: any SluiceStore, actor: String) async throws {
        try await Self.refuseOutsideWindowOrUnapproved(plan, runbook: runbook, store: store, actor: actor, overrideWindow: start.overrideWindow)
        if let planPath = self.plan {
            let saved: Plan
            do {
                saved = try JSONDecoder.sluice.decode(Plan.self, from: Data(contentsOf: URL(fileURLWithPath: planPath)))
            } catch {
                Console.fail("refused: cannot read the plan \(planPath): \(error.localizedDescription). Make it with `sluice plan \(runbook.file) --out \(planPath)`.")
                throw ExitCode(4)
            }
            let changes = plan.content.changes(since: saved.content)
            if !changes.isEmpty || saved.runbook.id != runbook.id {
                let list = changes.isEmpty ? "it is for runbook \(saved.runbook.id)" : changes.joined(separator: "; ")
                Console.fail("refused: the plan \(planPath) is stale: \(list). Plan again and review it.")
                throw ExitCode(4)
            }
            let targetsNow = plan.targets.map(\.name), targetsThen = saved.targets.map(\.name)
            if targetsNow != targetsThen {
                Console.fail("refused: the plan \(planPath) is stale: its targets were \(targetsThen.joined(separator: ", ")), now \(targetsNow.joined(separator: ", ")). Plan again.")
                throw ExitCode(4)
            }
        }
    }

    /// Asks on a terminal; without one, `--yes` is required.
    static func confirm(_ plan: Plan, yes: Bool, verb: String) throws {
        guard !yes else { return }
        guard isatty(STDIN_FILENO) == 1 else {
            Console.fail("refused: standard input is not a terminal, so there is no one to confirm. Review `sluice plan` and pass --yes.")
            throw ExitCode(4)
        }
        let summary = plan.summary
        Console.write("\(verb) \(plan.runbook.id): \(summary.targets) targets, \(summary.steps) steps in \(plan.stages.count) stages (\(plan.stages.map(\.name).joined(separator: ", ")))? [y/N] ".escapedForTerminal)
        guard let answer = readLine()?.lowercased(), answer == "y" || answer == "yes" else {
            Console.error("Not applied: nothing changed.")
            throw ExitCode(4)
        }
    }
}

extension ApplyCommand {
    /// What `apply` and `resume` both refuse (exit 4): a closed window or a freeze, unless
    /// overridden, and content without the approval the runbook requires.
    static func refuseOutsideWindowOrUnapproved(
        _ plan: Plan, runbook: Runbook, store: any SluiceStore, actor: String, overrideWindow: Bool
    ) async throws {
        if !plan.window.allowsStart, !overrideWindow {
            let why = WindowText.describe(plan.window, runbook: runbook, at: plan.createdAt)
            Console.fail("refused: \(why). Start later (`sluice windows \(runbook.file)` lists the next windows), or pass --override-window --reason TEXT (audited).")
            throw ExitCode(4)
        }
        let approval = try await RunbookInputs.approvalVerdict(of: runbook, content: plan.content, actor: actor, store: store)
        if let refusal = approval.refusal(runbookID: runbook.id, runbookFile: runbook.file) {
            Console.fail("refused: \(refusal)")
            throw ExitCode(4)
        }
    }

    /// Records `window.overridden` when the window did not allow the start.
    static func recordOverride(of plan: Plan, runbook: Runbook, reason: String?, in journal: RunJournal) async throws {
        guard !plan.window.allowsStart else { return }
        try await journal.record(.windowOverridden, detail: [
            "reason": .string(reason ?? ""), "window": .string(WindowText.describe(plan.window, runbook: runbook, at: plan.createdAt)),
        ])
    }

    /// Where a file step's new content is written for `validate`: beside the file, so that the
    /// validated content is renamed into place.
    static func validateFile(runID: RunID) -> @Sendable (String, Int, String) -> String {
        { _, index, path in
            let folder = (path as NSString).deletingLastPathComponent
            return folder + "/." + (path as NSString).lastPathComponent + ".sluice-\(runID)-\(index)"
        }
    }
}
