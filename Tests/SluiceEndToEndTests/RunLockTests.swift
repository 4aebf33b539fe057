import Foundation
import SluiceTesting
import Testing

/// A run's locks while it runs, and the processes a dead runner leaves: through the built binary.
@Suite("Locks that are lost stop the run", .ownThread)
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

@Suite("No leftover process beside the next driver", .ownThread)
struct LeftoverProcessTests {
    /// A run whose runner is killed (SIGKILL) by its step, which goes on running: the shell's pid
    /// is in `child.pid`. The rollback step says whether that process was still there.
    static func killedRunnerWithItsStepStillRunning() throws -> (TemporaryFolder, String, pid_t) {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: leftover-test
            targets: [{ name: web1 }]
            steps:
              - name: slow
                run: "[ -e child.pid ] && exit 0; echo $$ > child.pid; kill -9 $PPID; sleep 300"
                rollback: "sh group-alive.sh $(cat child.pid) && echo 'leftover alive' >> log || echo 'leftover gone' >> log"

            """)
        // Whether any process of group $1 is alive (a zombie is not: it waits only to be reaped).
        try folder.write("group-alive.sh", """
            for stat in /proc/[0-9]*/stat; do
              set -- "$1" $(cat "$stat" 2>/dev/null)
              [ "$6" = "$1" ] && [ "$4" != Z ] && exit 0
            done
            exit 1

            """)
        let applied = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: OneDriverTests.environment(folder))
        #expect(applied.crashed, "\(applied.stdout)\(applied.stderr)")
        let run = try #require(applied.stdout.firstMatch(of: /r-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}/).map { String($0.output) })
        let child = try #require(pid_t(LostLockTests.read(folder, "child.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(child, 0) == 0, "the step's process should outlive its runner")
        return (folder, run, child)
    }

    @Test(arguments: [["rollback", "--reason", "its runner died"], ["resume", "--yes"]])
    func theDeadRunnersStepIsTerminatedAndRecordedBeforeAnythingRunsAgain(command: [String]) throws {
        // Given a killed runner whose step's command is still running
        let (folder, run, child) = try Self.killedRunnerWithItsStepStillRunning()
        defer { killpg(child, SIGKILL) }

        // When the run is rolled back, or resumed (its step then runs again, at once)
        let next = try SluiceBinary.run([command[0], run] + command.dropFirst(), in: folder.url, environment: OneDriverTests.environment(folder))

        // Then the leftover was terminated first, said so, and recorded with its command
        #expect(kill(child, 0) != 0 || LeftoverProcessTests.isZombie(child), "pid \(child) is still running")
        #expect(next.stderr.contains("the run's previous runner left 2 processes running (pid \(child): /bin/sh -c [ -e child.pid ] && exit 0; echo $$ > child.pid; kill -9 $PPID; sleep 300; pid "), "\(next.stderr)")
        let recorded = try SQLiteShell.run(
            LostLockTests.store(folder), "SELECT status || ' ' || detail FROM events WHERE kind = 'process.terminated'")
        #expect(recorded.hasPrefix("terminated "), "\(recorded)")
        #expect(recorded.contains("\"pid\":\(child)"), "\(recorded)")
        // The step that left it says where it ran and which runner started it
        let started = try SQLiteShell.run(
            LostLockTests.store(folder), "SELECT json_extract(detail, '$.host') || ' ' || typeof(json_extract(detail, '$.runner_pid')) FROM events WHERE kind = 'step.started' LIMIT 1")
        let host = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(started == "\(host) integer", "\(started)")
        #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
        if command[0] == "rollback" { #expect(LostLockTests.log(folder) == ["leftover gone"]) }
    }

    @Test func unlockFreesTheLockOfARunnerThatIsGoneAtOnce() throws {
        // Given a runner killed a moment ago, its heartbeat still fresh
        let (folder, _, child) = try Self.killedRunnerWithItsStepStillRunning()
        defer { killpg(child, SIGKILL) }

        // When its target is unlocked at once
        let unlocked = try SluiceBinary.run(["unlock", "web1", "--reason", "runner killed"], in: folder.url, environment: OneDriverTests.environment(folder))

        // Then the lock is freed, without waiting for the heartbeat to expire
        #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
        #expect(try SQLiteShell.run(LostLockTests.store(folder), "SELECT count(*) FROM locks") == "0")
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }
}
