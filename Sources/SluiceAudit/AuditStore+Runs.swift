import Foundation
internal import GRDB
import SluiceCore

extension AuditStore {
    /// Records a new run's row. The engine appends `run.started` itself.
    ///
    /// - Throws: ``AuditStoreError/duplicateRun(_:)`` when the id is taken.
    public func createRun(_ run: RunRecord) async throws {
        try await write("recording run \(run.id)") { db in
            if try RunRow.exists(db, key: run.id.rawValue) {
                throw AuditStoreError.duplicateRun(run.id.rawValue)
            }
            var row = RunRow(run)
            try row.insert(db)
        }
    }

    /// Sets a run's outcome and finish time, and returns the updated row.
    ///
    /// The runs table is an index; the engine records the authoritative `run.finished` event
    /// as well. Calling this again replaces the outcome (a resumed run finishes twice).
    ///
    /// - Throws: ``AuditStoreError/unknownRun(_:)``.
    @discardableResult
    public func finishRun(_ id: RunID, outcome: RunOutcome) async throws -> RunRecord {
        let finishedAt = now()
        return try await write("finishing run \(id)") { db in
            guard var run = try RunRow.fetchOne(db, key: id.rawValue)?.value else {
                throw AuditStoreError.unknownRun(id.rawValue)
            }
            run.finishedAt = finishedAt
            run.outcome = outcome
            try RunRow(run).update(db)
            return run
        }
    }

    /// Hands a run to the process resuming or rolling it back: records this host and `pid` as
    /// its runner and clears its outcome until it finishes again.
    ///
    /// - Throws: ``AuditStoreError/unknownRun(_:)``.
    @discardableResult
    public func reopenRun(_ id: RunID, host: String, pid: Int32) async throws -> RunRecord {
        try await write("reopening run \(id)") { db in
            guard var run = try RunRow.fetchOne(db, key: id.rawValue)?.value else {
                throw AuditStoreError.unknownRun(id.rawValue)
            }
            run.host = host
            run.pid = pid
            run.finishedAt = nil
            run.outcome = nil
            try RunRow(run).update(db)
            return run
        }
    }

    /// The run with this id, or `nil`.
    public func run(_ id: RunID) async throws -> RunRecord? {
        try await read("reading run \(id)") { db in try RunRow.fetchOne(db, key: id.rawValue)?.value }
    }

    /// Runs, newest first (by start time, then id); at most `limit` when given.
    public func runs(limit: Int? = nil) async throws -> [RunRecord] {
        try await read("listing runs") { db in
            let request = RunRow.order(RunRow.column(.startedAt).desc, RunRow.column(.id).desc)
            return try (limit.map { request.limit($0) } ?? request).fetchAll(db).map(\.value)
        }
    }

    /// Records an approval of a runbook's exact content and its `approval.recorded` event, in
    /// one transaction, and returns it with its id.
    ///
    /// `actor` is who ran the command (`--as`, `$SLUICE_USER` or the login name) and is the
    /// event's actor; the approver (`--by`) is in the row and in the event's detail, so that an
    /// approval recorded on someone's behalf shows both. Without `actor` the approver is the
    /// actor. The event's detail also lists the approved files with their hashes.
    ///
    /// The approval's `approvedAt` is replaced by the store's clock. Strings are redacted with
    /// `redactor` in the event; the approval row holds only names, hashes and the comment, and
    /// the comment is redacted too.
    public func recordApproval(_ approval: ApprovalRecord, actor: String? = nil, redactor: Redactor) async throws -> ApprovalRecord {
        let approvedAt = now()
        return try await write("recording an approval of \(approval.runbookID)") { [self] db in
            var stored = ApprovalRow(approval)
            stored.value.approvedAt = approvedAt
            stored.value.comment = approval.comment.map(redactor.redact)
            try stored.insert(db)
            let row = stored.value
            var detail: [String: JSONValue] = [
                "runbook_id": .string(row.runbookID), "content_hash": .string(row.contentHash), "approver": .string(row.approver),
            ]
            if let comment = row.comment { detail["comment"] = .string(comment) }
            if let files = row.digest?.files {
                detail["files"] = .array(files.map { .object(["role": .string($0.role), "path": .string($0.path), "sha256": .string($0.sha256)]) })
            }
            let draft = EventDraft(runID: nil, actor: actor ?? row.approver, kind: .approvalRecorded, detail: detail)
            _ = try appendInTransaction([draft], redactor: redactor, in: db)
            return row
        }
    }

