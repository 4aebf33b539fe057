import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceRuns
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
        let (store, id) = try PastRunInputs.open(run, storeOptions: storeOptions)
        let service = RunService(store: store, actor: actorOptions.resolvedActor, display: ConsoleRunDisplay(style: TerminalStyle(enabled: output.useColor), json: json))
        try await RunSummary.carryOut(json: json) {
            try await service.rollback(try await service.pastRun(id), reason: reason)
        }
    }
}

/// What `resume` and `rollback` read first: the run's id and the store it is in.
enum PastRunInputs {
    /// The store and run id `text` names; refuses (exit 4) when there is no store there.
    static func open(_ text: String, storeOptions: StoreOptions) throws -> (any SluiceStore, RunID) {
        let id = try AuditCommandSupport.runID(text)
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("refused: there is no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath), so no run \(id). Pass --store PATH or set SLUICE_STORE to the store the run used.")
            throw ExitCode(4)
        }
        return (store, id)
    }
}
