internal import GRDB
import SluiceCore

extension AuditStore {
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
    public func recordApproval(_ approval: ApprovalRecord, actor: String?, redactor: Redactor) async throws -> ApprovalRecord {
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
}
