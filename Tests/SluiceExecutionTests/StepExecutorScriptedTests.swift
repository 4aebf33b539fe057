import Foundation
import SluiceCore
import SluiceTesting
import Synchronization
import Testing
@testable import SluiceExecution

/// One step on one target, on the fakes: commands and files through a recording transport,
/// retries, attempts and waits on a manual clock.
@Suite("Running and undoing one step, on the fakes", .timeLimit(.minutes(1)))
struct StepExecutorScriptedTests {
    let world = ScriptedWorld()

    var executor: StepExecutor<ManualClock> { StepExecutor(prober: world.prober, clock: world.clock) }

    var context: StepExecutor<ManualClock>.Context {
        .init(transport: world.transport, environment: ["SLUICE_TARGET": "web1", "SLUICE_STEP": "step"], redactor: .none)
    }

    /// The steps of a one-target runbook.
    func steps(_ stepsYAML: String) throws -> [PlannedStep] {
        try world.plan("sluice: 1\nid: steps\ntargets: [{ name: web1 }]\nsteps:\n" + stepsYAML).stages[0].targets[0].steps
    }

    func run(_ step: PlannedStep, saveSnapshot: @escaping @Sendable (FileSnapshot) async throws -> Void = { _ in }) async -> StepOutcome {
        let (executor, context) = (executor, context)
        return await world.clock.run { await executor.run(step, in: context, saveSnapshot: saveSnapshot) }
    }

    func undo(_ step: PlannedStep, snapshot: FileSnapshot?, reloadAlways: Bool = false) async -> StepOutcome {
        let (executor, context) = (executor, context)
        return await world.clock.run { await executor.undo(step, snapshot: snapshot, reloadAlways: reloadAlways, in: context) }
    }

    // MARK: Commands

    @Test(arguments: [(2, true, 3), (1, false, 2), (0, false, 1)])
    func runStepsAreRetriedAfterTheirDelay(_ retries: Int, _ succeeds: Bool, _ attempts: Int) async throws {
        // Given a command that fails twice, then succeeds, with 20 s between attempts
        world.transport.on("flaky", .exit(1), .exit(1), then: .success)
        let steps = try steps("""
              - name: flaky
                run: flaky
                retries: \(retries)
                retry_delay: 20s

            """)
        // When it runs
        let outcome = await run(steps[0])
        // Then it succeeded only if it could try three times, tried as often as allowed, 20 s apart
        #expect(outcome.succeeded == succeeds)
        #expect(outcome.commands.count == attempts)
        #expect(world.transport.ran.map(\.at) == (0..<attempts).map { .seconds(20 * $0) })
        #expect(outcome.detail == (succeeds ? "exited with status 0 on attempt 3" : attempts > 1 ? "exited with status 1 after \(attempts) attempts" : "exited with status 1"))
    }

