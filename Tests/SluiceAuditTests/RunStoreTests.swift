import Foundation
import GRDB
import SluiceCore
import Testing
@testable import SluiceAudit

@Suite struct RunStoreTests {
    static func run(_ id: String, startedAt: String) -> RunRecord {
        RunRecord(
            id: RunID(id)!, runbookID: "alma-loan-config", title: "Roll out the loan-policy configuration",
            kind: .change, mode: .apply, actor: "alice", host: "ops-1", pid: 4242, contentHash: "sha256:abc",
            runbookPath: "Runbooks/alma.yaml", startedAt: startedAt)
    }

    @Test func runsAreListedNewestFirstAndFinishedWithAnOutcome() async throws {
        // Given three runs
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let older = Self.run("r-20261121-080000-0001", startedAt: "2026-11-21T08:00:00.000Z")
        let newer = Self.run("r-20261121-090000-0002", startedAt: "2026-11-21T09:00:00.000Z")
        let newest = Self.run("r-20261121-100000-0003", startedAt: "2026-11-21T10:00:00.000Z")
        for run in [newer, older, newest] { try await store.createRun(run) }

        // When one finishes
        let finished = try await store.finishRun(newer.id, outcome: .rolledBack)

        // Then listing is newest first, limits apply, and the outcome is kept
        #expect(try await store.runs().map(\.id) == [newest.id, newer.id, older.id])
        #expect(try await store.runs(limit: 2).map(\.id) == [newest.id, newer.id])
        #expect(finished.outcome == .rolledBack)
        #expect(try await store.run(newer.id)?.outcome == .rolledBack)
        #expect(try await store.run(older.id)?.outcome == nil)
    }

    @Test func aRunIDCannotBeRecordedTwice() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let run = Self.run("r-20261121-080000-0001", startedAt: "2026-11-21T08:00:00.000Z")
        try await store.createRun(run)
        await #expect(throws: AuditStoreError.self) { try await store.createRun(run) }
    }

    @Test func finishingAnUnknownRunFails() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        await #expect(throws: AuditStoreError.self) {
            try await store.finishRun(RunID("r-20261121-080000-0009")!, outcome: .succeeded)
        }
    }

    @Test func approvalsAreBoundToExactContentAndAudited() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let approval = ApprovalRecord(runbookID: "alma", contentHash: "sha256:one", approver: "dana",
                                      comment: "ok, token hunter2 rotated", approvedAt: "")

        let recorded = try await store.recordApproval(approval, redactor: Redactor(secrets: ["hunter2"]))

        #expect(recorded.id != nil)
        #expect(recorded.comment == "ok, token *** rotated")
        #expect(try await store.approvals(runbookID: "alma", contentHash: "sha256:one") == [recorded])
        #expect(try await store.approvals(runbookID: "alma", contentHash: "sha256:two").isEmpty)
        let event = try #require(try await store.events().last)
        #expect(event.kind == "approval.recorded")
        #expect(event.actor == "dana")
        #expect(!event.detail.contains("hunter2"))
    }

    @Test func fileBackupsKeepExactBytesAndTheFirstBackupWins() async throws {
        // Given a run and a backup of a binary file
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let run = Self.run("r-20261121-080000-0001", startedAt: "2026-11-21T08:00:00.000Z")
        try await store.createRun(run)
        let original = Data([0, 1, 2, 255, 10, 13]) + Data("nginx.conf".utf8)
        let first = FileBackup.existing(runID: run.id, target: "ap01-a", step: "write config", path: "/etc/x.conf",
                                        content: original, mode: 0o644, takenAt: "2026-11-21T08:00:01.000Z")

        // When the step is retried and backs up the (already changed) file again
        let stored = try await store.storeBackup(first, actor: "alice", redactor: Redactor(secrets: [String]()))
        let retried = try await store.storeBackup(FileBackup.existing(
            runID: run.id, target: "ap01-a", step: "write config", path: "/etc/x.conf",
            content: Data("new content".utf8), mode: 0o600, takenAt: "2026-11-21T08:00:02.000Z"), actor: "alice", redactor: Redactor(secrets: [String]()))

        // Then the original bytes and mode are what rollback gets
        #expect(retried == stored)
        #expect(try await store.backups(of: run.id).map(\.content) == [original])
        #expect(try await store.backups(of: run.id).map(\.mode) == [0o644])
    }

    @Test func aBackupEditedInTheStoreIsRefusedAndAuditVerifyNamesIt() async throws {
        // Given a backup taken through the store (its digest chained in `file.backed_up`)
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let run = Self.run("r-20261121-080000-0001", startedAt: "2026-11-21T08:00:00.000Z")
        try await store.createRun(run)
        let backup = FileBackup.existing(runID: run.id, target: "ap01-a", step: "write config", path: "/etc/x.conf",
                                         content: Data("listen 80;\n".utf8), mode: 0o640, owner: 65534, group: 65534,
                                         takenAt: "2026-11-21T08:00:01.000Z")
        _ = try await store.storeBackup(backup, actor: "alice", redactor: Redactor(secrets: [String]()))
        #expect(try await store.verifiedBackups(of: run.id).map(\.owner) == [65534])
        #expect(try await store.backupProblems().problems.isEmpty)
        #expect(try await store.events(of: run.id).map(\.kind) == ["file.backed_up"])

        // When someone edits the row's mode and owner behind Sluice's back
        try world.tamper("UPDATE file_backups SET mode = 4095, owner = 0")

        // Then it is refused for restoring, and audit verify names it
        await #expect(throws: AuditStoreError.self) { try await store.verifiedBackups(of: run.id) }
        let problems = try await store.backupProblems().problems
        #expect(problems.count == 1)
        #expect(problems.first?.contains("/etc/x.conf") == true)
        #expect(problems.first?.contains("no longer matches") == true)
    }

    @Test func aBackupFromBeforeBackupsWereChainedIsNotTamperingButIsNeverRestored() async throws {
        // Given a backup row as an older sluice stored it: no digest, no `file.backed_up` event
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let run = Self.run("r-20261121-080000-0001", startedAt: "2026-11-21T08:00:00.000Z")
        try await store.createRun(run)
        try world.tamper("""
            INSERT INTO file_backups (run_id, target, step, path, existed, content, mode, taken_at)
            VALUES ('r-20261121-080000-0001', 'ap01-a', 'write config', '/etc/x.conf', 1, X'00', 420, '2026-11-21T08:00:01.000Z')
            """)

        // Then audit verify counts it apart from problems, and rollback refuses it
        let check = try await store.backupProblems()
        #expect(check.problems.isEmpty)
        #expect(check.unchained == 1)
        await #expect(throws: AuditStoreError.self) { try await store.verifiedBackups(of: run.id) }
    }

    @Test func aBackupCanRecordThatTheFileDidNotExist() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let run = Self.run("r-20261121-080000-0001", startedAt: "2026-11-21T08:00:00.000Z")
        try await store.createRun(run)

        let stored = try await store.storeBackup(FileBackup.absent(
            runID: run.id, target: "ap01-a", step: "write config", path: "/etc/new.conf", takenAt: "2026-11-21T08:00:01.000Z"), actor: "alice", redactor: Redactor(secrets: [String]()))

        #expect(stored.existed == false)
        #expect(stored.content == nil)
    }

    @Test func plansAreSavedAndFetched() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let plan = SavedPlan(id: "plan-1", runbookID: "alma", contentHash: "sha256:one", runID: nil,
                             createdAt: "2026-11-21T08:00:00.000Z", planJSON: #"{"stages":[]}"#)

        try await store.savePlan(plan)

        #expect(try await store.plan(id: "plan-1") == plan)
        #expect(try await store.plan(id: "plan-2") == nil)
        var invalid = plan
        invalid.id = "plan-3"
        invalid.planJSON = "{not json"
        await #expect(throws: AuditStoreError.self) { try await store.savePlan(invalid) }
    }
}

