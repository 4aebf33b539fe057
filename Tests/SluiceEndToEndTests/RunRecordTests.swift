import Foundation
import Testing

/// What a run's record says about its stages, rollback and durations: through the built binary,
/// read back from the store with sqlite3.
@Suite("A run's record reads right")
struct RunRecordTests {
    static func store(_ folder: TemporaryFolder) -> String { folder.url.appendingPathComponent("store/audit.sqlite").path }

    /// Two targets one at a time; web2's deploy fails, which crosses the stage's threshold.
    static func failingRun() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: record-test
            targets: [{ name: web1 }, { name: web2 }]
            steps:
              - name: deploy
                run: "test {{ target.name }} != web2"
                rollback: "true"
              - name: settle
                wait: 300ms
              - name: up
                health: { command: "sleep 0.2", attempts: 1 }

            """)
        let applied = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: OneDriverTests.environment(folder))
        #expect(applied.status == 1, "\(applied.stdout)\(applied.stderr)")
        return folder
    }

    @Test func rollbackStartedIsRecordedBeforeTheRollbacksFirstStepAndTheStoppedStageFinishes() throws {
        let folder = try Self.failingRun()
        let kinds = try SQLiteShell.run(Self.store(folder), """
            SELECT kind || coalesce(' ' || target, '') || coalesce(' ' || status, '') FROM events
            WHERE kind IN ('rollback.started', 'rollback.step.started', 'stage.finished') ORDER BY seq
            """).split(separator: "\n").map(String.init)
        #expect(kinds == [
            "rollback.started", "rollback.step.started web2", "stage.finished failed",
            "rollback.step.started web1", "rollback.step.started web1", "rollback.step.started web1",
        ], "\(kinds)")
        let reason = try SQLiteShell.run(Self.store(folder), "SELECT json_extract(detail, '$.reason') FROM events WHERE kind = 'stage.finished'")
        #expect(reason == "stage all had more failed targets than it tolerates")
    }

    @Test func waitAndHealthStepsRecordHowLongTheyTook() throws {
        let folder = try Self.failingRun()
        let durations = try SQLiteShell.run(Self.store(folder), """
            SELECT step || ' ' || duration_ms FROM events WHERE kind = 'step.finished' AND target = 'web1' AND step IN ('settle', 'up') ORDER BY seq
            """).split(separator: "\n").map { $0.split(separator: " ") }
        #expect(durations.map { String($0[0]) } == ["settle", "up"])
        let milliseconds = durations.compactMap { Int($0[1]) }
        #expect(milliseconds.count == 2 && milliseconds[0] >= 300 && milliseconds[1] >= 200, "\(durations)")
    }
}