    @Test func aCommandGetsTheContextsVariablesAndItsStepsTimeout() async throws {
        let steps = try steps("""
              - name: deploy
                run: "deploy {{ target.name }}"
                timeout: 90s

            """)
        #expect(await run(steps[0]).succeeded)
        #expect(world.transport.ran == [RecordingTransport.Ran(
            command: .shell("deploy web1"), environment: ["SLUICE_TARGET": "web1", "SLUICE_STEP": "step"], timeout: .seconds(90), at: .zero)])
    }

    @Test func aFailingUndoIsRetriedOnceMoreThanTheStepBeforeItGivesUp() async throws {
        world.transport.on("undo", .exit(1))
        let steps = try steps("""
              - name: deploy
                run: "true"
                rollback: undo
                retries: 1
                retry_delay: 5s

            """)
        let outcome = await undo(steps[0], snapshot: nil)
        #expect(!outcome.succeeded)
        #expect(outcome.detail == "exited with status 1 after 3 attempts")
        #expect(world.transport.ran.map(\.at) == [.zero, .seconds(5), .seconds(10)])
    }

    @Test func undoSaysWhenThereIsNothingToUndo() async throws {
        let steps = try steps("""
              - name: note
                run: echo noted

            """)
        #expect(await undo(steps[0], snapshot: nil) == StepOutcome(succeeded: true, detail: "no rollback: nothing to undo for this step"))
        #expect(world.transport.calls.isEmpty)
    }

    @Test func aHealthStepFailsOnlyAfterAllItsAttemptsAtItsInterval() async throws {
        // Given a health command that fails twice, then passes, probed every 3 s
        world.transport.on("probe web1", .exit(1, output: "down\n"), .exit(1, output: "down\n"), then: .exit(0, output: "up\n"))
        let steps = try steps("""
              - name: up
                health: { command: "probe {{ target.name }}", attempts: 2, interval: 3s }
              - name: up-more
                health: { command: "probe {{ target.name }}", attempts: 3, interval: 3s }

            """)
        // When the two-attempt one runs, then the three-attempt one
        let failed = await run(steps[0])
        let passed = await run(steps[1])
        // Then the first gave up after its two attempts; the second passed on its first
        #expect(failed == StepOutcome(succeeded: false, detail: "unhealthy after 2 attempt(s): exited with status 1: down"))
        #expect(passed == StepOutcome(succeeded: true, detail: "healthy after 1 attempt(s): exited with status 0: up"))
        #expect(world.transport.ran.map(\.at) == [.zero, .seconds(3), .seconds(3)])
    }

    @Test func aWaitTakesItsTimeOnTheClockOrEndsAtTheStop() async throws {
        // Given a 10 min wait, run once alone, then with a stop that fires 30 s in
        let steps = try steps("""
              - name: settle
                wait: 10m

            """)
        let waited = await run(steps[0])
        #expect(waited == StepOutcome(succeeded: true, detail: "waited 10m"))
        #expect(world.clock.now.offset == .seconds(600))

        var stoppable = context
        stoppable.stopping = Latch()
        let (executor, clock, latch, stopping) = (executor, world.clock, stoppable.stopping, stoppable)
        let cut = await clock.run {
            await withTaskGroup(of: StepOutcome?.self) { group in
                group.addTask { await executor.run(steps[0], in: stopping) }
                group.addTask {
                    try? await clock.sleep(for: .seconds(30))
                    latch?.fire()
                    return nil
                }
                var outcome: StepOutcome?
                for await ended in group { outcome = outcome ?? ended }
                return outcome
            }
        }
        #expect(cut == StepOutcome(succeeded: true, detail: "cut short by the stop after 30s of 10m"))
        #expect(world.clock.now.offset == .seconds(630))
    }

    @Test func aStepWithNothingToRunFails() async throws {
        var step = try steps("""
              - name: deploy
                run: deploy

            """)[0]
        // The plan read back without its executable part.
        guard case .run(var command) = step.action else { Issue.record("a run step"); return }
        command.executable = nil
        step.action = .run(command)
        #expect(await run(step) == StepOutcome(succeeded: false, detail: "nothing to run: the plan holds no command for this step"))
    }

    // MARK: Files

    static let conf = """
          - name: conf
            file:
              path: /etc/app.conf
              content: "new = 2\\n"
              validate: "check {{ file }}"
              reload: "reload app"

        """

    @Test func aFileStepSavesTheSnapshotFirstThenValidatesWritesKeepingOwnerAndModeAndReloads() async throws {
        // Given a file owned by 70:71, mode 0640; a validate that reads what it is given
        world.transport.place("/etc/app.conf", "old = 1\n", mode: 0o640, owner: 70, group: 71)
        let staged = Mutex<RecordingTransport.File?>(nil)
        world.transport.on("check") { request in
            staged.withLock { $0 = world.transport.file("/etc/app.conf.validate-0") }
            return request.command == .shell("check /etc/app.conf.validate-0") ? .success : .exit(2)
        }
        let steps = try steps(Self.conf)
        let seenBeforeWrite = Mutex<String?>(nil)

        // When the step runs
        let outcome = await run(steps[0]) { snapshot in
            // The backup is taken while the old file is still in place.
            #expect(snapshot.content == Data("old = 1\n".utf8))
            seenBeforeWrite.withLock { $0 = world.transport.file("/etc/app.conf")?.text }
        }

        // Then the backup came before anything changed; validate saw the new content staged
        // privately beside the file; the file has the new bytes with its owner, group and mode
        // kept; it was reloaded once; nothing staged is left
        #expect(outcome.succeeded, "\(outcome.detail)")
        #expect(outcome.detail == "wrote /etc/app.conf, then reloaded")
        #expect(seenBeforeWrite.withLock { $0 } == "old = 1\n")
        #expect(staged.withLock { $0 } == RecordingTransport.File(content: Data("new = 2\n".utf8), mode: 0o600, owner: 70, group: 71))
        #expect(world.transport.file("/etc/app.conf") == RecordingTransport.File(content: Data("new = 2\n".utf8), mode: 0o640, owner: 70, group: 71))
        #expect(world.transport.paths == ["/etc/app.conf"])
        #expect(world.transport.calls.map(\.description) == [
            "snapshot /etc/app.conf", "run check /etc/app.conf.validate-0", "write /etc/app.conf: written", "run reload app",
        ])
        #expect(outcome.snapshot == FileSnapshot(path: "/etc/app.conf", existed: true, content: Data("old = 1\n".utf8), mode: 0o640, owner: 70, group: 71))

        // When it is undone
        let undone = await undo(steps[0], snapshot: outcome.snapshot)

        // Then the old bytes, owner, group and mode are back, and it reloaded again
        #expect(undone == StepOutcome(
            succeeded: true, detail: "restored the previous /etc/app.conf, then reloaded", commands: [undone.commands[0]]))
        #expect(world.transport.file("/etc/app.conf") == RecordingTransport.File(content: Data("old = 1\n".utf8), mode: 0o640, owner: 70, group: 71))
        #expect(world.transport.commands.filter { $0 == "reload app" }.count == 2)
    }

    @Test func rejectedContentLeavesTheFileAndFailsTheStep() async throws {
        world.transport.place("/etc/app.conf", "old = 1\n")
        world.transport.on("check", .exit(1))
        let steps = try steps(Self.conf)
        let outcome = await run(steps[0])
        #expect(!outcome.succeeded)
        #expect(outcome.detail == "validate refused the new content (exited with status 1)")
        #expect(outcome.snapshot == nil)
        #expect(world.transport.file("/etc/app.conf")?.text == "old = 1\n")
        #expect(world.transport.paths == ["/etc/app.conf"])
        #expect(!world.transport.commands.contains("reload app"))
        // Its undo has nothing to restore
        #expect(await undo(steps[0], snapshot: outcome.snapshot).detail == "the file was never changed: nothing to restore")
    }

    @Test func anUnchangedFileIsNeitherReloadedNorRestored() async throws {
        world.transport.place("/etc/app.conf", "new = 2\n")
        let steps = try steps(Self.conf)
        let outcome = await run(steps[0])
        #expect(outcome == StepOutcome(
            succeeded: true, detail: "unchanged: /etc/app.conf already holds the new content; not reloaded", snapshot: outcome.snapshot))
        let undone = await undo(steps[0], snapshot: outcome.snapshot)
        #expect(undone.detail == "nothing to restore: /etc/app.conf is as it was before the run; not reloaded")
        #expect(world.transport.commands.isEmpty)  // not even validate
        // Unless an earlier undo was cut short after restoring it: then it reloads
        let finished = await undo(steps[0], snapshot: outcome.snapshot, reloadAlways: true)
        #expect(finished.detail == "/etc/app.conf was already restored by the rollback cut short, then reloaded")
        #expect(world.transport.commands == ["reload app"])
    }

    @Test func aNewFileGetsItsModeAndIsRemovedByItsUndo() async throws {
        world.transport.on("check", .success)
        let steps = try steps(Self.conf.replacingOccurrences(of: "      reload:", with: "      mode: \"0600\"\n      reload:"))
        let outcome = await run(steps[0])
        #expect(outcome.succeeded, "\(outcome.detail)")
        #expect(world.transport.file("/etc/app.conf") == RecordingTransport.File(content: Data("new = 2\n".utf8), mode: 0o600))
        let undone = await undo(steps[0], snapshot: outcome.snapshot)
        #expect(undone.detail == "removed /etc/app.conf, which did not exist before, then reloaded")
        #expect(world.transport.paths.isEmpty)
    }

    @Test func aFollowedLinkIsValidatedBesideTheLinkAndWrittenToItsTarget() async throws {
        // Given /etc/app.conf, a link to /srv/app.conf
        world.transport.place("/srv/app.conf", "old = 1\n", owner: 70, group: 71)
        world.transport.link("/etc/app.conf", to: "/srv/app.conf")
        let steps = try steps(Self.conf.replacingOccurrences(of: "      reload:", with: "      follow: true\n      reload:"))
        // When the step runs
        let outcome = await run(steps[0])
        // Then validate ran on a copy beside the link, and the link's target changed
        #expect(outcome.succeeded, "\(outcome.detail)")
        #expect(world.transport.calls.map(\.description).prefix(3) == [
            "snapshot /etc/app.conf (follow)", "validate beside /etc/app.conf as /etc/app.conf.validate-0", "run check /etc/app.conf.validate-0",
        ])
        #expect(world.transport.file("/srv/app.conf") == RecordingTransport.File(content: Data("new = 2\n".utf8), mode: 0o644, owner: 70, group: 71))
        #expect(world.transport.file("/etc/app.conf") == nil)
    }

    @Test func aLinkNotFollowedFailsTheStepNamingIt() async throws {
        world.transport.link("/etc/app.conf", to: "/srv/app.conf")
        let outcome = await run(try steps(Self.conf)[0])
        #expect(!outcome.succeeded)
        #expect(outcome.detail == FileChangeError.symbolicLink("/etc/app.conf", target: "/srv/app.conf").description)
        #expect(world.transport.commands.isEmpty)
    }

    struct StoreDown: Error, CustomStringConvertible {
        var description: String { "the audit store is read-only" }
    }

    @Test func aBackupThatCannotBeSavedLeavesTheFileAlone() async throws {
        world.transport.place("/etc/app.conf", "old = 1\n")
        let outcome = await run(try steps(Self.conf)[0]) { _ in throw StoreDown() }
        #expect(outcome == StepOutcome(succeeded: false, detail: "the audit store is read-only"))
        #expect(world.transport.file("/etc/app.conf")?.text == "old = 1\n")
        #expect(world.transport.calls.map(\.description) == ["snapshot /etc/app.conf"])
    }

    @Test func aRestoreThatFailsIsRetriedAfterTheDelayThenReportedWithItsCause() async throws {
        // Given a file changed by the step, whose restore fails twice, then (another time) for good
        world.transport.place("/etc/app.conf", "old = 1\n")
        let steps = try steps(Self.conf.replacingOccurrences(
            of: "    file:", with: "    retries: 1\n    retry_delay: 7s\n    file:"))
        let outcome = await run(steps[0])
        let readOnly = FileChangeError.unwritable("/etc/app.conf", reason: "Read-only file system")
        world.transport.fail(.restore, at: "/etc/app.conf", with: readOnly, times: 2)

        // When it is undone: three attempts are allowed (one more than the step's two)
        let started = world.clock.now
        let undone = await undo(steps[0], snapshot: outcome.snapshot)

        // Then the third attempt restored it, 14 s later
        #expect(undone.detail == "restored the previous /etc/app.conf, then reloaded")
        #expect(started.duration(to: world.clock.now) == .seconds(14))
        #expect(world.transport.file("/etc/app.conf")?.text == "old = 1\n")

        // And when every attempt fails, the undo fails naming why
        world.transport.place("/etc/app.conf", "new = 2\n")
        world.transport.fail(.restore, at: "/etc/app.conf", with: readOnly, times: 3)
        let failed = await undo(steps[0], snapshot: outcome.snapshot)
        #expect(failed == StepOutcome(succeeded: false, detail: "could not restore /etc/app.conf: \(readOnly)"))
        #expect(world.transport.calls.filter { $0 == .failed(.restore, "/etc/app.conf") }.count == 5)
    }
}
