import Foundation
import Testing

/// A run's locks while it runs, and the processes a dead runner leaves: through the built binary.
@Suite("Locks that are lost stop the run")
struct LostLockTests {
    static func store(_ folder: TemporaryFolder) -> String { folder.url.appendingPathComponent("store/audit.sqlite").path }

    static func log(_ folder: TemporaryFolder) -> [String] {
        ((try? String(contentsOf: folder.url.appendingPathComponent("log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    static func read(_ folder: TemporaryFolder, _ name: String) -> String {
        (try? String(contentsOf: folder.url.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    /// Waits up to `seconds` for `condition`; returns whether it came true.
    static func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    @Test func aLockRemovedFromTheStoreHaltsTheRunWithNoFurtherStepOnItsTarget() throws {
        // Given a run whose first step waits for a file, with a second step and a second target
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: lost-lock-test
            targets: [{ name: web1 }, { name: web2 }]
            holds:
              - { name: batch, pause: "echo pause >> log", resume: "echo resume >> log" }
            steps:
              - name: first
                run: "echo started {{ target.name }} >> log; while [ ! -e release ]; do sleep 0.1; done"
                rollback: "echo undo {{ target.name }} >> log"
              - name: second
                run: "echo second {{ target.name }} >> log"

            """)
        let runner = try OneDriverTests.start(["apply", "runbook.yaml", "--yes"], in: folder, name: "apply", output: "apply.out")
        #expect(Self.eventually(within: 20) { Self.log(folder).contains("started web1") })

        // When web1's lock is removed from the store under it, and the heartbeat comes round
        try SQLiteShell.run(Self.store(folder), "DELETE FROM locks WHERE target = 'web1'")
        let noticed = try Self.eventually(within: 30) {
            try SQLiteShell.run(Self.store(folder), "SELECT count(*) FROM events WHERE kind = 'lock.lost'") == "1"
        }
        try folder.write("release", "")
        runner.waitUntilExit()

        // Then the step that ran finished, but nothing else started on web1 (nor was it undone),
        // nothing started on web2, holds were resumed, and the run halted saying which lock was
        // lost and why
        #expect(noticed, "no lock.lost was recorded")
        #expect(runner.terminationStatus == 1)
        #expect(Self.log(folder) == ["pause", "started web1", "resume"])
        let (stdout, stderr) = (Self.read(folder, "apply.out"), Self.read(folder, "apply.err"))
        #expect(stderr.contains("lock lost on web1: it is gone from the store"), "\(stderr)")
        #expect(stdout.contains("halted"), "\(stdout)")
        #expect(stdout.contains("Halted: the run lost its lock on web1"), "\(stdout)")
        let started = try SQLiteShell.run(Self.store(folder), "SELECT count(*) FROM events WHERE kind = 'step.started' AND step = 'second'")
        #expect(started == "0")
        #expect(try SluiceBinary.run(["audit", "verify"], in: folder.url, environment: OneDriverTests.environment(folder)).status == 0)
    }
}
