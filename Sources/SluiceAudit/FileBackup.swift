import Crypto
import Foundation
import SluiceCore

/// One row of the `file_backups` table: a file's exact content and mode before a `file` step
/// replaced it, so that rollback can restore it without depending on anything outside the store.
public struct FileBackup: Codable, Sendable, Hashable {
    /// The row id, assigned when stored.
    public var id: Int64?
    /// The run that changed the file.
    public var runID: RunID
    /// The target the step ran on.
    public var target: String
    /// The step's name.
    public var step: String
    /// The file's path.
    public var path: String
    /// Whether the file existed; when not, rollback removes it.
    public var existed: Bool
    /// The exact previous bytes (a BLOB), when it existed.
    public var content: Data?
    /// The previous permission bits (for example 0o644), when it existed.
    public var mode: Int?
    /// When the backup was taken, in ``Timestamp`` form.
    public var takenAt: String
    /// The previous owner's user id, when it existed.
    public var owner: Int?
    /// The previous group id, when it existed.
    public var group: Int?
    /// ``digest``, as the chained `file.backed_up` event that took the backup records it.
    public var sha256: String?

    /// The column names.
    enum CodingKeys: String, CodingKey {
        /// `id`
        case id
        /// `run_id`
        case runID = "run_id"
        /// `target`
        case target
        /// `step`
        case step
        /// `path`
        case path
        /// `existed`
        case existed
        /// `content`
        case content
        /// `mode`
        case mode
        /// `taken_at`
        case takenAt = "taken_at"
        /// `owner`
        case owner
        /// `grp`
        case group = "grp"
        /// `sha256`
        case sha256
    }

    /// The SHA-256 over everything a restore of this backup would use: run, target, step, path,
    /// whether it existed, content, mode, owner and group. A row edited in the store no longer
    /// matches the digest its chained event recorded.
    public var digest: String {
        var hasher = SHA256()
        let fields: [String] = [
            runID.rawValue, target, step, path, existed ? "1" : "0", mode.map { String($0) } ?? "-",
            owner.map { String($0) } ?? "-", group.map { String($0) } ?? "-",
        ]
        for field in fields {
            hasher.update(data: Data("\(field.utf8.count):".utf8))
            hasher.update(data: Data(field.utf8))
        }
        hasher.update(data: Data("\(content?.count ?? -1):".utf8))
        if let content { hasher.update(data: content) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A backup of a file that existed with `content` and `mode`.
    public static func existing(
        runID: RunID, target: String, step: String, path: String, content: Data, mode: Int, owner: Int? = nil,
        group: Int? = nil, takenAt: String
    ) -> FileBackup {
        FileBackup(id: nil, runID: runID, target: target, step: step, path: path, existed: true,
                   content: content, mode: mode, takenAt: takenAt, owner: owner, group: group)
    }

    /// A backup recording that the file did not exist.
    public static func absent(runID: RunID, target: String, step: String, path: String, takenAt: String) -> FileBackup {
        FileBackup(id: nil, runID: runID, target: target, step: step, path: path, existed: false,
                   content: nil, mode: nil, takenAt: takenAt, owner: nil, group: nil)
    }

    private init(
        id: Int64?, runID: RunID, target: String, step: String, path: String, existed: Bool,
        content: Data?, mode: Int?, takenAt: String, owner: Int?, group: Int?
    ) {
        self.id = id
        self.runID = runID
        self.target = target
        self.step = step
        self.path = path
        self.existed = existed
        self.content = content
        self.mode = mode
        self.takenAt = takenAt
        self.owner = owner
        self.group = group
        self.sha256 = nil
    }
}
