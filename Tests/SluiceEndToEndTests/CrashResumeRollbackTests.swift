import Foundation
import SluiceTesting
import Testing

/// A multi-stage change whose runner is killed with SIGKILL at many moments, then resumed or
/// rolled back from its journal alone; signals; rollback of a past run.
@Suite("Crashes, resume, rollback and signals, run as a program", .ownThread)
struct CrashResumeRollbackTests {
    static let targets = ["web1", "web2", "web3", "web4", "web5"]

    /// Five targets in three stages (one, then two at a time, then one at a time). Every command
    /// is `step.sh`, run directly (argv), so that its parent is the runner: it logs what it does
    /// and, at the invocation numbered in `crash-at`, kills the runner with SIGKILL, before or
    /// after logging (odd numbers before, even after); or, named in `crash-on` (`reload web4`), at
    /// that action, before logging it. The action named in `fail-on` fails once, after logging,
    /// and arms a crash at its target's next reload (its rollback's). `flock` is util-linux's, in
    /// every Debian.
    static func world() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for target in targets { try folder.write("\(target)/app.conf", "version = 1\n") }
        try folder.write("step.sh", """
            #!/bin/sh
            # Two targets run at once in the middle stage: number the invocations under a lock.
            n=$(flock counter.lock sh -c 'n=$(( $(cat counter 2>/dev/null || echo 0) + 1 )); echo $n > counter; echo $n')
            crash() { if [ -e crash-at ] && [ "$n" = "$(cat crash-at)" ]; then rm crash-at; kill -9 $PPID; sleep 2; fi; }
            [ $((n % 2)) = 1 ] && crash
            if [ -e crash-on ] && [ "$1 $2" = "$(cat crash-on)" ]; then rm crash-on; kill -9 $PPID; sleep 2; fi
            echo "$1 $2" >> log
            crash
            if [ -e fail-on ] && [ "$1 $2" = "$(cat fail-on)" ]; then rm fail-on; echo "reload $2" > crash-on; exit 1; fi
            [ "$1" != check ] || test -s "$2/app.conf"

            """, executable: true)
        try folder.write("runbook.yaml", """
            sluice: 1
            id: crash-test
            targets: [\(targets.map { "{ name: \($0) }" }.joined(separator: ", "))]
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: middle, count: 2, parallel: 2 }
                - { name: rest }
            holds:
              - { name: batch, pause: [./step.sh, pause, all], resume: "echo 'resume all' >> log" }
            steps:
              - name: config
                file: { path: "{{ target.name }}/app.conf", content: "version = 2\\n", reload: [./step.sh, reload, "{{ target.name }}"] }
              - name: deploy
                run: [./step.sh, deploy, "{{ target.name }}"]
                rollback: "echo 'undeploy {{ target.name }}' >> log"
              - name: migrate
                run: [./step.sh, migrate, "{{ target.name }}"]
                rollback: "echo 'unmigrate {{ target.name }}' >> log"
              - name: healthy
                health: { command: [./step.sh, check, "{{ target.name }}"], attempts: 2, interval: 10ms }

            """)
        return folder
    }

    static func sluice(_ arguments: [String], in folder: TemporaryFolder) throws -> SluiceBinary.Result {
        try SluiceBinary.run(arguments, in: folder.url, environment: [
            "SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "SLUICE_USER": "alice",
        ])
    }

    static func read(_ folder: TemporaryFolder, _ name: String) -> String {
        (try? String(contentsOf: folder.url.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    static func lines(_ folder: TemporaryFolder) -> [String] {
        read(folder, "log").split(separator: "\n").map(String.init)
    }

    static func onlyRunID(_ folder: TemporaryFolder) throws -> String {
        let runs = try sluice(["runs", "--json"], in: folder)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        return try #require(list.first?["id"] as? String)
    }

    /// Targets that started a step, from the run's events.
    static func touchedTargets(_ folder: TemporaryFolder, run: String) throws -> Set<String> {
        let show = try sluice(["show", run, "--json"], in: folder)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let events = try #require(document["events"] as? [[String: Any]])
        return Set(events.filter { $0["kind"] as? String == "step.started" }.compactMap { $0["target"] as? String })
    }

    static func copy(_ from: URL, to: URL) throws {
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: from, to: to)
    }

    /// The crash moments: every command invocation of a clean run (21: the hold's pause, then
    /// per target its reload, deploy, migrate and health check), killed before or after it logs.
    static let moments = Array(1...21)

    @Test(arguments: moments)
    func killedAtAnyMomentResumeFinishesAndRollbackRestores(at moment: Int) throws {
        let folder = try Self.world()
        try folder.write("crash-at", "\(moment)\n")
        let killed = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        #expect(killed.crashed && killed.status == SIGKILL, "moment \(moment): \(killed.stdout)\(killed.stderr)")
        let run = try Self.onlyRunID(folder)
        let runs = try Self.sluice(["runs"], in: folder)
        #expect(runs.stdout.contains("interrupted"), "\(runs.stdout)")

        // Keep the crashed state: the rollback below starts from it again, in the same place
        // (the journal holds absolute paths, as a real run's does).
        let crashed = folder.url.appendingPathExtension("crashed")
        try Self.copy(folder.url, to: crashed)
        defer { try? FileManager.default.removeItem(at: crashed) }
        let before = Self.lines(folder)

        // Resume: every target fully applied, each finished step run once, an in-doubt one again.
        let resumed = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(resumed.status == 0, "moment \(moment): \(resumed.stdout)\(resumed.stderr)")
        for target in Self.targets {
            #expect(Self.read(folder, "\(target)/app.conf") == "version = 2\n", "moment \(moment): \(target)")
        }
        let inDoubt = resumed.stdout.split(separator: "\n").first.map(String.init) ?? ""
        let log = Self.lines(folder)
        for target in Self.targets {
            for action in ["deploy", "migrate"] {
                let count = log.filter { $0 == "\(action) \(target)" }.count
                let step = action == "deploy" ? "deploy" : "migrate"
                let mayRepeat = inDoubt.contains("\(target) / \(step)")
                #expect(count == 1 || (mayRepeat && count == 2), "moment \(moment): `\(action) \(target)` ran \(count) times; \(inDoubt)")
            }
        }
        #expect(log.last == "resume all", "moment \(moment): holds are resumed last")
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)

        // Rollback, from the same crashed state: touched targets restored, untouched ones left alone.
        try Self.copy(crashed, to: folder.url)
        let touched = try Self.touchedTargets(folder, run: run)
        let rolledBack = try Self.sluice(["rollback", run, "--reason", "crash test"], in: folder)
        #expect(rolledBack.status == 0, "moment \(moment): \(rolledBack.stdout)\(rolledBack.stderr)")
        let undo = Array(Self.lines(folder).dropFirst(before.count))
        for target in Self.targets {
            #expect(Self.read(folder, "\(target)/app.conf") == "version = 1\n", "moment \(moment): \(target) restored")
            if !touched.contains(target) {
                #expect(!undo.contains { $0.hasSuffix(" \(target)") }, "moment \(moment): untouched \(target) was touched by the rollback: \(undo)")
            }
            if before.contains("deploy \(target)") {
                #expect(undo.contains("undeploy \(target)"), "moment \(moment): \(target) deployed but not undeployed: \(undo)")
            }
        }
        #expect(undo.first == "pause all" && undo.last == "resume all", "moment \(moment): holds around the rollback: \(undo)")
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)
    }

    @Test func aRollbackKilledPartWayIsFinishedByTheNextWithoutUndoingAnythingTwice() throws {
        let folder = try Self.world()
        let applied = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let run = try Self.onlyRunID(folder)
        let appliedLines = Self.lines(folder).count
        // A finished run is not resumed.
        let notResumed = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(notResumed.status == 4 && notResumed.stderr.contains("finished (succeeded); only an interrupted or halted run can be resumed"), "\(notResumed.stderr)")

        // The rollback is killed as web4's restored config is reloaded: web5 is undone, and web4
        // is half undone (migrate and deploy, not yet its config's reload and its recovery).
        try folder.write("crash-on", "reload web4\n")
        let killed = try Self.sluice(["rollback", run, "--reason", "first try"], in: folder)
        #expect(killed.crashed && killed.status == SIGKILL, "\(killed.stdout)\(killed.stderr)")
        let before = Self.lines(folder)
        let firstTry = before.dropFirst(appliedLines)
        #expect(firstTry.contains("undeploy web4") && !firstTry.contains("reload web4"), "\(firstTry)")
        // Resuming would redo what the rollback was undoing: refused, pointing to rollback.
        let resumed = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(resumed.status == 4 && resumed.stderr.contains("was rolling back when it stopped") && resumed.stderr.contains("sluice rollback \(run)"), "\(resumed.stderr)")
        #expect(Self.lines(folder) == before, "the refused resume ran something")

        // The next rollback finishes web4 and undoes the rest; nothing is undone twice.
        let finished = try Self.sluice(["rollback", run, "--reason", "second try"], in: folder)
        #expect(finished.status == 0, "\(finished.stdout)\(finished.stderr)")
        let after = Array(Self.lines(folder).dropFirst(before.count))
        #expect(after.contains("reload web4") && after.contains("check web4"), "web4's rollback was not finished: \(after)")
        #expect(!after.contains("undeploy web4") && !after.contains("unmigrate web4"), "web4 undone twice: \(after)")
        #expect(!after.contains { $0.hasSuffix(" web5") }, "web5 was already rolled back: \(after)")
        let log = Self.lines(folder)
        for target in Self.targets {
            #expect(Self.read(folder, "\(target)/app.conf") == "version = 1\n", "\(target) restored")
            #expect(log.filter { $0 == "undeploy \(target)" }.count == 1, "\(target): \(log)")
        }
        #expect(after.last == "resume all")
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)
    }

    @Test func aFailedTargetWhoseRollbackWasCutShortIsFinishedByResumeOrByRollback() throws {
        // web2's migrate fails, a failure its stage tolerates (so no rollback of the run begins);
        // the runner is killed while undoing web2 (at its config's reload).
        let folder = try Self.world()
        try folder.write("runbook.yaml", Self.read(folder, "runbook.yaml").replacingOccurrences(
            of: "{ name: middle, count: 2, parallel: 2 }", with: "{ name: middle, count: 2, parallel: 2, max_failures: 1 }"))
        try folder.write("fail-on", "migrate web2\n")
        let killed = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        #expect(killed.crashed && killed.status == SIGKILL, "\(killed.stdout)\(killed.stderr)")
        let run = try Self.onlyRunID(folder)
        let crashed = folder.url.appendingPathExtension("crashed")
        try Self.copy(folder.url, to: crashed)
        defer { try? FileManager.default.removeItem(at: crashed) }
        let before = Self.lines(folder)
        #expect(before.contains("undeploy web2") && !before.contains("reload web4"), "\(before)")

        // Resume first finishes web2's rollback (its reload, then its recovery; nothing undone
        // twice, nothing of web2 run again), then goes on: the run completes with web2's failure.
        let resumed = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(resumed.status == 1, "\(resumed.stdout)\(resumed.stderr)")
        #expect(resumed.stdout.contains("first finishing the rollback of web2, which failed"), "\(resumed.stdout)")
        let resuming = Array(Self.lines(folder).dropFirst(before.count))
        let web2Reloaded = try #require(resuming.firstIndex(of: "reload web2"), "\(resuming)")
        let web4Started = try #require(resuming.firstIndex(of: "reload web4"), "\(resuming)")
        #expect(web2Reloaded < web4Started && resuming.contains("check web2"), "\(resuming)")
        for undone in ["undeploy web2", "unmigrate web2", "deploy web2", "migrate web2"] {
            #expect(!resuming.contains(undone), "`\(undone)` again: \(resuming)")
        }
        #expect(Self.read(folder, "web2/app.conf") == "version = 1\n")
        for target in Self.targets where target != "web2" {
            #expect(Self.read(folder, "\(target)/app.conf") == "version = 2\n", "\(target) applied")
        }
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)

        // Rollback from the same crashed state finishes web2 too, and undoes the others.
        try Self.copy(crashed, to: folder.url)
        let rolledBack = try Self.sluice(["rollback", run, "--reason", "web2 failed"], in: folder)
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        let undoing = Array(Self.lines(folder).dropFirst(before.count))
        #expect(undoing.contains("reload web2") && undoing.contains("check web2"), "\(undoing)")
        #expect(!undoing.contains("undeploy web2") && !undoing.contains("unmigrate web2"), "web2 undone twice: \(undoing)")
        for target in Self.targets {
            #expect(Self.read(folder, "\(target)/app.conf") == "version = 1\n", "\(target) restored")
        }
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)
    }

    @Test func anInterruptedRunsTargetsAreRefusedToANewApplyWithTheThreeWaysOut() throws {
        let folder = try Self.world()
        try folder.write("crash-at", "6\n")
        _ = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        let run = try Self.onlyRunID(folder)
        let again = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        #expect(again.status == 4)
        for wayOut in ["sluice resume RUN", "sluice rollback RUN", "sluice unlock TARGET --reason TEXT", run] {
            #expect(again.stderr.contains(wayOut), "\(again.stderr)")
        }
    }

    @Test func aSucceededRunIsRolledBackAfterItsRunbookWasDeletedAndOnlyOnce() throws {
        let folder = try Self.world()
        #expect(try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder).status == 0)
        let run = try Self.onlyRunID(folder)
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("runbook.yaml"))
        let before = Self.lines(folder).count

        let rolledBack = try Self.sluice(["rollback", run, "--reason", "wrong on Tuesday"], in: folder)
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        for target in Self.targets { #expect(Self.read(folder, "\(target)/app.conf") == "version = 1\n") }
        let undo = Array(Self.lines(folder).dropFirst(before))
        // Last stage first, each target's steps in reverse; the file restore is followed by its reload.
        let order = undo.filter { $0.hasPrefix("un") || $0.hasPrefix("reload") }
        #expect(order.prefix(3) == ["unmigrate web5", "undeploy web5", "reload web5"], "\(undo)")
        #expect(order.suffix(3) == ["unmigrate web1", "undeploy web1", "reload web1"], "\(undo)")
        #expect(undo.first == "pause all" && undo.last == "resume all")

        let again = try Self.sluice(["rollback", run], in: folder)
        #expect(again.status == 4)
        #expect(again.stderr.contains("already rolled back"), "\(again.stderr)")
        let export = try Self.sluice(["audit", "export", "--run", run], in: folder)
        #expect(export.stdout.contains("\"kind\":\"rollback.requested\"") && export.stdout.contains("wrong on Tuesday"))
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)
    }

    @Test func resumeRefusesAChangedRunbookNamingTheFileUnlessChangesAreAccepted() throws {
        let folder = try Self.world()
        try folder.write("crash-at", "8\n")
        _ = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        let run = try Self.onlyRunID(folder)
        try folder.write("step.sh", Self.read(folder, "step.sh") + "# changed\n", executable: true)

        let refused = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("step.sh"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--accept-changes --reason TEXT"))

        let accepted = try Self.sluice(["resume", run, "--yes", "--accept-changes", "--reason", "fixed the script"], in: folder)
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
        for target in Self.targets { #expect(Self.read(folder, "\(target)/app.conf") == "version = 2\n") }
        let finished = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(finished.status == 4)
        #expect(finished.stderr.contains("finished (succeeded)"), "\(finished.stderr)")
    }

    // MARK: Signals

    /// One target doing a slow step (it writes `started`, waits until the test creates `go`,
    /// then writes `done`), then a second stage. The step waits for the test, not for a guess
    /// at how long a signal takes to arrive: at most 60 s, then it fails.
    static func slowWorld() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for target in ["web1", "web2"] { try folder.write("\(target)/app.conf", "version = 1\n") }
        try folder.write("runbook.yaml", """
            sluice: 1
            id: signal-test
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: rest }
            holds:
              - { name: batch, pause: "echo pause >> log", resume: "echo resume >> log" }
            steps:
              - name: config
                file: { path: "{{ target.name }}/app.conf", content: "version = 2\\n" }
              - name: slow
                run: "echo started {{ target.name }} >> log; i=0; until [ -e go ]; do i=$((i+1)); [ $i -lt 1200 ] || exit 1; sleep 0.05; done; echo done {{ target.name }} >> log"
                rollback: "echo undo {{ target.name }} >> log"

            """)
        return folder
    }

    /// Starts `sluice apply`, sends `signals` times `signal` once the log holds `marker` (the
    /// slow step started), and waits. With `release`, once the runner's standard error says it
    /// (it handled the signals), creates `go` in the folder: a step waiting for it goes on.
    static func applyInterrupted(
        _ folder: TemporaryFolder, signals: Int, signal: Int32 = SIGINT, after marker: String = "started web1",
        releaseOnceStderrSays release: String? = nil
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = SluiceBinary.executable
        process.arguments = ["apply", "runbook.yaml", "--yes"]
        process.currentDirectoryURL = folder.url
        process.environment = ProcessInfo.processInfo.environment.merging([
            "SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "SLUICE_USER": "alice",
        ]) { $1 }
        let output = folder.url.appendingPathComponent("apply.out"), errors = folder.url.appendingPathComponent("apply.err")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<1000 where !read(folder, "log").contains(marker) { usleep(10_000) }
        for _ in 0..<signals {
            kill(process.processIdentifier, signal)
            usleep(200_000)
        }
        if let release {
            for _ in 0..<3000 where process.isRunning && !read(folder, "apply.err").contains(release) { usleep(10_000) }
            FileManager.default.createFile(atPath: folder.url.appendingPathComponent("go").path, contents: nil)
        }
        process.waitUntilExit()
        return (process.terminationStatus, read(folder, "apply.out"), read(folder, "apply.err"))
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func oneCtrlCOrSIGTERMLetsTheRunningStepFinishStartsNothingElseAndRollsBack(signal: Int32) throws {
        let folder = try Self.slowWorld()
        let result = try Self.applyInterrupted(folder, signals: 1, signal: signal, releaseOnceStderrSays: "stopping: no new step starts")
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("stopping: no new step starts"))
        #expect(Self.lines(folder) == ["pause", "started web1", "done web1", "undo web1", "resume"])
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "web2/app.conf") == "version = 1\n")
        #expect(result.stdout.contains("rolled_back"))
    }

    @Test func twoCtrlCsTerminateTheRunningCommandThenRollBackAndResumeHolds() throws {
        let folder = try Self.slowWorld()
        let result = try Self.applyInterrupted(folder, signals: 2)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("terminating the running commands"))
        // The slow command was killed before it could finish; its target is undone anyway.
        #expect(Self.lines(folder) == ["pause", "started web1", "undo web1", "resume"])
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "web2/app.conf") == "version = 1\n")
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)
    }

    @Test func aHaltedRunIsResumedOrRolledBackFromItsJournal() throws {
        // web3's migrate fails in the middle stage; with on_failure: halt the run keeps its state.
        let folder = try Self.world()
        try folder.write("runbook.yaml", Self.read(folder, "runbook.yaml").replacingOccurrences(
            of: "rollout:\n", with: "rollout:\n  on_failure: halt\n"))
        try folder.write("fail-web3", "")
        try folder.write("step.sh", Self.read(folder, "step.sh").replacingOccurrences(
            of: "[ \"$1\" != check ]", with: "[ \"$1 $2\" != \"migrate web3\" ] || [ ! -e fail-web3 ] || exit 1\n[ \"$1\" != check ]"),
            executable: true)
        let halted = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        #expect(halted.status == 1, "\(halted.stdout)\(halted.stderr)")
        #expect(halted.stdout.contains("halted"))
        let run = try Self.onlyRunID(folder)
        let crashed = folder.url.appendingPathExtension("halted")
        try Self.copy(folder.url, to: crashed)
        defer { try? FileManager.default.removeItem(at: crashed) }

        // Resumed after the cause is fixed: web3 was rolled back when it failed and stays so
        // (the threshold still counts it), so the run stops again and keeps its state.
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("fail-web3"))
        let resumed = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(resumed.status == 1, "\(resumed.stdout)\(resumed.stderr)")
        #expect(resumed.stdout.contains("halted"), "\(resumed.stdout)")

        // Rolled back instead, from the halted state: every target is as before.
        try Self.copy(crashed, to: folder.url)
        let rolledBack = try Self.sluice(["rollback", run], in: folder)
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        for target in Self.targets { #expect(Self.read(folder, "\(target)/app.conf") == "version = 1\n") }
        #expect(try Self.sluice(["audit", "verify"], in: folder).status == 0)
    }

    // MARK: Refusals

    @Test func resumeAppliesTheApprovalGateToAcceptedChanges() throws {
        let folder = try Self.world()
        try folder.write("runbook.yaml", Self.read(folder, "runbook.yaml").replacingOccurrences(
            of: "rollout:\n", with: "approval: { required: true }\nrollout:\n"))
        #expect(try Self.sluice(["approve", "runbook.yaml", "--by", "bob"], in: folder).status == 0)
        try folder.write("crash-at", "8\n")
        _ = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        let run = try Self.onlyRunID(folder)
        try folder.write("step.sh", Self.read(folder, "step.sh") + "# changed\n", executable: true)

        let refused = try Self.sluice(["resume", run, "--yes", "--accept-changes", "--reason", "fixed the script"], in: folder)
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("approval is required") && refused.stderr.contains("step.sh"), "\(refused.stderr)")
        #expect(try Self.sluice(["approve", "runbook.yaml", "--by", "bob"], in: folder).status == 0)
        let resumed = try Self.sluice(["resume", run, "--yes", "--accept-changes", "--reason", "fixed the script"], in: folder)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    }

    @Test func resumeWithoutTheRunbookIsRefusedPointingToRollback() throws {
        let folder = try Self.world()
        try folder.write("crash-at", "8\n")
        _ = try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder)
        let run = try Self.onlyRunID(folder)
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("runbook.yaml"))
        let refused = try Self.sluice(["resume", run, "--yes"], in: folder)
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("is gone") && refused.stderr.contains("sluice rollback \(run)"), "\(refused.stderr)")
    }

    @Test func aJournalChangedInTheStoreIsRefusedAndNothingIsUndone() throws {
        let folder = try Self.world()
        #expect(try Self.sluice(["apply", "runbook.yaml", "--yes"], in: folder).status == 0)
        let run = try Self.onlyRunID(folder)
        // Someone rewrites a rollback command in the journal's row (the row is mutable; the chain is not).
        let store = folder.url.appendingPathComponent("store/audit.sqlite").path
        let edit = Process()
        edit.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        edit.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("UPDATE saved_plans SET plan_json = replace(plan_json, 'undeploy', 'rm -rf') WHERE id = ?", ("journal-" + sys.argv[2],))
            db.commit()
            """, store, run]
        try edit.run()
        edit.waitUntilExit()
        try #require(edit.terminationStatus == 0)
        let before = Self.lines(folder)

        let refused = try Self.sluice(["rollback", run], in: folder)
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("was changed after it was recorded"), "\(refused.stderr)")
        #expect(Self.lines(folder) == before)
        #expect(Self.read(folder, "web1/app.conf") == "version = 2\n")
    }

    @Test func aDryRunIsNotRolledBack() throws {
        let folder = try Self.world()
        let plan = try Self.sluice(["plan", "runbook.yaml"], in: folder)
        #expect(plan.status == 0, "\(plan.stderr)")
        let refused = try Self.sluice(["rollback", try Self.onlyRunID(folder)], in: folder)
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("was a dry run"), "\(refused.stderr)")
    }
}
