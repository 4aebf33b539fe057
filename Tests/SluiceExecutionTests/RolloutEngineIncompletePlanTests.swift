import Foundation
import SluiceCore
import Testing
@testable import SluiceExecution

/// A plan read back without one of its commands (a damaged journal) must not pass a check it
/// cannot run: the check fails, and the run stops before anything changes.
@Suite("A plan missing a check's command")
struct RolloutEngineIncompletePlanTests {
    @Test(arguments: ["guard", "preflight"])
    func aCheckWithoutItsCommandFailsAndNothingRuns(_ which: String) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-incomplete-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = """
            sluice: 1
            id: incomplete
            targets: [{ name: web1 }]
            preflight:
              - { name: reachable, run: "true" }
            guards:
              - { name: disk, run: "true" }
            steps:
              - name: deploy
                run: "echo deploy >> log"

            """
        let runbook = try #require(RunbookLoader().load(text: text, file: "runbook.yaml", directory: folder.path).validRunbook)
        var plan = try Planner().plan(
            runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
            now: Date(), content: ContentDigest(files: []))
        // Given the plan lost the check's command
        if which == "guard" {
            plan.guards[0].check.executable = nil
        } else {
            plan.stages[0].targets[0].preflight[0].command.executable = nil
        }
        // When it runs
        let recorder = RecordingRecorder()
        let result = await RolloutEngineTests.run(recorder, plan)
        // Then the check failed instead of passing, and the step never ran
        #expect(result.outcome == (which == "guard" ? .rolledBack : .refused))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("log").path))
        #expect(recorder.events.contains { ($0.kind == .guardFailed || $0.kind == .preflightFinished) && $0.status == .failed })
    }
}
