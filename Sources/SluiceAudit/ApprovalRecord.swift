import GRDB

/// One row of the `approvals` table: someone approved a runbook's exact content.
public struct ApprovalRecord: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    /// The table's name.
    public static let databaseTableName = "approvals"

    /// The row id, assigned when recorded.
    public var id: Int64?
    /// The runbook's `id`.
    public var runbookID: String
    /// The hash of the exact content approved (runbook, scripts, sources).
    public var contentHash: String
    /// Who approved.
    public var approver: String
    /// The approver's comment, if any.
    public var comment: String?
    /// When, in ``Timestamp`` form.
    public var approvedAt: String

    /// The column names.
    public enum CodingKeys: String, CodingKey, ColumnExpression {
        /// `id`
        case id
        /// `runbook_id`
        case runbookID = "runbook_id"
        /// `content_hash`
        case contentHash = "content_hash"
        /// `approver`
        case approver
        /// `comment`
        case comment
        /// `approved_at`
        case approvedAt = "approved_at"
    }

    /// Creates an approval that is not yet recorded.
    public init(runbookID: String, contentHash: String, approver: String, comment: String?, approvedAt: String) {
        self.id = nil
        self.runbookID = runbookID
        self.contentHash = contentHash
        self.approver = approver
        self.comment = comment
        self.approvedAt = approvedAt
    }

    /// Keeps the id SQLite assigned.
    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
