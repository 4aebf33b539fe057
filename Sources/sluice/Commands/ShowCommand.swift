import ArgumentParser
import Foundation
import SluiceAudit

/// `sluice show RUN [--json]`: one run's timeline from the audit store.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a run's timeline: stages, targets, steps, durations, outcomes and output tails.",
        discussion: "Exit status: 0, 2 when the run id is malformed or no such run is recorded."
    )

    @Argument(help: ArgumentHelp("The run id, e.g. r-20261121-083015-7f3a.", valueName: "run"))
    var run: String

    @Flag(name: .long, help: "Print the run, its timeline and its raw events as JSON.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    private struct Document: Encodable {
        let run: RunRecord?
        let timeline: [RunTimeline.Section]
        /// As `audit export` writes them: snake_case, `detail` an object.
        let events: [JSONValue]
    }

    func run() async throws {
        let id = try AuditCommandSupport.runID(run)
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("no run \(id): there is no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath). "
                                     + "Pass --store PATH or set SLUICE_STORE to the store the run used.")
            throw ExitCode(2)
        }
        let record = try await store.run(id)
        let events = try await store.events(of: id)
        guard record != nil || !events.isEmpty else {
            Console.fail("no run \(id) in the audit store \(store.location.lexicallyNormalizedPath). List runs with `sluice runs`.")
            throw ExitCode(2)
        }
        let timeline = RunTimeline(run: record, events: events)
        if json {
            Console.write(try Console.jsonText(
                Document(run: record, timeline: timeline.sections, events: events.map(EventExport.object))))
        } else {
            Console.write(RunTimelineRenderer(useColor: output.useColor).render(timeline, id: id.rawValue))
        }
    }
}
