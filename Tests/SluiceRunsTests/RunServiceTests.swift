import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import SluiceRuns
import Synchronization
import Testing

/// What a run showed, for a test to read.
final class RecordingDisplay: RunDisplay {
    private let shown = Mutex<[RunEvent]>([])
    private let lines = Mutex<[String]>([])

    var events: [RunEvent] { shown.withLock { $0 } }
    var said: [String] { lines.withLock { $0 } }

    func show(_ event: RunEvent, of run: RunID) { shown.withLock { $0.append(event) } }
    func show(output line: String, target: String, step: String) {}
    func say(_ line: String) { lines.withLock { $0.append(line) } }
    func note(_ text: String) { lines.withLock { $0.append("note: " + text) } }
    func warn(_ text: String) { lines.withLock { $0.append("warning: " + text) } }
    func whileDriving(
        _ control: RunControl, _ body: @escaping @Sendable () async -> RolloutMachine.RunResult
    ) async -> RolloutMachine.RunResult {
        await body()
    }
}

/// The run service called as a library, with a real store and real commands in a temporary folder.
@Suite("The run service, as a library")
struct RunServiceTests {
    final class World {
        let folder: URL
        let store: AuditStore
        let display = RecordingDisplay()

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-service-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            store = try AuditStore(path: folder.appendingPathComponent("audit.sqlite").path)
        }
        deinit { try? FileManager.default.removeItem(at: folder) }

        var service: RunService { RunService(store: store, actor: "tester", display: display) }
        var log: [String] {
            ((try? String(contentsOf: folder.appendingPathComponent("log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        func runbook(failingOn failing: String = "none", approval: Bool = false) throws -> Runbook {
            let text = """
                sluice: 1
                id: service-test
                targets: [{ name: web1 }, { name: web2 }]
                \(approval ? "approval: { required: true }" : "")
                rollout:
                  stages:
                    - { name: canary, count: 1 }
                    - { name: rest }
                steps:
                  - name: deploy
                    run: "echo deploy {{ target.name }} >> log; test {{ target.name }} != \(failing)"
                    rollback: "echo undo {{ target.name }} >> log"

                """
            let loaded = RunbookLoader().load(text: text, file: "runbook.yaml", directory: folder.path)
            return try #require(loaded.validRunbook, "\(loaded.diagnostics)")
        }
    }

    @Test func aFailingTargetRollsTheRunBackAndTheReportSaysSo() async throws {
        // Given a runbook whose second target's deploy fails
        let world = try World()
        // When it is applied through the service
        let report = try await world.service.apply(try world.runbook(failingOn: "web2")) { _ in }
        // Then the report, the display and the store agree: rolled back, web2 failed, exit 1
        #expect(report.outcome == .rolledBack)
        #expect(report.failed == ["web2"])
        #expect(report.exitStatus == 1)
        #expect(world.log == ["deploy web1", "deploy web2", "undo web2", "undo web1"])
        #expect(world.display.events.map(\.kind).contains(.rollbackStarted))
        #expect(world.display.said.first?.hasPrefix("Run \(report.runID): applying service-test to 2 targets in 2 stages") == true)
        #expect(try await world.store.run(report.runID)?.outcome == .rolledBack)
        #expect(report.finished.eventKind == .runFinished)
    }

    @Test func targetsHeldByAnotherRunRefuseTheRunAndTheRefusalIsRecorded() async throws {
        // Given web2 locked by another live run
        let world = try World()
        let other = RunID.generate()
        _ = try await world.store.acquireLocks(
            on: ["web2"], for: .current(runID: other), ttl: .seconds(60), actor: "someone", redactor: .none)
        // When the runbook is applied
        do {
            _ = try await world.service.apply(try world.runbook()) { _ in }
            Issue.record("the run was not refused")
        } catch let refusal as RunRefusal {
            // Then it is refused (exit 4) naming the holder, nothing ran, and its refusal is in the store
            #expect(refusal.exitStatus == 4)
            #expect(refusal.message.contains("held by \(other)"), "\(refusal.message)")
            let recorded = try #require(refusal.recorded)
            #expect(try await world.store.run(recorded.run)?.outcome == .refused)
        }
        #expect(world.log.isEmpty)
    }

    @Test func aMissingApprovalRefusesBeforeAnythingIsRecordedOrConfirmed() async throws {
        let world = try World()
        var asked = false
        do {
            _ = try await world.service.apply(try world.runbook(approval: true)) { _ in asked = true }
            Issue.record("the run was not refused")
        } catch let refusal as RunRefusal {
            #expect(refusal.exitStatus == 4)
            #expect(refusal.message.hasPrefix("refused: "), "\(refusal.message)")
            #expect(refusal.recorded == nil)
        }
        #expect(!asked)
        #expect(try await world.store.runs().isEmpty)
        #expect(world.log.isEmpty)
    }

    @Test func rollingBackAPastRunThroughTheServiceUndoesIt() async throws {
        // Given a run that succeeded
        let world = try World()
        let applied = try await world.service.apply(try world.runbook()) { _ in }
        #expect(applied.outcome == .succeeded)
        // When it is rolled back from its journal
        let report = try await world.service.rollback(try await world.service.pastRun(applied.runID), reason: "test")
        // Then both targets are undone, last stage first, and a requested rollback exits 0
        #expect(report.outcome == .rolledBack)
        #expect(report.exitStatus == 0)
        #expect(world.log.suffix(2) == ["undo web2", "undo web1"])
        // And a second rollback is refused
        await #expect(throws: RunRefusal.self) { try await world.service.rollback(try await world.service.pastRun(applied.runID), reason: "again") }
    }
}
