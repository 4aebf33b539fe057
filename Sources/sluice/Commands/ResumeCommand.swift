import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceRuns
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
        let (store, id) = try PastRunInputs.open(run, storeOptions: storeOptions)
        let service = RunService(store: store, actor: actorOptions.resolvedActor, display: ConsoleRunDisplay(style: style, json: start.json))
        try await RunSummary.carryOut(json: start.json) {
            let past = try await service.pastRun(id)
            return try await service.resume(
                past, acceptChanges: acceptChanges, overrideWindow: start.overrideWindow, reason: start.reason,
                loadRunbook: { try RunbookInputs.load($0, calendar: calendarOptions, style: style) },
                confirm: { plan in try ApplyCommand.confirm(plan, yes: start.yes, verb: "Resume run \(id) of") })
        }
    }
}