    /// Approvals of exactly this content of this runbook, oldest first.
    public func approvals(runbookID: String, contentHash: String) async throws -> [ApprovalRecord] {
        try await read("reading approvals of \(runbookID)") { db in
            try ApprovalRow
                .filter(ApprovalRow.column(.runbookID) == runbookID && ApprovalRow.column(.contentHash) == contentHash)
                .order(ApprovalRow.column(.id))
                .fetchAll(db).map(\.value)
        }
    }

    /// The most recent approval of any content of this runbook, or `nil` when it was never
    /// approved: what a refusal compares the current content with.
    public func latestApproval(runbookID: String) async throws -> ApprovalRecord? {
        try await read("reading the latest approval of \(runbookID)") { db in
            try ApprovalRow
                .filter(ApprovalRow.column(.runbookID) == runbookID)
                .order(ApprovalRow.column(.id).desc)
                .fetchOne(db)?.value
        }
    }

    /// Stores a file's backup before a `file` step replaces it, and returns the backup that
    /// rollback must restore.
    ///
    /// The backup's ``FileBackup/digest`` is stored with it and recorded, in the same
    /// transaction, by a chained `file.backed_up` event (by `actor`, redacted with `redactor`),
    /// so that a row edited later is caught by ``verifiedBackups(of:)`` and `audit verify`.
    /// The first backup wins: when one already exists for the same run, target, step and path
    /// (a retried or resumed step), it is kept and returned, because it holds the content from
    /// before the run touched the file. The run must exist.
    public func storeBackup(_ backup: FileBackup, actor: String, redactor: Redactor) async throws -> FileBackup {
        try await write("backing up \(backup.path)") { db in
            if let existing = try Self.backup(matching: backup, in: db) { return existing }
            var stored = BackupRow(backup)
            stored.value.sha256 = backup.digest
            try stored.insert(db)
            let row = stored.value
            _ = try self.appendInTransaction([EventDraft(
                runID: row.runID, actor: actor, kind: .fileBackedUp, target: row.target, step: row.step,
                detail: ["backup_id": .integer(row.id ?? 0), "path": .string(row.path), "sha256": .string(row.sha256 ?? ""),
                         "existed": .bool(row.existed)])], redactor: redactor, in: db)
            return row
        }
    }

    /// The backups taken during a run, in the order they were taken.
    public func backups(of runID: RunID) async throws -> [FileBackup] {
        try await read("reading backups of \(runID)") { db in
            try BackupRow.filter(BackupRow.column(.runID) == runID.rawValue).order(BackupRow.column(.id)).fetchAll(db).map(\.value)
        }
    }

    /// The run's backups, each checked against the digest its chained `file.backed_up` event
    /// recorded.
    ///
    /// - Throws: ``AuditStoreError/backupTampered(path:runID:reason:)`` naming the first backup
    ///   that has no such event or no longer matches it: it must not be restored.
    public func verifiedBackups(of runID: RunID) async throws -> [FileBackup] {
        let backups = try await backups(of: runID)
        let recorded = try await backupDigests(of: runID)
        for backup in backups {
            if let problem = Self.problem(with: backup, recorded: recorded) {
                throw AuditStoreError.backupTampered(path: backup.path, runID: runID.rawValue, reason: problem)
            }
        }
        return backups
    }

    /// Every backup in the store checked against its chained event, for `audit verify`.
    ///
    /// - Returns: one sentence per backup that does not match, naming it; and how many backups
    ///   were taken before backups were chained (no digest and no event: migration v3), which
    ///   are no sign of tampering but which rollback refuses all the same.
    public func backupProblems() async throws -> (problems: [String], unchained: Int) {
        let backups = try await read("reading backups") { db in try BackupRow.order(BackupRow.column(.id)).fetchAll(db).map(\.value) }
        let recorded = try await backupDigests(of: nil)
        var problems: [String] = []
        var unchained = 0
        for backup in backups {
            if backup.sha256 == nil, backup.id.map({ recorded[$0] == nil }) ?? true {
                unchained += 1
            } else if let problem = Self.problem(with: backup, recorded: recorded) {
                problems.append("backup \(backup.id ?? 0) of \(backup.path) (run \(backup.runID), target \(backup.target), step \(backup.step)): \(problem)")
            }
        }
        let present = Set(backups.compactMap(\.id))
        for (id, _) in recorded.sorted(by: { $0.key < $1.key }) where !present.contains(id) {
            problems.append("backup \(id): its `file.backed_up` event is in the chain but the backup row is gone")
        }
        return (problems, unchained)
    }

