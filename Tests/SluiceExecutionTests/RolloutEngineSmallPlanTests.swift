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
        let world = try SmallPlan(text)
        var plan = world.plan
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
        #expect(!FileManager.default.fileExists(atPath: world.folder.appendingPathComponent("log").path))
        #expect(recorder.events.contains { ($0.kind == .guardFailed || $0.kind == .preflightFinished) && $0.status == .failed })
    }
}

/// Guards are checked before every stage with that stage's name (runbook-format.md: "once per
/// stage: stage.name allowed"), not with the first stage's.
@Suite("A guard's {{ stage.name }}")
struct RolloutEngineGuardStageTests {
    @Test func eachStageChecksItsGuardWithItsOwnName() async throws {
        let text = """
            sluice: 1
            id: guard-stage
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: rest }
            guards:
              - { name: quiet, run: "echo {{ stage.name }} >> guards.log" }
            steps:
              - name: deploy
                run: "true"

            """
        let world = try SmallPlan(text)
        let result = await RolloutEngineTests.run(RecordingRecorder(), world.plan)
        #expect(result.outcome == .succeeded)
        let log = try String(contentsOf: world.folder.appendingPathComponent("guards.log"), encoding: .utf8)
        #expect(log == "canary\nrest\n")
    }
}

/// A temporary folder holding a small runbook, planned.
final class SmallPlan {
    let folder: URL
    let plan: Plan

    init(_ text: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-small-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let runbook = try #require(RunbookLoader().load(text: text, file: "runbook.yaml", directory: folder.path).validRunbook)
        plan = try Planner().plan(
            runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
            now: Date(), content: ContentDigest(files: []))
    }
    deinit { try? FileManager.default.removeItem(at: folder) }
}
