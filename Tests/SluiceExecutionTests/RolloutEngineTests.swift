import Foundation
import SluiceCore
import Synchronization
import Testing
@testable import SluiceExecution

/// Keeps a run's events and backups in memory, in order.
final class RecordingRecorder: RunRecorder {
    private let state = Mutex<(events: [RunEvent], backups: [FileSnapshot])>(([], []))

    func record(_ event: RunEvent) async throws { state.withLock { $0.events.append(event) } }
    func saveBackup(_ snapshot: FileSnapshot, target: String, step: String) async throws { state.withLock { $0.backups.append(snapshot) } }

    var events: [RunEvent] { state.withLock { $0.events } }
    var backups: [FileSnapshot] { state.withLock { $0.backups } }

    /// `kind target step` for each event, for compact assertions.
    func lines(_ kinds: Set<String>) -> [String] {
        events.filter { kinds.contains($0.kind.rawValue) }.map { [$0.kind.rawValue, $0.target, $0.step].compactMap { $0 }.joined(separator: " ") }
    }
}

@Suite("The rollout engine, with real processes and files")
struct RolloutEngineTests {
    /// Three targets whose state is a folder each; every command appends to `log`. The failing
    /// target is unhealthy only while it runs the new version, so its recovery finds it healthy.
    final class World {
        let folder: URL
        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-engine-\(UUID().uuidString)")
            for target in ["web1", "web2", "web3"] {
                try FileManager.default.createDirectory(at: folder.appendingPathComponent(target), withIntermediateDirectories: true)
                try Data("version = 1\n".utf8).write(to: folder.appendingPathComponent("\(target)/app.conf"))
            }
        }
        deinit { try? FileManager.default.removeItem(at: folder) }

        func read(_ name: String) -> String? { try? String(contentsOfFile: folder.appendingPathComponent(name).path, encoding: .utf8) }
        var log: [String] { (read("log") ?? "").split(separator: "\n").map(String.init) }

