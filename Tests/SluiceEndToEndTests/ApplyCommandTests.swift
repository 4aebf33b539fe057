import Foundation
import SluiceTesting
import Testing

@Suite("sluice apply, run as a program", .ownThread)
struct ApplyCommandTests {
    /// Two targets, a canary then the rest; each has a config file, a deploy step with a rollback,
    /// and a health check that fails on `broken` while it runs the new version.
    static func world(broken: String = "none", extra: String = "") throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for target in ["web1", "web2"] {
            try folder.write("\(target)/app.conf", "version = 1\n")
        }
        try folder.write("runbook.yaml", """
            sluice: 1
            id: apply-test
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: rest }
            \(extra)
            holds:
              - { name: batch, pause: "echo pause >> log", resume: "echo resume >> log" }
            steps:
              - name: config
                file: { path: "{{ target.name }}/app.conf", content: "version = 2\\n" }
              - name: deploy
                run: "echo deploy {{ target.name }} >> log"
                rollback: "echo undeploy {{ target.name }} >> log"
              - name: healthy
                health: { command: "grep -q 'version = 1' {{ target.name }}/app.conf || test {{ target.name }} != \(broken)", attempts: 2, interval: 10ms }

            """)
        return folder
    }

    static func apply(_ folder: TemporaryFolder, _ arguments: [String] = ["--yes"], user: String = "alice") throws -> SluiceBinary.Result {
        try SluiceBinary.run(["apply", "runbook.yaml"] + arguments, in: folder.url, environment: [
            "SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "SLUICE_USER": user,
        ])
    }

    static func read(_ folder: TemporaryFolder, _ name: String) -> String? {
        try? String(contentsOf: folder.url.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func successfulApplyChangesEveryTargetAndExitsZero() throws {
        let folder = try Self.world()
        let result = try Self.apply(folder)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(Self.read(folder, "web1/app.conf") == "version = 2\n")
        #expect(Self.read(folder, "web2/app.conf") == "version = 2\n")
        #expect(Self.read(folder, "log") == "pause\ndeploy web1\ndeploy web2\nresume\n")
        #expect(result.stdout.contains("succeeded"))
        let verify = try SluiceBinary.run(["audit", "verify"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path])
        #expect(verify.status == 0)
    }

    @Test func failureRollsEverythingBackByteForByteAndExitsOne() throws {
        let folder = try Self.world(broken: "web2")
        let result = try Self.apply(folder)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("rolled_back; failed: web2"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "web2/app.conf") == "version = 1\n")
        // The failed target is undone first, the canary last; holds are resumed at the end.
        #expect(Self.read(folder, "log") == "pause\ndeploy web1\ndeploy web2\nundeploy web2\nundeploy web1\nresume\n")
        let export = try SluiceBinary.run(["audit", "export"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path])
        #expect(export.stdout.contains("\"kind\":\"rollback.started\""))
        #expect(export.stdout.contains("\"status\":\"rolled_back\""))
    }

    @Test func commandOutputIsShownAsItArrivesWithSecretsMasked() throws {
        let folder = try Self.world(extra: """
            vars:
              token: { env: TEST_TOKEN, secret: true }
            """)
        try folder.write("runbook.yaml", Self.read(folder, "runbook.yaml")!.replacingOccurrences(
            of: "run: \"echo deploy {{ target.name }} >> log\"",
            with: "run: \"echo deploying {{ target.name }} with {{ vars.token }}; echo deploy {{ target.name }} >> log\""))
        let secondOfTheDay = { Int(Date().timeIntervalSince1970) % 86_400 }
        let before = secondOfTheDay()
        let result = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: [
            "SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "TEST_TOKEN": "tok-8c1f",
        ])
        let after = secondOfTheDay()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let printed = try #require(lines.firstIndex { $0.hasSuffix("web1 / deploy | deploying web1 with ***") }, "\(result.stdout)")
        let finished = try #require(lines.firstIndex { $0.contains("step.finished  web1 / deploy") })
        #expect(printed < finished)
        #expect(!result.stdout.contains("tok-8c1f"))
        // Both kinds of line start with the time of day in UTC: a time while apply ran (not
        // a bound on how long it took; across midnight, the day wraps).
        for index in [printed, finished] {
            let clock = lines[index].prefix(8).split(separator: ":").compactMap { Int($0) }
            #expect(clock.count == 3 && lines[index].prefix(8).count == 8, "\(lines[index])")
            let shown = clock.count == 3 ? clock[0] * 3600 + clock[1] * 60 + clock[2] : -1
            let whileApplyRan = before <= after ? (before...after).contains(shown) : shown >= before || shown <= after
            #expect(whileApplyRan, "\(lines[index]) is not a time while apply ran (\(before) to \(after) s into the UTC day)")
        }
    }

    @Test func withoutATerminalOrYesNothingHappens() throws {
        let folder = try Self.world()
        let result = try Self.apply(folder, [])
        #expect(result.status == 4)
        #expect(result.stderr.contains("pass --yes"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "log") == nil)
    }

    @Test func failingPreflightRefusesBeforeAnythingChanges() throws {
        let folder = try Self.world(extra: "preflight:\n  - { name: disk, run: \"test {{ target.name }} != web2\" }")
        let result = try Self.apply(folder)
        #expect(result.status == 4, "\(result.stdout)\(result.stderr)")
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "log") == nil)  // not even the hold was paused
    }

    @Test func requiredApprovalMissingIsRefused() throws {
        let folder = try Self.world(extra: "approval: { required: true }")
        let result = try Self.apply(folder)
        #expect(result.status == 4)
        #expect(result.stderr.contains("approval is required and runbook apply-test has never been approved"))
        #expect(Self.read(folder, "log") == nil)
    }

    @Test func closedWindowIsRefusedUnlessOverriddenWithAReason() throws {
        let folder = try Self.world(extra: "window: { start: 2020-01-01T00:00:00Z, end: 2020-01-02T00:00:00Z }")
        let refused = try Self.apply(folder)
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("the window is closed and does not open again in the next 400 days"), "\(refused.stderr)")
        // The dry run says the same, not that the window never opens (it looks 400 days ahead).
        let planned = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: [
            "SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path,
        ])
        #expect(planned.stdout.contains("closed; it does not open in the next 400 days"), "\(planned.stdout)")
        let withoutReason = try Self.apply(folder, ["--yes", "--override-window"])
        #expect(withoutReason.status == 64)
        let overridden = try Self.apply(folder, ["--yes", "--override-window", "--reason", "incident 4711"])
        #expect(overridden.status == 0, "\(overridden.stdout)\(overridden.stderr)")
        let export = try SluiceBinary.run(["audit", "export"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path])
        #expect(export.stdout.contains("\"kind\":\"window.overridden\""))
        #expect(export.stdout.contains("incident 4711"))
    }

    @Test func stalePlanIsRefusedNamingWhatChanged() throws {
        let folder = try Self.world()
        let environment = ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path]
        let plan = try SluiceBinary.run(["plan", "runbook.yaml", "--out", "plan.json"], in: folder.url, environment: environment)
        #expect(plan.status == 0)
        var text = try #require(Self.read(folder, "runbook.yaml"))
        text += "# edited after the plan\n"
        try folder.write("runbook.yaml", text)
        let result = try Self.apply(folder, ["--yes", "--plan", "plan.json"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("is stale: runbook runbook.yaml changed"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
    }
}

extension ApplyCommandTests {
    @Test func jsonPrintsOneEventPerLine() throws {
        let folder = try Self.world()
        let result = try Self.apply(folder, ["--yes", "--json"])
        #expect(result.status == 0)
        let events = result.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let kinds = events.compactMap { $0["event"] as? String }
        #expect(kinds.first == "hold.paused")
        #expect(kinds.suffix(2) == ["hold.resumed", "run.finished"])  // run.finished with the chain head
        #expect(kinds.filter { $0 == "step.finished" }.count == 6)
        #expect(events.allSatisfy { ($0["run"] as? String)?.hasPrefix("r-") == true })
    }
}

extension ApplyCommandTests {
    /// The store helper built beside `sluice`, which can hold target locks like another run.
    static var storeHelper: URL { SluiceBinary.executable.deletingLastPathComponent().appendingPathComponent("sluice-store-bench") }

    @Test(arguments: [true, false])
    func targetsLockedByAnotherRunAreRefusedNamingIt(_ holderAlive: Bool) throws {
        // Given another run holding web2's lock, alive or with its runner gone
        let folder = try Self.world()
        let store = folder.url.appendingPathComponent("store/audit.sqlite").path
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("store"), withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = Self.storeHelper
        holder.arguments = ["lock", store, "r-20261121-083015-beef", "web2", "1"] + (holderAlive ? ["hold"] : [])
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        input.fileHandleForWriting.write(Data("\n".utf8))
        #expect(output.fileHandleForReading.availableData == Data("acquired\n".utf8))
        if !holderAlive { holder.waitUntilExit() }
        defer {
            try? input.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        // When apply touches web2
        let result = try Self.apply(folder)
        // Then it is refused before anything changed, naming the holder and the ways out
        #expect(result.status == 4, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("held by r-20261121-083015-beef (\(holderAlive ? "live" : "interrupted: its runner is gone")"))
        #expect(result.stderr.contains("sluice unlock TARGET --reason TEXT"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "log") == nil)
    }
}

extension ApplyCommandTests {
    @Test func haltKeepsTheChangeAndTheLocksAndResumesHolds() throws {
        // Given a runbook that halts on failure, and web2 broken
        let folder = try Self.world(broken: "web2", extra: "  on_failure: halt")
        // When it is applied
        let result = try Self.apply(folder)
        // Then it exits 1 and says how to go on; web2 (failed) is rolled back at once, web1 keeps the
        // change, holds are resumed
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("halted"))
        #expect(result.stdout.contains("sluice rollback r-"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 2\n")
        #expect(Self.read(folder, "web2/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "log") == "pause\ndeploy web1\ndeploy web2\nundeploy web2\nresume\n")
        // And the halted run keeps its targets: a new apply is refused
        let again = try Self.apply(folder)
        #expect(again.status == 4)
        #expect(again.stderr.contains("held by r-"))
    }
}

extension ApplyCommandTests {
    @Test func rollbackThatCannotCompleteExitsThreeAndSaysWhatToFix() throws {
        // Given web2's deploy cannot be undone
        let folder = try Self.world(broken: "web2")
        var text = try #require(Self.read(folder, "runbook.yaml"))
        text = text.replacing("rollback: \"echo undeploy {{ target.name }} >> log\"", with: "rollback: \"test {{ target.name }} != web2 && echo undeploy {{ target.name }} >> log\"\n    retry_delay: 10ms")
        try folder.write("runbook.yaml", text)
        // When the run fails and rolls back
        let result = try Self.apply(folder)
        // Then it exits 3, names the step an operator must put right, and still undid the rest
        #expect(result.status == 3, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("web2 / deploy: rollback exited with status 1 after 2 attempts"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "web2/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "log")?.hasSuffix("undeploy web1\nresume\n") == true)
    }
}

extension ApplyCommandTests {
    @Test func validateChecksTheNewContentBesideTheFileItReplaces() throws {
        // Given a file step whose validate records where it found the new content
        let folder = try TemporaryFolder()
        try folder.write("web1/app.conf", "version = 1\n")
        try folder.write("runbook.yaml", """
            sluice: 1
            id: validate-beside
            targets: [{ name: web1 }]
            steps:
              - name: config
                file: { path: web1/app.conf, content: "version = 2\\n", validate: "grep -q 'version = 2' {{ file }} && echo {{ file }} > validated-at" }

            """)
        // When it is applied
        let result = try Self.apply(folder)
        // Then validate saw a temporary file in the target's own folder, which became the file
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let seen = try #require(Self.read(folder, "validated-at")).trimmingCharacters(in: .whitespacesAndNewlines)
        let target = folder.url.appendingPathComponent("web1").standardizedFileURL.path
        #expect((seen as NSString).deletingLastPathComponent == target)
        #expect((seen as NSString).lastPathComponent.hasPrefix(".app.conf.sluice-r-"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["app.conf"])
    }
}
