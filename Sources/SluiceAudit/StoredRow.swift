internal import GRDB

/// A record type the SQLite store keeps as one row of a table.
///
/// The record types (``RunRecord``, ``TargetLock``, ``RecordedEvent``, …) are plain public
/// values, so that another store can return them too; GRDB's row mapping is ``StoredRow``'s,
/// inside this module. The columns are the value's coding keys.
protocol StoredValue: Codable, Sendable {
    /// The value's coding keys, which name the table's columns.
    associatedtype CodingKeys: CodingKey
    /// The table's name.
    static var tableName: String { get }
    /// Takes the row id SQLite assigned on insert; nothing for a table keyed by its content.
    mutating func didInsert(rowID: Int64)
}

extension StoredValue {
    mutating func didInsert(rowID: Int64) {}
}

/// GRDB's record for a ``StoredValue``: a row is read and written through the value's own
/// `Codable` conformance, so each column holds exactly what it held when the value's type was
/// itself GRDB's record (text for a run id or an outcome, a BLOB for a backup's content).
struct StoredRow<Value: StoredValue>: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static var databaseTableName: String { Value.tableName }

    /// The stored value.
    var value: Value

    init(_ value: Value) { self.value = value }

    init(from decoder: any Decoder) throws { value = try Value(from: decoder) }

    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }

    mutating func didInsert(_ inserted: InsertionSuccess) { value.didInsert(rowID: inserted.rowID) }

    /// The column `key` names, for the query interface.
    static func column(_ key: Value.CodingKeys) -> Column { Column(key) }
}

typealias EventRow = StoredRow<RecordedEvent>
typealias RunRow = StoredRow<RunRecord>
typealias LockRow = StoredRow<TargetLock>
typealias RunLeaseRow = StoredRow<RunLease>
typealias ApprovalRow = StoredRow<ApprovalRecord>
typealias BackupRow = StoredRow<FileBackup>
typealias SavedPlanRow = StoredRow<SavedPlan>

extension RecordedEvent: StoredValue {
    static let tableName = "events"
}

extension RunRecord: StoredValue {
    static let tableName = "runs"
}

extension TargetLock: StoredValue {
    static let tableName = "locks"
}

extension RunLease: StoredValue {
    static let tableName = "run_leases"
}

extension SavedPlan: StoredValue {
    static let tableName = "saved_plans"
}

extension ApprovalRecord: StoredValue {
    static let tableName = "approvals"
    mutating func didInsert(rowID: Int64) { id = rowID }
}

extension FileBackup: StoredValue {
    static let tableName = "file_backups"
    mutating func didInsert(rowID: Int64) { id = rowID }
}
