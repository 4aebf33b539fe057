import Foundation
import SluiceTesting
import Testing

/// The `file` step's promise, through the built binary: undo exactly what was done (content,
/// owner, group, mode), change only what must change, never act through a path that can be
/// swapped, validate in plan where apply validates.
@Suite("File steps: exact, minimal and race-free", .ownThread)
struct FileStepTests {
    /// One target whose `svc/app.conf` holds `version = 1`; the step writes `version = 2`,
    /// `reload` counts itself in `reloads`, and when `healthy` is false the health gate fails
    /// on version 2 (and passes again once the old file is back).
    static func world(validate: String? = nil, healthy: Bool = true, current: String = "version = 1\n", follow: Bool = false) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try folder.write("svc/app.conf", current)
        let validateLine = validate.map { "\n      validate: \"\($0)\"" } ?? ""
        try folder.write("runbook.yaml", """
            sluice: 1
            id: file-step-test
            targets: [{ name: svc }]
            rollout:
              stages: [{ name: all }]
            steps:
              - name: config
                file:
                  path: "{{ runbook.dir }}/svc/app.conf"
                  content: "version = 2\\n"\(validateLine)
                  reload: "echo reload >> reloads"\(follow ? "\n      follow: true" : "")
              - name: healthy
                health: { command: "\(healthy ? "true" : "grep -q 'version = 1' svc/app.conf")", attempts: 1 }

            """)
        return folder
    }

    static func sluice(_ folder: TemporaryFolder, _ arguments: [String]) throws -> SluiceBinary.Result {
        try SluiceBinary.run(arguments, in: folder.url, environment: [
            "SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "SLUICE_USER": "alice",
        ])
    }

    static func status(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    static func runID(in text: String) -> String? {
        text.firstMatch(of: /r-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}/).map { String($0.output) }
    }

    static let nobody: (uid: uid_t, gid: gid_t) = (65534, 65534)

    @Test(.enabled(if: getuid() == 0, "needs root to give the file to nobody"))
    func ownerGroupAndModeSurviveTheRollbackOfAFailedApply() throws {
        // Given app.conf owned nobody:nogroup 0640, and a change whose health gate fails
        let folder = try Self.world(healthy: false)
        let path = folder.url.appendingPathComponent("svc/app.conf").path
        chown(path, Self.nobody.uid, Self.nobody.gid)
        chmod(path, 0o640)

        // When it is applied (and so rolled back)
        let result = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])

        // Then the file is back as it was, owner and group and mode included, and reloaded once
        // after the write and once after the restore
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let status = try #require(Self.status(path))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "version = 1\n")
        #expect(status.st_uid == Self.nobody.uid && status.st_gid == Self.nobody.gid, "owned \(status.st_uid):\(status.st_gid)")
        #expect(status.st_mode & 0o7777 == 0o640)
        #expect(try String(contentsOf: folder.url.appendingPathComponent("reloads"), encoding: .utf8) == "reload\nreload\n")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the file to nobody"))
    func ownerGroupAndModeAreKeptByTheWriteAndBySluiceRollback() throws {
        // Given app.conf owned nobody:nogroup 0640 and a change that succeeds
        let folder = try Self.world()
        let path = folder.url.appendingPathComponent("svc/app.conf").path
        chown(path, Self.nobody.uid, Self.nobody.gid)
        chmod(path, 0o640)
        let applied = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        var status = try #require(Self.status(path))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "version = 2\n")
        #expect(status.st_uid == Self.nobody.uid && status.st_gid == Self.nobody.gid && status.st_mode & 0o7777 == 0o640)

        // When the run is rolled back later, from the store's backup
        let run = try #require(Self.runID(in: applied.stdout + applied.stderr))
        let rolledBack = try Self.sluice(folder, ["rollback", run, "--reason", "test"])

        // Then the old bytes are back with their owner, group and mode
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        status = try #require(Self.status(path))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "version = 1\n")
        #expect(status.st_uid == Self.nobody.uid && status.st_gid == Self.nobody.gid, "owned \(status.st_uid):\(status.st_gid)")
        #expect(status.st_mode & 0o7777 == 0o640)
    }

    @Test func aChangeThatValidateRefusesTouchesNothingAndReloadsNothing() throws {
        // Given a validate that refuses version 2
        let folder = try Self.world(validate: "! grep -q 'version = 2' {{ file }}")
        let path = folder.url.appendingPathComponent("svc/app.conf").path
        let before = try #require(Self.status(path))

        // When it is applied
        let result = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])

        // Then the run fails and is rolled back, but the file is the same inode, never
        // rewritten, and reload never ran (not for the write, not for the rollback)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let after = try #require(Self.status(path))
        #expect(after.st_ino == before.st_ino)
        #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("reloads").path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.appendingPathComponent("svc").path) == ["app.conf"])
    }

    @Test func aFileThatAlreadyHoldsTheContentIsNotWrittenOrReloaded() throws {
        // Given app.conf already at version 2
        let folder = try Self.world(current: "version = 2\n")
        let path = folder.url.appendingPathComponent("svc/app.conf").path
        let before = try #require(Self.status(path))

        // When it is planned and applied
        let plan = try Self.sluice(folder, ["plan", "runbook.yaml"])
        let result = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])

        // Then plan and apply say unchanged; nothing is written and reload does not run
        #expect(plan.stdout.contains("(unchanged: apply writes nothing and does not reload)"), "\(plan.stdout)")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("unchanged"), "\(result.stdout)")
        let after = try #require(Self.status(path))
        #expect(after.st_ino == before.st_ino && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("reloads").path))
    }

    @Test func planValidatesInAPrivateFileBesideTheRealOneAndRemovesIt() throws {
        // Given a validate that records where `{{ file }}` is, its mode, and what it holds
        let folder = try Self.world(validate: "stat -c '%a' {{ file }} > {{ runbook.dir }}/mode; dirname {{ file }} > {{ runbook.dir }}/where; cat {{ file }} > {{ runbook.dir }}/seen")
        let svc = folder.url.appendingPathComponent("svc").path

        // When it is planned
        let plan = try Self.sluice(folder, ["plan", "runbook.yaml"])

        // Then validate saw the new content in a 0600 file in the real file's folder, which holds
        // nothing else afterwards, and the real file was not changed
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        let read = { (name: String) in try String(contentsOf: folder.url.appendingPathComponent(name), encoding: .utf8) }
        #expect(try read("where") == svc + "\n")
        #expect(try read("mode") == "600\n")
        #expect(try read("seen") == "version = 2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: svc) == ["app.conf"])
        #expect(try read("svc/app.conf") == "version = 1\n")
    }

    @Test func aSymbolicLinkIsRefusedInPlanAndApplyUnlessTheStepFollowsIt() throws {
        // Given svc/app.conf is a link to real/app.conf
        let folder = try Self.world()
        let link = folder.url.appendingPathComponent("svc/app.conf").path
        try folder.write("real/app.conf", "version = 1\n")
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "../real/app.conf")

        // When plan and apply run without `follow`
        let plan = try Self.sluice(folder, ["plan", "runbook.yaml"])
        let apply = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])

        // Then both refuse, naming the link and its target, and the link is still a link
        #expect(plan.status == 1)
        #expect(plan.stdout.contains("is a symbolic link to ../real/app.conf"), "\(plan.stdout)")
        #expect(apply.status == 1, "\(apply.stdout)\(apply.stderr)")
        #expect((apply.stdout + apply.stderr).contains("is a symbolic link to ../real/app.conf"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "../real/app.conf")
        #expect(try String(contentsOf: folder.url.appendingPathComponent("real/app.conf"), encoding: .utf8) == "version = 1\n")

        // And with `follow: true` the file it points to changes and the link stays
        let following = try Self.world(follow: true)
        let followedLink = following.url.appendingPathComponent("svc/app.conf").path
        try following.write("real/app.conf", "version = 1\n")
        try FileManager.default.removeItem(atPath: followedLink)
        try FileManager.default.createSymbolicLink(atPath: followedLink, withDestinationPath: "../real/app.conf")
        let followed = try Self.sluice(following, ["apply", "runbook.yaml", "--yes"])
        #expect(followed.status == 0, "\(followed.stdout)\(followed.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: followedLink) == "../real/app.conf")
        #expect(try String(contentsOf: following.url.appendingPathComponent("real/app.conf"), encoding: .utf8) == "version = 2\n")
    }

    @Test func aDirectoryAtThePathIsRefusedByPlan() throws {
        let folder = try Self.world()
        let path = folder.url.appendingPathComponent("svc/app.conf").path
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let plan = try Self.sluice(folder, ["plan", "runbook.yaml"])
        #expect(plan.status == 1)
        #expect(plan.stdout.contains("is a directory, not a regular file"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("new file"))
    }

    @Test func aBackupEditedInTheStoreIsNeverRestored() throws {
        // Given an applied change, whose backup someone then edits in the store
        let folder = try Self.world()
        let applied = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let run = try #require(Self.runID(in: applied.stdout + applied.stderr))
        let tamper = Process()
        tamper.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        tamper.arguments = [folder.url.appendingPathComponent("store/audit.sqlite").path,
                            "UPDATE file_backups SET content = CAST('owned = yes\n' AS BLOB), mode = 4095"]
        try tamper.run()
        tamper.waitUntilExit()
        #expect(tamper.terminationStatus == 0)

        // When it is rolled back, and the store verified
        let rollback = try Self.sluice(folder, ["rollback", run, "--reason", "test"])
        let verify = try Self.sluice(folder, ["audit", "verify"])

        // Then the rollback is refused before anything changed, and verify names the backup
        #expect(rollback.status == 4, "\(rollback.stdout)\(rollback.stderr)")
        #expect(rollback.stderr.contains("cannot be trusted"), "\(rollback.stderr)")
        #expect(try String(contentsOf: folder.url.appendingPathComponent("svc/app.conf"), encoding: .utf8) == "version = 2\n")
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("no longer matches"), "\(verify.stdout)")
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv to race as nobody"))
    func aRacerWhoOwnsTheFolderCannotRedirectTheWrite() throws {
        // Given a folder owned by nobody, a root-owned victim elsewhere, and a racer running as
        // nobody that keeps renaming a link to the victim over Sluice's temporary names while
        // validate runs (it waits until the racer has swapped its file, at most 30 s)
        let folder = try Self.world(validate: "i=0; until [ -L {{ file }} ]; do i=$((i+1)); [ $i -lt 600 ] || break; sleep 0.05; done")
        let svc = folder.url.appendingPathComponent("svc").path
        let path = svc + "/app.conf"
        chown(svc, Self.nobody.uid, Self.nobody.gid)
        chown(path, Self.nobody.uid, Self.nobody.gid)
        chmod(path, 0o644)
        let victim = try folder.write("victim/shadow", "root only\n")
        chmod(victim, 0o600)
        let racer = Process()
        racer.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        let stop = folder.url.appendingPathComponent("stop-racing").path
        // It stops when told (the stop file) or after 30 s, whichever comes first.
        racer.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", """
            cd "$1" || exit 1
            end=$(( $(date +%s) + 30 ))
            while [ ! -e "$3" ] && [ "$(date +%s)" -lt "$end" ]; do
                for f in .app.conf.sluice-*; do
                    [ -e "$f" ] || [ -L "$f" ] || continue
                    [ -L "$f" ] && continue
                    ln -sf "$2" .planted && mv -f .planted "$f" && echo swapped "$f"
                done
            done
            """, "racer", svc, victim, stop]
        let racerOutput = Pipe()
        racer.standardOutput = racerOutput
        try racer.run()
        defer { FileManager.default.createFile(atPath: stop, contents: nil); racer.waitUntilExit() }

        // When root applies the change there
        let result = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])
        FileManager.default.createFile(atPath: stop, contents: nil)
        racer.waitUntilExit()
        let swaps = String(decoding: racerOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)

        // Then the racer did swap a link in, the step failed saying so, the victim is untouched,
        // and the real name holds a regular file with the old content and owner again
        #expect(swaps.contains("swapped"), "the racer never got a turn: \(result.stdout)")
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("was replaced by someone else while Sluice wrote it"), "\(result.stdout)")
        let victimStatus = try #require(Self.status(victim))
        #expect(victimStatus.st_uid == 0 && victimStatus.st_gid == 0 && victimStatus.st_mode & 0o7777 == 0o600)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "root only\n")
        let status = try #require(Self.status(path))
        #expect(status.st_mode & S_IFMT == S_IFREG)
        #expect(status.st_uid == Self.nobody.uid)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "version = 1\n")
    }

    @Test func aSecretInABackupIsNeverStoredAndIsReadAgainToRestore() throws {
        // Given a file that holds a secret value (the token from $FILE_STEP_TOKEN), changed by a run
        let folder = try TemporaryFolder()
        try folder.write("svc/app.conf", "token = s3cr3t-v4lue\n")
        try folder.write("runbook.yaml", """
            sluice: 1
            id: file-secret-test
            vars:
              token: { env: FILE_STEP_TOKEN, secret: true }
            targets: [{ name: svc }]
            rollout:
              stages: [{ name: all }]
            steps:
              - name: config
                file: { path: "svc/app.conf", content: "token = {{ vars.token }}\\nextra = 1\\n" }

            """)
        let store = folder.url.appendingPathComponent("store/audit.sqlite").path
        let environment = ["SLUICE_STORE": store, "SLUICE_USER": "alice", "FILE_STEP_TOKEN": "s3cr3t-v4lue"]
        let applied = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: environment)
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let run = try #require(Self.runID(in: applied.stdout))

        // Then the store holds no trace of the secret (backups included)
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        dump.arguments = [store, ".dump"]
        let output = Pipe()
        dump.standardOutput = output
        try dump.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        #expect(text.contains("file_backups"))
        #expect(!text.contains("s3cr3t-v4lue"))
        #expect(!text.contains(Data("s3cr3t-v4lue".utf8).map { String(format: "%02x", $0) }.joined()))

        // When the rollback runs without the secret's source, it is refused naming the variable
        var unset = environment
        unset["FILE_STEP_TOKEN"] = nil
        let refused = try SluiceBinary.run(["rollback", run, "--reason", "test"], in: folder.url, environment: unset)
        #expect(refused.status == 4, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("vars.token"), "\(refused.stderr)")
        #expect(try String(contentsOf: folder.url.appendingPathComponent("svc/app.conf"), encoding: .utf8) == "token = s3cr3t-v4lue\nextra = 1\n")

        // And with it, the exact old bytes come back
        let rolledBack = try SluiceBinary.run(["rollback", run, "--reason", "test"], in: folder.url, environment: environment)
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        #expect(try String(contentsOf: folder.url.appendingPathComponent("svc/app.conf"), encoding: .utf8) == "token = s3cr3t-v4lue\n")
    }

    @Test func anInterruptedPlanLeavesNoTemporaryFileAndNoCommandBehind() throws {
        // Given a validate that says it started, then sleeps
        let folder = try Self.world(validate: "touch {{ runbook.dir }}/validating; sleep 30")
        let svc = folder.url.appendingPathComponent("svc").path
        let process = Process()
        process.executableURL = SluiceBinary.executable
        process.arguments = ["plan", "runbook.yaml"]
        process.currentDirectoryURL = folder.url
        process.environment = ProcessInfo.processInfo.environment.merging(["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let marker = folder.url.appendingPathComponent("validating").path
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: marker) { usleep(50_000) }
        #expect(FileManager.default.fileExists(atPath: marker), "validate never started")
        #expect(try FileManager.default.contentsOfDirectory(atPath: svc).count == 2, "the temporary file is beside the real one while validate runs")

        // When plan is interrupted (Ctrl-C)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()

        // Then it exits as interrupted, the temporary file is gone, and validate's sleep was ended
        #expect(process.terminationStatus == 128 + SIGINT)
        #expect(try FileManager.default.contentsOfDirectory(atPath: svc) == ["app.conf"])
        let sleeping = Process()
        sleeping.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        sleeping.arguments = ["-f", "touch \(folder.url.path)/validating; sleep 30"]
        sleeping.standardOutput = FileHandle.nullDevice
        try sleeping.run()
        sleeping.waitUntilExit()
        #expect(sleeping.terminationStatus == 1, "validate's command is still running")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the file to nobody"))
    func aResumedRunRestoresOwnerGroupAndModeFromTheStore() throws {
        // Given a run killed (SIGKILL) after it wrote a nobody:nogroup 0640 file, whose health
        // gate fails on the new content
        let folder = try TemporaryFolder()
        try folder.write("svc/app.conf", "version = 1\n")
        let path = folder.url.appendingPathComponent("svc/app.conf").path
        chown(path, Self.nobody.uid, Self.nobody.gid)
        chmod(path, 0o640)
        try folder.write("runbook.yaml", """
            sluice: 1
            id: file-resume-test
            targets: [{ name: svc }]
            steps:
              - name: config
                file: { path: "svc/app.conf", content: "version = 2\\n" }
              - name: crash once
                run: "[ -e killed ] || { touch killed; kill -9 $PPID; sleep 5; }"
              - name: healthy
                health: { command: "grep -q 'version = 1' svc/app.conf", attempts: 1 }

            """)
        let killed = try Self.sluice(folder, ["apply", "runbook.yaml", "--yes"])
        #expect(killed.crashed, "\(killed.stdout)\(killed.stderr)")
        let run = try #require(Self.runID(in: killed.stdout))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "version = 2\n")

        // When it is resumed, and its health gate fails, so the target is rolled back from the
        // backup in the store
        let resumed = try Self.sluice(folder, ["resume", run, "--yes"])

        // Then the old file is back with its owner, group and mode
        #expect(resumed.status == 1, "\(resumed.stdout)\(resumed.stderr)")
        let status = try #require(Self.status(path))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "version = 1\n")
        #expect(status.st_uid == Self.nobody.uid && status.st_gid == Self.nobody.gid, "owned \(status.st_uid):\(status.st_gid)")
        #expect(status.st_mode & 0o7777 == 0o640)
    }
}
