internal import GRDB
import SluiceCore

extension AuditStore {
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
        return try BackupCheck.verified(backups, of: runID, recorded: try await backupDigests(of: runID))
    }

    /// Every backup in the store checked against its chained event, for `audit verify`.
    ///
    /// - Returns: one sentence per backup that does not match, naming it; and how many backups
    ///   were taken before backups were chained (no digest and no event: migration v3), which
    ///   are no sign of tampering but which rollback refuses all the same.
    public func backupProblems() async throws -> (problems: [String], unchained: Int) {
        let backups = try await read("reading backups") { db in try BackupRow.order(BackupRow.column(.id)).fetchAll(db).map(\.value) }
        return BackupCheck.problems(in: backups, recorded: try await backupDigests(of: nil))
    }

    /// The digest each `file.backed_up` event recorded, by backup id. Reads those events only
    /// (`audit verify` has just read the whole chain once).
    private func backupDigests(of runID: RunID?) async throws -> [Int64: String] {
        let events = try await read("reading backup events") { db in
            var request = EventRow.filter(EventRow.column(.kind) == EventKind.fileBackedUp.rawValue)
            if let runID { request = request.filter(EventRow.column(.runID) == runID.rawValue) }
            return try request.fetchAll(db).map(\.value)
        }
        return BackupCheck.recordedDigests(in: events)
    }

    private static func backup(matching backup: FileBackup, in db: Database) throws -> FileBackup? {
        try BackupRow
            .filter(BackupRow.column(.runID) == backup.runID.rawValue && BackupRow.column(.target) == backup.target
                && BackupRow.column(.step) == backup.step && BackupRow.column(.path) == backup.path)
            .fetchOne(db)?.value
    }
}