        func plan(maxFailures: Int = 0, failingHealth: String = "none", brokenForGood: Bool = false) throws -> Plan {
            let healthy = brokenForGood ? "" : "grep -q 'version = 1' {{ target.name }}/app.conf || "
            let text = """
                sluice: 1
                id: engine
                targets: [{ name: web1 }, { name: web2 }, { name: web3 }]
                rollout:
                  stages:
                    - { name: canary, count: 1 }
                    - { name: rest, parallel: 2, max_failures: \(maxFailures) }
                holds:
                  - { name: batch, pause: "echo pause >> log", resume: "echo resume >> log" }
                steps:
                  - name: config
                    file: { path: "{{ target.name }}/app.conf", content: "version = 2\\n", reload: "echo reload {{ target.name }} >> log" }
                  - name: deploy
                    run: "echo deploy {{ target.name }} >> log"
                    rollback: "echo undeploy {{ target.name }} >> log"
                  - name: healthy
                    health: { command: "echo health {{ target.name }} >> log; \(healthy)test {{ target.name }} != \(failingHealth)", attempts: 2, interval: 10ms }
                  - name: refresh
                    cache_refresh: "echo refresh {{ target.name }} >> log"

                """
            let runbook = try #require(RunbookLoader().load(text: text, file: "runbook.yaml", directory: folder.path).validRunbook)
            return try Planner().plan(
                runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
                now: Date(), content: ContentDigest(files: []))
        }
    }

    static func run(_ recorder: RecordingRecorder, _ plan: Plan) async -> RolloutMachine.RunResult {
        await engine(recorder, for: plan).run(plan)
    }

    static func engine(_ recorder: RecordingRecorder, for plan: Plan) -> RolloutEngine<ContinuousClock> {
        RolloutEngine(
            executor: StepExecutor(prober: NetworkHealthProber(), clock: ContinuousClock()),
            transports: .local(for: plan), recorder: recorder, clock: ContinuousClock(), redactor: .none)
    }

    @Test func noStageStartsWithinTheWindowsCutoffAndTheRunStopsAtTheStageBoundary() async throws {
        // Given a window whose last stage start falls between the canary and the rest, on a
        // clock that reads the time before it when the canary starts and after it for the rest
        let world = try World()
        let recorder = RecordingRecorder()
        var plan = try world.plan()
        let lastStart = Date(timeIntervalSince1970: 1_800_000_000)
        plan.window = .open(closes: lastStart.addingTimeInterval(1800), lastStageStart: lastStart)
        let readings = Mutex([lastStart.addingTimeInterval(-600), lastStart.addingTimeInterval(1)])
        let engine = RolloutEngine(
            executor: StepExecutor(prober: NetworkHealthProber(), clock: ContinuousClock()),
            transports: .local(for: plan), recorder: recorder, clock: ContinuousClock(), redactor: .none,
            now: { readings.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] } })

        // When the run goes
        let result = await engine.run(plan)

        // Then the canary ran, the rest never started, and the canary was rolled back
        #expect(result.outcome == .rolledBack)
        #expect(result.stopReason == .cutoffReached(stage: 1))
        #expect(recorder.events.filter { $0.kind.rawValue == "stage.started" }.map(\.stage) == ["canary"])
        #expect(recorder.events.first { $0.kind.rawValue == "window.cutoff" }?.stage == "rest")
        #expect(!world.log.contains { $0.hasSuffix("web2") || $0.hasSuffix("web3") })
        #expect(world.read("web1/app.conf") == "version = 1\n")
        #expect(world.log.last == "resume")
    }

    @Test func successfulRunAppliesEveryTargetInStageOrder() async throws {
        let world = try World()
        let recorder = RecordingRecorder()
        let result = await Self.run(recorder, try world.plan())
        #expect(result == RolloutMachine.RunResult(outcome: .succeeded))
        // Holds first and last; the canary is done before the rest start.
        let log = world.log
        #expect(log.first == "pause" && log.last == "resume")
        #expect(Array(log[1...4]) == ["reload web1", "deploy web1", "health web1", "refresh web1"])
        for target in ["web2", "web3"] {
            #expect(log.filter { $0.hasSuffix(target) } == ["reload \(target)", "deploy \(target)", "health \(target)", "refresh \(target)"])
            #expect(world.read("\(target)/app.conf") == "version = 2\n")
        }
        // Every step was recorded as started before it finished, and each file's backup was kept.
        #expect(recorder.lines(["step.started"]).count == 12)
        // A step.finished may wait for the next event to become durable only when the target's
        // next step follows at once: never for a target's last step (it may be followed by a bake).
        let finished = recorder.events.filter { $0.kind.rawValue == "step.finished" }
        #expect(finished.filter(\.mayWaitForNextEvent).count == 9)
        #expect(!finished.contains { $0.step == "refresh" && $0.mayWaitForNextEvent })
        #expect(recorder.backups.map(\.content) == Array(repeating: Data("version = 1\n".utf8), count: 3))
    }

    @Test func failureInTheLaterStageRollsBackEverythingWithRecoveryFirstRefreshThenHealth() async throws {
        // Given web2's health check fails
        let world = try World()
        let recorder = RecordingRecorder()
        // When the run goes
        let result = await Self.run(recorder, try world.plan(failingHealth: "web2"))
        // Then it ends rolled back, having undone every target, canary last
        #expect(result.outcome == .rolledBack)
        #expect(result.failedTargets == [1])
        for target in ["web1", "web2", "web3"] {
            #expect(world.read("\(target)/app.conf") == "version = 1\n", "\(target) restored byte for byte")
        }
        let rolledBack = recorder.lines(["rollback.step.finished"]).map { $0.split(separator: " ")[1] }
        #expect(rolledBack.first == "web2")  // the failed target at once
        #expect(rolledBack.last == "web1")   // the canary last
        // Recovery refreshes the cache before it checks health, on every target
        for target in ["web1", "web2", "web3"] {
            #expect(recorder.lines(["recovery.step.finished"]).filter { $0.contains(target) } == ["recovery.step.finished \(target) refresh", "recovery.step.finished \(target) healthy"])
        }
        // The failed step's own undo ran (health has nothing to undo), deploy was undone, holds resumed last
        #expect(world.log.contains("undeploy web2"))
        #expect(world.log.last == "resume")
        #expect(recorder.events.contains { $0.kind.rawValue == "rollback.started" })
    }

    @Test func aTargetStillUnhealthyAfterItsRollbackEndsTheRunRollbackIncomplete() async throws {
        let world = try World()
        let recorder = RecordingRecorder()
        let result = await Self.run(recorder, try world.plan(failingHealth: "web2", brokenForGood: true))
        #expect(result.outcome == .rollbackIncomplete)
        #expect(result.incompleteRollbacks == [1])
        // The other targets are still rolled back, and holds resumed.
        #expect(world.read("web1/app.conf") == "version = 1\n")
        #expect(world.read("web3/app.conf") == "version = 1\n")
        #expect(world.log.last == "resume")
    }

    @Test func toleratedFailureIsRolledBackAloneAndTheRunCompletesWithFailures() async throws {
        let world = try World()
        let recorder = RecordingRecorder()
        let result = await Self.run(recorder, try world.plan(maxFailures: 1, failingHealth: "web3"))
        #expect(result.outcome == .completedWithFailures)
        #expect(result.failedTargets == [2])
        #expect(world.read("web3/app.conf") == "version = 1\n")
        #expect(world.read("web1/app.conf") == "version = 2\n")
        #expect(world.read("web2/app.conf") == "version = 2\n")
        #expect(Set(recorder.lines(["rollback.step.finished"]).map { $0.split(separator: " ")[1] }) == ["web3"])
        #expect(world.log.last == "resume")
    }
}
