import SluiceCore

/// Checks file backups against the digests their chained `file.backed_up` events recorded: the
/// rule every store applies before a backup is restored and in `audit verify`. Pure: the store
/// reads the backups and the events, this judges them.
public enum BackupCheck {
    /// The digest each `file.backed_up` event among `events` recorded, by backup id; other
    /// events, and backup events without a readable id and digest, are skipped.
    public static func recordedDigests(in events: [RecordedEvent]) -> [Int64: String] {
        var digests: [Int64: String] = [:]
        for event in events where event.eventKind == .fileBackedUp {
            let detail = event.detailMembers
            guard let id = detail["backup_id"].flatMap({ Int64($0) }), let sha = detail["sha256"] else { continue }
            digests[id] = sha
        }
        return digests
    }

    /// What is wrong with `backup` given the digests the chain recorded, or `nil` when it
    /// matches its event.
    public static func problem(with backup: FileBackup, recorded: [Int64: String]) -> String? {
        guard let id = backup.id, let digest = recorded[id] else {
            return "no `file.backed_up` event in the audit chain records it"
        }
        guard backup.sha256 == digest, backup.digest == digest else {
            return "it no longer matches the SHA-256 its `file.backed_up` event recorded (\(digest.prefix(12))): it was changed in the store"
        }
        return nil
    }

    /// `backups` (a run's), unchanged, when each matches the digest its event recorded.
    ///
    /// - Throws: ``AuditStoreError/backupTampered(path:runID:reason:)`` naming the first that
    ///   does not: it must not be restored.
    public static func verified(_ backups: [FileBackup], of runID: RunID, recorded: [Int64: String]) throws -> [FileBackup] {
        for backup in backups {
            if let problem = problem(with: backup, recorded: recorded) {
                throw AuditStoreError.backupTampered(path: backup.path, runID: runID.rawValue, reason: problem)
            }
        }
        return backups
    }

    /// Every backup of a store (`backups`, in the order taken) checked against the digests its
    /// events recorded, for `audit verify`.
    ///
    /// - Returns: one sentence per backup that does not match, or per event whose backup is gone,
    ///   naming it; and how many backups were taken before backups were chained (no digest and
    ///   no event), which are no sign of tampering but which rollback refuses all the same.
    public static func problems(in backups: [FileBackup], recorded: [Int64: String]) -> (problems: [String], unchained: Int) {
        var problems: [String] = []
        var unchained = 0
        for backup in backups {
            if backup.sha256 == nil, backup.id.map({ recorded[$0] == nil }) ?? true {
                unchained += 1
            } else if let problem = problem(with: backup, recorded: recorded) {
                problems.append("backup \(backup.id ?? 0) of \(backup.path) (run \(backup.runID), target \(backup.target), step \(backup.step)): \(problem)")
            }
        }
        let present = Set(backups.compactMap(\.id))
        for (id, _) in recorded.sorted(by: { $0.key < $1.key }) where !present.contains(id) {
            problems.append("backup \(id): its `file.backed_up` event is in the chain but the backup row is gone")
        }
        return (problems, unchained)
    }
}
