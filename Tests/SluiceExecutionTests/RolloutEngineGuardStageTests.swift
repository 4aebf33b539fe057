import Foundation
import SluiceCore
import Testing
@testable import SluiceExecution

/// Guards are checked before every stage with that stage's name (runbook-format.md: "once per
/// stage: stage.name allowed"), not with the first stage's.
@Suite("A guard's {{ stage.name }}")
struct RolloutEngineGuardStageTests {
    @Test func eachStageChecksItsGuardWithItsOwnName() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-guard-stage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
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
        let runbook = try #require(RunbookLoader().load(text: text, file: "runbook.yaml", directory: folder.path).validRunbook)
        let plan = try Planner().plan(
            runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
            now: Date(), content: ContentDigest(files: []))
        let result = await RolloutEngineTests.run(RecordingRecorder(), plan)
        #expect(result.outcome == .succeeded)
        let log = try String(contentsOf: folder.appendingPathComponent("guards.log"), encoding: .utf8)
        #expect(log == "canary\nrest\n")
    }
}