@Suite struct RunTimelineTests {
    static func event(_ seq: Int64, _ kind: String, stage: String? = nil, target: String? = nil, step: String? = nil,
                      status: String? = nil, detail: String = "{}") -> RecordedEvent {
        RecordedEvent(
            seq: seq, time: "2026-11-21T08:30:\(10 + seq).000Z", runID: "r-20261121-083015-7f3a", actor: "alice",
            kind: kind, target: target, stage: stage, step: step, status: status, exitCode: nil,
            durationMilliseconds: nil, detail: detail, prevHash: "", hash: "")
    }

    @Test func groupsByStageAndTargetAndMergesStartedWithFinished() {
        // Given a run with a stage, two targets, a finished step and one never finished
        let events = [
            Self.event(1, "run.started"),
            Self.event(2, "stage.started", stage: "canary"),
            Self.event(3, "step.started", stage: "canary", target: "a", step: "apply",
                       detail: #"{"command":"./apply.sh a"}"#),
            Self.event(4, "step.started", stage: "canary", target: "b", step: "apply"),
            Self.event(5, "step.finished", stage: "canary", target: "a", step: "apply", status: "failed",
                       detail: #"{"output":"boom","reason":"exit 2"}"#),
            Self.event(6, "stage.finished", stage: "canary", status: "failed"),
            Self.event(7, "rollback.started"),
        ]

        // When arranged
        let timeline = RunTimeline(run: nil, events: events)

        // Then run-level events come first, the stage holds its own entry then one track per target
        #expect(timeline.sections.map(\.stage) == [nil, "canary"])
        #expect(timeline.sections[0].tracks.flatMap(\.entries).map(\.kind) == ["run.started", "rollback.started"])
        let canary = timeline.sections[1]
        #expect(canary.tracks.map(\.target) == [nil, "a", "b"])
        let stage = canary.tracks[0].entries
        #expect(stage.map(\.kind) == ["stage"])
        #expect(stage.first?.status == "failed")
        let stepA = canary.tracks[1].entries
        #expect(stepA.count == 1)
        #expect(stepA.first?.status == "failed")
        #expect(stepA.first?.command == "./apply.sh a")
        #expect(stepA.first?.output == "boom")
        #expect(stepA.first?.notes == ["reason": .string("exit 2")])
        #expect(stepA.first?.seqs == [3, 5])
        #expect(stepA.first?.inDoubt == false)
        #expect(canary.tracks[2].entries.first?.inDoubt == true)
    }
}
