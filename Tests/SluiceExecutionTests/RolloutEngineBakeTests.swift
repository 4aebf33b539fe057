import Foundation
import SluiceCore
import Testing
@testable import SluiceExecution

extension RolloutEngineTests {
    @Test func aGuardFailingWhileAStageBakesEndsTheBakeAtOnce() async throws {
        // Given a canary that bakes for 30s, and a guard checked every second that fails once the
        // canary has written `full`
        let world = try World()
        let text = """
            sluice: 1
            id: guarded-bake
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1, bake: 30s }
                - { name: rest }
            holds:
              - { name: batch, pause: "echo pause >> log", resume: "echo resume >> log" }
            guards:
              - { name: disk, run: "test ! -e full", every: 1s }
            steps:
              - name: deploy
                run: "echo deploy {{ target.name }} >> log; touch full"
                rollback: "echo undeploy {{ target.name }} >> log"
              - name: healthy
                health: { command: "echo health {{ target.name }} >> log", attempts: 1 }

            """
        let runbook = try #require(RunbookLoader().load(text: text, file: "runbook.yaml", directory: world.folder.path).validRunbook)
        let plan = try Planner().plan(
            runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
            now: Date(), content: ContentDigest(files: []))
        let recorder = RecordingRecorder()
        // When it runs
        let clock = ContinuousClock()
        let started = clock.now
        let result = await Self.run(recorder, plan)
        // Then the guard stops the run during the bake, the canary is rolled back and the hold
        // resumed without waiting for the 30s bake to run out; after the undo, web1 is probed once
        // more only by its recovery, no longer by the bake
        #expect(result.outcome == .rolledBack)
        #expect(result.stopReason == .guardFailed(stage: 0))
        #expect(started.duration(to: clock.now) < .seconds(15))
        #expect(world.log.first == "pause" && world.log.last == "resume")
        #expect(world.log.filter { $0.hasPrefix("deploy") || $0.hasPrefix("undeploy") } == ["deploy web1", "undeploy web1"])
        let undone = try #require(world.log.firstIndex(of: "undeploy web1"))
        #expect(Array(world.log[undone...]) == ["undeploy web1", "health web1", "resume"], "\(world.log)")
    }
}
