import Foundation
import SluiceCore

/// One row of the `approvals` table: someone approved a runbook's exact content.
public struct ApprovalRecord: Codable, Sendable, Hashable {
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
    /// The files approved, as a JSON array of `{role, path, sha256}` (``ContentDigest/File``);
    /// `nil` for approvals recorded before the store kept them.
    public var contentFiles: String?

    /// The column names.
    enum CodingKeys: String, CodingKey {
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
        /// `content_files`
        case contentFiles = "content_files"
    }

    /// Creates an approval that is not yet recorded; `files` are the approved files with their
    /// hashes (``ContentDigest/files``), kept so that a later refusal can name what changed.
    public init(
        runbookID: String, contentHash: String, approver: String, comment: String?, approvedAt: String,
        files: [ContentDigest.File]? = nil
    ) {
        self.id = nil
        self.runbookID = runbookID
        self.contentHash = contentHash
        self.approver = approver
        self.comment = comment
        self.approvedAt = approvedAt
        self.contentFiles = files.map(Self.encode)
    }

    /// The approved content as a digest, when the approval recorded its files.
    public var digest: ContentDigest? {
        guard let contentFiles,
            let files = try? JSONDecoder().decode([ContentDigest.File].self, from: Data(contentFiles.utf8))
        else { return nil }
        return ContentDigest(files: files)
    }

    private static func encode(_ files: [ContentDigest.File]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings cannot fail.
        return (try? encoder.encode(files)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }
}
