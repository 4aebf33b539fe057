import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import SluiceRuns

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
        let store = try storeOptions.openStore(failingWith: 4)
        let service = RunService(store: store, actor: actorOptions.resolvedActor, display: ConsoleRunDisplay(style: style, json: start.json))
        try await RunSummary.carryOut(json: start.json) {
            try await service.apply(runbookValue, savedPlan: plan, overrideWindow: start.overrideWindow, reason: start.reason) { planned in
                try Self.confirm(planned, yes: start.yes, verb: "Apply")
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
