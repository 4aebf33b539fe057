import Foundation
import SluiceCore
import Synchronization
import Testing
@testable import SluiceExecution

@Suite("Running and undoing one step on one target")
struct StepExecutorTests {
    /// A folder with a runbook; `steps(...)` plans it and returns the first target's steps.
    final class World {
        let folder: URL
        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-steps-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: folder) }

        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        func read(_ name: String) -> String? { try? String(contentsOfFile: path(name), encoding: .utf8) }

        func steps(_ stepsYAML: String) throws -> [PlannedStep] {
            let text = "sluice: 1\nid: steps\ntargets: [{ name: web1 }]\nsteps:\n" + stepsYAML
            let result = RunbookLoader().load(text: text, file: "runbook.yaml", directory: folder.path)
            let runbook = try #require(result.validRunbook, "\(result.diagnostics)")
            let plan = try Planner().plan(
                runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
                now: Date(), content: ContentDigest(files: []), validateFile: { _, index, path in path + ".validate-\(index)" })
            return plan.stages[0].targets[0].steps
        }

        var context: StepExecutor<ContinuousClock>.Context { .init(transport: LocalTransport(directory: folder.path), environment: [:], redactor: .none) }
    }

    let executor = StepExecutor(prober: NetworkHealthProber(), clock: ContinuousClock())

    @Test(arguments: [(2, true, 3), (1, false, 2), (0, false, 1)])
    func runStepsAreRetried(_ retries: Int, _ succeeds: Bool, _ attempts: Int) async throws {
        // Given a command that fails twice, then succeeds
        let world = try World()
        let steps = try world.steps("""
              - name: flaky
                run: "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]"
                retries: \(retries)
                retry_delay: 10ms

            """)
        // When it runs with some retries
        let outcome = await executor.run(steps[0], in: world.context)
        // Then it succeeds only if it may try three times, and tried exactly as often as allowed
        #expect(outcome.succeeded == succeeds)
        #expect(outcome.commands.count == attempts)
        #expect(world.read("n") == "\(attempts)\n")
    }

    @Test func fileStepSavesTheSnapshotBeforeWritingThenReloads() async throws {
        let world = try World()
        try Data("old = 1\n".utf8).write(to: URL(fileURLWithPath: world.path("app.conf")))
        let steps = try world.steps("""
              - name: conf
                file:
                  path: app.conf
                  content: "new = 2\\n"
                  validate: "grep -q new {{ file }}"
                  reload: "echo reloaded >> reloads"

            """)
        let seenBeforeWrite = Mutex<String?>(nil)
        let outcome = await executor.run(steps[0], in: world.context) { snapshot in
            // The backup is taken while the old file is still in place.
            #expect(snapshot.content == Data("old = 1\n".utf8))
            seenBeforeWrite.withLock { $0 = world.read("app.conf") }
        }
        #expect(outcome.succeeded, "\(outcome.detail)")
        #expect(seenBeforeWrite.withLock { $0 } == "old = 1\n")
        #expect(world.read("app.conf") == "new = 2\n")
        #expect(world.read("reloads") == "reloaded\n")

        // Undo restores the old bytes and reloads again
        let undone = await executor.undo(steps[0], snapshot: outcome.snapshot, in: world.context)
        #expect(undone.succeeded, "\(undone.detail)")
        #expect(world.read("app.conf") == "old = 1\n")
        #expect(world.read("reloads") == "reloaded\nreloaded\n")
    }

    @Test func rejectedContentLeavesTheFileAndFailsTheStep() async throws {
        let world = try World()
        try Data("old = 1\n".utf8).write(to: URL(fileURLWithPath: world.path("app.conf")))
        let steps = try world.steps("""
              - name: conf
                file: { path: app.conf, content: "broken\\n", validate: "grep -q new {{ file }}", reload: "echo reloaded >> reloads" }

            """)
        let outcome = await executor.run(steps[0], in: world.context)
        #expect(!outcome.succeeded)
        #expect(outcome.detail == "validate refused the new content (exited with status 1)")
        #expect(world.read("app.conf") == "old = 1\n")
        #expect(world.read("reloads") == nil)
    }

    @Test func undoRunsTheRollbackCommandAndSaysWhenThereIsNone() async throws {
        let world = try World()
        let steps = try world.steps("""
              - name: deploy
                run: echo deployed > state
                rollback: echo undone > state
              - name: note
                run: echo noted

            """)
        #expect(await executor.run(steps[0], in: world.context).succeeded)
        #expect(world.read("state") == "deployed\n")
        #expect(await executor.undo(steps[0], snapshot: nil, in: world.context).succeeded)
        #expect(world.read("state") == "undone\n")
        let none = await executor.undo(steps[1], snapshot: nil, in: world.context)
        #expect(none == StepOutcome(succeeded: true, detail: "no rollback: nothing to undo for this step"))
    }

    @Test func failingUndoIsRetriedBeforeItGivesUp() async throws {
        let world = try World()
        let steps = try world.steps("""
              - name: deploy
                run: "true"
                rollback: "echo try >> tries; exit 1"
                retries: 1
                retry_delay: 10ms

            """)
        let outcome = await executor.undo(steps[0], snapshot: nil, in: world.context)
        #expect(!outcome.succeeded)
        #expect(world.read("tries") == "try\ntry\ntry\n")
        #expect(outcome.detail == "exited with status 1 after 3 attempts")
    }

    @Test func healthStepFailsOnlyAfterAllAttempts() async throws {
        let world = try World()
        let steps = try world.steps("""
              - name: up
                health: { command: "echo probe >> probes; exit 1", attempts: 3, interval: 10ms }

            """)
        let outcome = await executor.run(steps[0], in: world.context)
        #expect(!outcome.succeeded)
        #expect(world.read("probes") == "probe\nprobe\nprobe\n")
        #expect(outcome.detail == "unhealthy after 3 attempt(s): exited with status 1")
    }
}
