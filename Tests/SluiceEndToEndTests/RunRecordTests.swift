import Foundation
import SluiceTesting
import Testing

/// What a run's record says about its stages, rollback and durations: through the built binary,
/// read back from the store with sqlite3.
@Suite("A run's record reads right", .ownThread)
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
        // Both are recorded, in whole milliseconds; that each is the step's own time (the wait,
        // the probes) is shown on a manual clock by the engine's waitAndHealthStepsRecordHowLongTheyTook
        let milliseconds = durations.compactMap { Int($0[1]) }
        #expect(milliseconds.count == 2, "\(durations)")
    }

    @Test func showJSONAndExportUseSnakeCaseAndTypedValues() throws {
        let folder = try Self.failingRun()
        let environment = OneDriverTests.environment(folder)
        let run = try #require(try SQLiteShell.run(Self.store(folder), "SELECT id FROM runs").split(separator: "\n").first.map(String.init))
        let shown = try SluiceBinary.run(["show", run, "--json"], in: folder.url, environment: environment)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        let events = try #require(document["events"] as? [[String: Any]])
        let finished = try #require(events.first { $0["kind"] as? String == "run.finished" })
        #expect(finished["detail"] is [String: Any], "\(finished)")
        #expect((finished["detail"] as? [String: Any])?["failed_targets"] as? [String] == ["web2"])
        #expect(finished["seq"] is Int)
        // The timeline's keys are snake_case too, and its notes typed
        #expect(shown.stdout.contains("\"duration_ms\""))
        for camel in ["finishedAt", "exitCode", "durationMilliseconds", "inDoubt"] { #expect(!shown.stdout.contains(camel), "\(camel)") }
        let exported = try SluiceBinary.run(["audit", "export", "--run", run], in: folder.url, environment: environment)
        let lines = exported.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == events.count)
        #expect(lines.allSatisfy { $0["detail"] is [String: Any] })
        #expect(try SluiceBinary.run(["audit", "verify"], in: folder.url, environment: environment).status == 0)
    }

    @Test func runsTookIsTheRunnersTimeNotTheTimeUntilALateRollback() throws {
        // Given a run whose events then say it took 1.5 s, on 1 March
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: took-test
            targets: [{ name: web1 }]
            steps:
              - { name: deploy, run: "true", rollback: "true" }

            """)
        let environment = OneDriverTests.environment(folder)
        #expect(try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: environment).status == 0)
        let run = try #require(try SQLiteShell.run(Self.store(folder), "SELECT id FROM runs").split(separator: "\n").first.map(String.init))
        let applied = try SQLiteShell.run(Self.store(folder), "SELECT max(seq) FROM events")
        try SQLiteShell.run(Self.store(folder), """
            DROP TRIGGER events_are_append_only_update;
            UPDATE events SET time = CASE kind WHEN 'run.finished' THEN '2026-03-01T08:00:01.500Z' ELSE '2026-03-01T08:00:00.000Z' END;
            UPDATE runs SET started_at = '2026-03-01T08:00:00.000Z'
            """)

        // When it is rolled back later, the rollback's own events then saying it took 0.5 s, an
        // hour after the run
        #expect(try SluiceBinary.run(["rollback", run, "--reason", "late"], in: folder.url, environment: environment).status == 0)
        try SQLiteShell.run(Self.store(folder), """
            UPDATE events SET time = CASE kind WHEN 'run.finished' THEN '2026-03-01T09:00:00.500Z' ELSE '2026-03-01T09:00:00.000Z' END WHERE seq > \(applied)
            """)

        // Then `runs` says it took the runners' 2 s, not the hour and more between them
        let runs = try SluiceBinary.run(["runs"], in: folder.url, environment: environment)
        let row = try #require(runs.stdout.split(separator: "\n").first { $0.contains(run) })
        #expect(row.contains(" 2.0s "), "\(row)")
        #expect(!row.contains("1h"), "\(row)")
    }

    @Test func shownPathsAreNormalized() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("Runbooks"), withIntermediateDirectories: true)
        let runs = try SluiceBinary.run(["runs", "--store", "Runbooks/../.sluice/./audit.sqlite"], in: folder.url)
        #expect(runs.stderr.contains("no audit store at .sluice/audit.sqlite yet"), "\(runs.stderr)")
        try folder.write("Runbooks/x.yaml", "sluice: 1\nid: x\ninventory: ../missing.yaml\nsteps: [{ name: a, run: \"true\" }]\n")
        let validated = try SluiceBinary.run(["validate", "Runbooks/x.yaml"], in: folder.url)
        #expect(validated.stderr.contains("missing.yaml") && !validated.stderr.contains("Runbooks/.."), "\(validated.stderr)")
    }

    @Test func theLiveStatusLineSaysWhatTheRunIsDoingBeforeTheFirstStageAndDuringTheRollback() throws {
        // Given a run with a hold and a preflight check, whose second target fails, on a terminal
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: status-test
            targets: [{ name: web1 }, { name: web2 }]
            holds:
              - { name: batch, pause: "true", resume: "true" }
            preflight:
              - { name: disk, run: "true" }
            steps:
              - name: deploy
                run: "test {{ target.name }} != web2"
                rollback: "true"

            """)
        let shown = try TerminalSafetyTests.runOnTerminal(
            "\(SluiceBinary.executable.path) apply runbook.yaml --yes", in: folder, environment: OneDriverTests.environment(folder))

        // Then the status line named each phase, never an empty stage, and counted the undone
        let plain = shown.replacing(/\u{1B}\[[0-9;]*m/, with: "")
        #expect(plain.contains("preflight  done 0/2  failed 0"), "\(plain)")
        #expect(plain.contains("holds paused  done 0/2  failed 0"), "\(plain)")
        #expect(plain.contains("rolling back  undone 1  failed 1  running 1: web1 (undo deploy)"), "\(plain)")
        #expect(!plain.contains("stage   ") && !plain.contains("stage  done"), "\(plain)")
    }
}