    /// The digest each `file.backed_up` event recorded, by backup id. Reads those events only
    /// (`audit verify` has just read the whole chain once).
    private func backupDigests(of runID: RunID?) async throws -> [Int64: String] {
        let events = try await read("reading backup events") { db in
            var request = EventRow.filter(EventRow.column(.kind) == EventKind.fileBackedUp.rawValue)
            if let runID { request = request.filter(EventRow.column(.runID) == runID.rawValue) }
            return try request.fetchAll(db).map(\.value)
        }
        var digests: [Int64: String] = [:]
        for event in events {
            let detail = event.detailMembers
            guard let id = detail["backup_id"].flatMap({ Int64($0) }), let sha = detail["sha256"] else { continue }
            digests[id] = sha
        }
        return digests
    }

    private static func problem(with backup: FileBackup, recorded: [Int64: String]) -> String? {
        guard let id = backup.id, let digest = recorded[id] else {
            return "no `file.backed_up` event in the audit chain records it"
        }
        guard backup.sha256 == digest, backup.digest == digest else {
            return "it no longer matches the SHA-256 its `file.backed_up` event recorded (\(digest.prefix(12))): it was changed in the store"
        }
        return nil
    }

    private static func backup(matching backup: FileBackup, in db: Database) throws -> FileBackup? {
        try BackupRow
            .filter(BackupRow.column(.runID) == backup.runID.rawValue && BackupRow.column(.target) == backup.target
                && BackupRow.column(.step) == backup.step && BackupRow.column(.path) == backup.path)
            .fetchOne(db)?.value
    }

    /// Saves a plan. The JSON is stored as given: it must not contain secret values (keep
    /// references such as `{{ vars.api_token }}` in it instead). Saving the same id again
    /// replaces it.
    public func savePlan(_ plan: SavedPlan) async throws {
        try await write("saving plan \(plan.id)") { db in
            var row = SavedPlanRow(plan)
            try row.save(db)
        }
    }

    /// The saved plan with this id, or `nil`.
    public func plan(id: String) async throws -> SavedPlan? {
        try await read("reading plan \(id)") { db in try SavedPlanRow.fetchOne(db, key: id)?.value }
    }
}

extension AuditStore {
    /// How long runners spent driving each run, in milliseconds: each driving (from
    /// `run.started`, `run.resumed` or `rollback.requested` to its `run.finished`, or, for a
    /// runner that died, to its last event) counted, and the time between drivings (a halted
    /// run waiting for its resume, a rollback days later) not. `nil` for a run with no events.
    public func drivenMilliseconds(of runs: [RunID]) async throws -> [RunID: Int64] {
        let rows = try await read("reading how long runs took") { db in
            // In slices, well under SQLite's limit on bound values.
            try stride(from: 0, to: runs.count, by: 500).flatMap { start in
                let slice = runs[start..<min(start + 500, runs.count)].map(\.rawValue)
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                return try Row.fetchAll(
                    db, sql: "SELECT run_id, kind, time FROM events WHERE run_id IN (\(marks)) ORDER BY run_id, seq",
                    arguments: StatementArguments(slice)
                ).map { (run: $0["run_id"] as String, kind: $0["kind"] as String, time: $0["time"] as String) }
            }
        }
        var byRun: [String: [(kind: EventKind?, time: String)]] = [:]
        for row in rows { byRun[row.run, default: []].append((EventKind(rawValue: row.kind), row.time)) }
        var result: [RunID: Int64] = [:]
        for (run, events) in byRun {
            if let id = RunID(run), let took = Self.drivenMilliseconds(events) { result[id] = took }
        }
        return result
    }

    /// The driving time of one run's events, in chain order (see ``drivenMilliseconds(of:)``).
    static func drivenMilliseconds(_ events: [(kind: EventKind?, time: String)]) -> Int64? {
        let begins: Set<EventKind> = [.runStarted, .runResumed, .rollbackRequested]
        // What the next driver records before its `run.resumed` or `rollback.requested` is not
        // the dead driver's time.
        let takingOver: Set<EventKind> = [.lockAcquired, .lockForced, .runInterrupted, .processTerminated, .windowOverridden]
        var total: Int64 = 0
        var counted = false
        var driving: (start: Int64, last: Int64)?
        for event in events {
            guard let time = Timestamp.milliseconds(event.time) else { continue }
            guard let kind = event.kind else { continue }  // a kind a newer Sluice wrote
            if begins.contains(kind) {
                if let open = driving { total += open.last - open.start }  // its runner died
                driving = (time, time)
                counted = true
            } else if var open = driving, !takingOver.contains(kind) {
                open.last = time
                driving = kind == .runFinished ? nil : open
                if kind == .runFinished { total += open.last - open.start }
            }
        }
        if let open = driving { total += open.last - open.start }
        return counted ? total : nil
    }
}
