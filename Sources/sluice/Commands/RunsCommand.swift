import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore

/// `sluice runs [--limit N] [--json]`: the runs in the audit store, newest first.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List runs, newest first.",
        discussion: "Exit status: 0 (also when the store holds no runs yet)."
    )

    @Option(name: .long, help: ArgumentHelp("Show at most this many runs; 0 shows all.", valueName: "n"))
    var limit = 20

    @Flag(name: .long, help: "Print the runs as a JSON array.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or more, not \(limit).") }
    }

    func run() async throws {
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.note("no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath) yet, so no runs. "
                                     + "Pass --store PATH or set SLUICE_STORE if it lives elsewhere.")
            if json { Console.write("[]\n") }
            return
        }
        let runs = try await store.runs(limit: limit == 0 ? nil : limit)
        if json {
            Console.write(try Console.jsonText(runs))
            return
        }
        guard !runs.isEmpty else {
            Console.write("No runs recorded in \(store.location.lexicallyNormalizedPath.escapedForTerminal).\n")
            return
        }
        // Cells escaped before they are measured: the columns line up as shown.
        // TOOK is the runners' time on the run, not the days between its start and a late rollback.
        let driven = (try? await store.drivenMilliseconds(of: runs.map(\.id))) ?? [:]
        let rows = runs.map { run in
            [run.id.rawValue, RunDurationFormat.time(run.startedAt), run.mode.rawValue, run.runbookID.escapedForTerminal,
             run.actor.escapedForTerminal, (driven[run.id] ?? RunDurationFormat.between(run.startedAt, run.finishedAt)).map(RunDurationFormat.duration) ?? "-",
             Self.status(of: run)]
        }
        let header = ["RUN", "STARTED (UTC)", "MODE", "RUNBOOK", "BY", "TOOK", "OUTCOME"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            let padded = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            Console.write(padded.joined(separator: "  ") + "\n")
        }
    }

    /// The outcome, or for an unfinished run whether its runner is still there: a run whose
    /// runner died is `interrupted` (resume it, roll it back, or unlock its targets).
    static func status(of run: RunRecord) -> String {
        if let outcome = run.outcome { return outcome.rawValue }
        if ProcessProbe.isGone(pid: run.pid, onHost: run.host) { return RunOutcome.interrupted.rawValue }
        return "running"
    }
}
