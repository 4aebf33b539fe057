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
            Exit status: 0 succeeded; 1 failed (rolled back, halted, or completed with failures); \
            3 rollback incomplete, an operator must act; 4 refused, nothing changed; 2 invalid runbook.
            """
    )

    @Argument(help: ArgumentHelp("The runbook to apply.", valueName: "runbook"))
    var runbook: String

    @Option(name: .long, help: ArgumentHelp("Refuse unless the runbook and its files are exactly as when this plan was saved.", valueName: "plan"))
    var plan: String?

    @Flag(name: .long, help: "Do not ask for confirmation (required when standard input is not a terminal).")
    var yes = false

    @Flag(name: .long, help: "Start even outside the window or during a freeze (needs --reason; audited).")
    var overrideWindow = false

    @Option(name: .long, help: ArgumentHelp("Why the window is overridden.", valueName: "text"))
    var reason: String?

    @Flag(name: .long, help: "Print each event as a JSON line instead of progress lines.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var calendarOptions: CalendarOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if overrideWindow, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--override-window needs --reason TEXT saying why; it is recorded in the audit store.")
        }
    }

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
                validateFile: { _, index, path in
                    // Beside the file, so that the validated content is renamed into place.
                    let folder = (path as NSString).deletingLastPathComponent
                    return folder + "/." + (path as NSString).lastPathComponent + ".sluice-\(runID)-\(index)"
                })
        } catch {
            Console.error("\(error)")
            throw ExitCode(2)
        }

        let store: AuditStore
        do {
            store = try AuditStore(path: storeOptions.resolvedStorePath)
        } catch {
            Console.fail("\(error)")
            throw ExitCode(4)
        }
        let actor = actorOptions.resolvedActor
        try await refuseIfNotAllowed(planned, runbook: runbookValue, store: store, actor: actor)
        try confirm(planned)

        try await store.createRun(RunbookInputs.runRecord(
            runID, of: runbookValue, mode: .apply, actor: actor, contentHash: content.hash, startedAt: planned.createdAt))
        let journal = RunJournal(
            store: store, runID: runID, actor: actor, redactor: variables.redactor,
            observer: WebhookRunObserver(runbook: runbookValue, redactor: variables.redactor))
        let targets = planned.targets.map(\.name)
        switch try await store.acquireLocks(on: targets, for: .current(runID: runID), ttl: .seconds(60), actor: actor, redactor: variables.redactor) {
        case .acquired:
            break
        case .blocked(let conflicts):
            let holders = Set(conflicts.map { "\($0.lock.runID) (\($0.state.rawValue), on \($0.lock.host), pid \($0.lock.pid))" }).sorted()
            Console.fail("""
                refused: \(conflicts.count) target\(conflicts.count == 1 ? " is" : "s are") held by \(holders.joined(separator: ", ")): \
                \(conflicts.map(\.lock.target).sorted().joined(separator: ", ")).
                A live run must finish first. For a run whose runner is gone: `sluice resume RUN`, `sluice rollback RUN`, \
                or `sluice unlock TARGET --reason TEXT`.
                """)
            try await journal.record(.runFinished, status: RunOutcome.refused.rawValue, detail: ["reason": "targets locked by another run"])
            _ = try await store.finishRun(runID, outcome: .refused)
            throw ExitCode(4)
        }
        if overrideWindow, !planned.window.allowsStart {
            try await journal.record(.windowOverridden, detail: [
                "reason": .string(reason ?? ""), "window": .string(WindowText.describe(planned.window, runbook: runbookValue, at: planned.createdAt)),
            ])
        }
        try await journal.record(.runStarted, detail: ["runbook": .string(runbookValue.file), "content_hash": .string(content.hash), "targets": .integer(Int64(targets.count))])
        print("Run \(runID): applying \(runbookValue.id) to \(targets.count) target\(targets.count == 1 ? "" : "s") in \(planned.stages.count) stage\(planned.stages.count == 1 ? "" : "s")")

        let progress = ProgressLines(style: style)
        let asJSON = json
        // On a terminal a live status line sits under the event lines; elsewhere, plain lines.
        let live = !json && isatty(STDOUT_FILENO) == 1 ? LiveStatus(
            steps: Dictionary(planned.targets.map { ($0.name, $0.steps.filter(\.applies).count) }, uniquingKeysWith: { first, _ in first }),
            style: style) : nil
        let recorder = AuditRunRecorder(journal: journal) { event in
            if asJSON {
                print(ProgressLines.json(for: event, runID: runID.rawValue))
            } else if let live {
                FileHandle.standardOutput.write(Data(live.render(event, line: progress.line(for: event)).utf8))
            } else if let line = progress.line(for: event) {
                print(line)
            }
        }
        let runner = SubprocessCommandRunner()
        let engine = RolloutEngine(
            executor: StepExecutor(commands: runner, prober: NetworkHealthProber(commands: runner), clock: ContinuousClock()),
            commands: runner, recorder: recorder, clock: ContinuousClock(), redactor: variables.redactor)

        // The engine runs beside a heartbeat that keeps the run's locks fresh (and, on a terminal,
        // a ticker for the status line); all are children of this task, and the others stop when
        // the engine is done.
        let result = await withTaskGroup(of: RolloutMachine.RunResult?.self) { group in
            group.addTask { await engine.run(planned) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(10))
                    _ = try? await store.heartbeat(runID)
                }
                return nil
            }
            if let live {
                // The live status line's clock advances every second, between events too.
                group.addTask {
                    while (try? await Task.sleep(for: .seconds(1))) != nil {
                        FileHandle.standardOutput.write(Data(live.redraw().utf8))
                    }
                    return nil
                }
            }
            var result = RolloutMachine.RunResult(outcome: .refused)
            for await finished in group {
                if let finished {
                    result = finished
                    group.cancelAll()
                }
            }
            return result
        }
        if let live { FileHandle.standardOutput.write(Data(live.clear().utf8)) }
        try await finish(result, plan: planned, store: store, journal: journal, runID: runID)
    }

    /// Refuses (exit 4) when the window is closed or a freeze is on, when a required approval is
    /// missing, or when `--plan` is stale.
    private func refuseIfNotAllowed(_ plan: Plan, runbook: Runbook, store: AuditStore, actor: String) async throws {
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
    private func confirm(_ plan: Plan) throws {
        guard !yes else { return }
        guard isatty(STDIN_FILENO) == 1 else {
            Console.fail("refused: standard input is not a terminal, so there is no one to confirm. Review `sluice plan` and pass --yes.")
            throw ExitCode(4)
        }
        let summary = plan.summary
        print("Apply \(plan.runbook.id): \(summary.targets) targets, \(summary.steps) steps in \(plan.stages.count) stages (\(plan.stages.map(\.name).joined(separator: ", ")))? [y/N] ", terminator: "")
        guard let answer = readLine()?.lowercased(), answer == "y" || answer == "yes" else {
            Console.error("Not applied: nothing changed.")
            throw ExitCode(4)
        }
    }

    private func finish(_ result: RolloutMachine.RunResult, plan: Plan, store: AuditStore, journal: RunJournal, runID: RunID) async throws {
        let outcome: RunOutcome = switch result.outcome {
        case .succeeded: .succeeded
        case .completedWithFailures: .completedWithFailures
        case .rolledBack: .rolledBack
        case .rollbackIncomplete: .rollbackIncomplete
        case .halted: .halted
        case .refused: .refused
        }
        let names = plan.targets.map(\.name)
        let failed = result.failedTargets.map { names[$0] }
        let incomplete = result.incompleteRollbacks.map { names[$0] }
        if outcome != .halted {
            _ = try? await store.releaseLocks(of: runID, actor: journal.actor, redactor: journal.redactor)
        }
        try await journal.record(
            .runFinished, status: outcome.rawValue,
            detail: ["failed_targets": .array(failed.map(JSONValue.string)), "incomplete_rollbacks": .array(incomplete.map(JSONValue.string))])
        _ = try await store.finishRun(runID, outcome: outcome)

        print("Run \(runID) \(outcome.rawValue)" + (failed.isEmpty ? "" : "; failed: \(failed.joined(separator: ", "))"))
        switch outcome {
        case .succeeded:
            break
        case .refused:
            print("Preflight failed on at least one target: nothing was changed. `sluice show \(runID)` shows which.")
        case .rollbackIncomplete:
            print("An operator must act: the rollback or recovery of \(incomplete.joined(separator: ", ")) did not complete.")
            for line in (try? await Self.unfinishedUndo(in: store, runID: runID)) ?? [] { print("  " + line) }
            print("Put each of these right by hand, then check the targets' health. `sluice show \(runID)` has the output.")
        case .halted:
            print("Halted: the run keeps its state and its targets. `sluice rollback \(runID)` to undo, or `sluice resume \(runID)` to go on.")
        default:
            print("`sluice show \(runID)` shows every step.")
        }
        print("Audit: `sluice show \(runID)`, `sluice audit verify`.")
        switch outcome {
        case .succeeded: return
        case .rollbackIncomplete: throw ExitCode(3)
        case .refused: throw ExitCode(4)
        default: throw ExitCode(1)
        }
    }
}

extension ApplyCommand {
    /// Each rollback or recovery step that failed, as `target / step: what happened`.
    static func unfinishedUndo(in store: AuditStore, runID: RunID) async throws -> [String] {
        try await store.events(of: runID).filter {
            ($0.kind == "rollback.step.finished" || $0.kind == "recovery.step.finished") && $0.status == "failed"
        }.map { event in
            let what = event.kind == "recovery.step.finished" ? "recovery" : "rollback"
            let result = event.detailMembers["result"] ?? "failed"
            return "\(event.target ?? "?") / \(event.step ?? "?"): \(what) \(result)"
        }
    }
}

