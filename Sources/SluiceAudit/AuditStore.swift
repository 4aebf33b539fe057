import Foundation
internal import GRDB
import SluiceCore

/// The audit store: one SQLite database (WAL, `synchronous=FULL`) holding runs, the
/// hash-chained event log, approvals, target locks, file backups and saved plans; the
/// ``SluiceStore`` a `--store` path names.
///
/// This type owns the schema and every query. It is safe to share between tasks, and several
/// processes may open the same file at once: every write is a `BEGIN IMMEDIATE` transaction, so
/// writers queue on SQLite's lock (with a busy timeout) instead of deadlocking on a lock upgrade.
///
/// Every method that writes returns only after its transaction committed, so a returned value
/// is on disk (`synchronous=FULL`) and survives a crash of this process or of the machine.
public final class AuditStore: Sendable {
    /// The database file's path.
    public let path: String

    let pool: DatabasePool
    let clock: @Sendable () -> Date
    let connection: StoreConnection
    let committer: GroupCommitter

    /// How long a write waits for another process's transaction before failing, per attempt.
    public static let busyTimeout: TimeInterval = 10

    /// The most events one group commit writes in a single transaction.
    public static let maximumBatch = 512

    /// Opens the store at `path`, creating it (and its folder) when `createIfMissing` is true,
    /// and brings its schema up to date.
    ///
    /// A folder this creates gets mode 0700; a database file it creates gets mode 0600, and so
    /// do SQLite's `-wal` and `-shm` files. `clock` gives the time written into rows (tests pass
    /// a fixed one).
    ///
    /// - Throws: ``AuditStoreError/storeNotFound(path:)`` when the file is missing and
    ///   `createIfMissing` is false; ``AuditStoreError/cannotCreate(path:reason:)`` or
    ///   ``AuditStoreError/cannotOpen(path:underlying:)`` otherwise.
    public init(path: String, createIfMissing: Bool = true, clock: @escaping @Sendable () -> Date = { Date() }) throws {
        self.path = path
        self.clock = clock
        if FileManager.default.fileExists(atPath: path) == false {
            guard createIfMissing else { throw AuditStoreError.storeNotFound(path: path) }
            try Self.createEmptyFile(at: path)
        }

        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.label = "SluiceAudit"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try Self.openPool(path: path, configuration: configuration)
        } catch let error as AuditStoreError {
            throw error
        } catch {
            throw AuditStoreError.cannotOpen(path: path, underlying: error)
        }
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            _ = chmod(path + suffix, 0o600)
        }
        let connection = StoreConnection(path: path, pool: pool, clock: clock)
        self.connection = connection
        committer = GroupCommitter(maximumBatch: Self.maximumBatch) { events in
            try await connection.commit(events)
        }
    }

    /// Opens the pool, restores `synchronous=FULL` and migrates.
    ///
    /// Processes opening a brand-new file at the same moment race to switch it to WAL, and
    /// SQLite answers the loser `SQLITE_BUSY` at once, without waiting for its busy timeout; so
    /// a busy open is retried, briefly and with jitter, for a few seconds.
    private static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        var attempt = 0
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                // DatabasePool switches its writer to `synchronous=NORMAL` when it enables WAL,
                // after prepareDatabase ran: put FULL back, or a power loss could undo commits.
                try pool.barrierWriteWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                }
                try migrate(pool)
                return pool
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 100 {
                attempt += 1
                usleep(useconds_t(10_000 + Int.random(in: 0..<40_000)))
            }
        }
    }

    /// Runs the migrations, tolerating another process that migrates the same new file at the
    /// same moment: GRDB reads the applied migrations outside the migration's transaction, so
    /// the loser of that race fails (table exists, or busy) and then finds the work done.
    private static func migrate(_ pool: DatabasePool) throws {
        var attempt = 0
        while true {
            do {
                try migrator.migrate(pool)
                return
            } catch {
                attempt += 1
                let done = (try? pool.read { try migrator.hasCompletedMigrations($0) }) ?? false
                if done { return }
                if attempt >= 5 { throw error }
            }
        }
    }

    private static func createEmptyFile(at path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw AuditStoreError.cannotCreate(path: path, reason: "cannot create folder \(folder): \(error)")
            }
            guard chmod(folder, 0o700) == 0 else {
                throw AuditStoreError.cannotCreate(path: path, reason: "cannot set mode 0700 on \(folder): \(Self.lastError)")
            }
        }
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw AuditStoreError.cannotCreate(path: path, reason: Self.lastError)
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else {
            throw AuditStoreError.cannotCreate(path: path, reason: "cannot set mode 0600: \(Self.lastError)")
        }
    }

    private static var lastError: String { String(cString: strerror(errno)) }

    /// The current time in the store's text form.
    func now() -> String { Timestamp.format(clock()) }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction and returns after COMMIT.
    ///
    /// SQLite's busy handler waits up to ``busyTimeout`` for the write lock; should that run
    /// out, the transaction is retried twice more before failing, so a busy store slows callers
    /// down but does not fail them.
    func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await connection.write(operation, body)
    }

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as AuditStoreError {
            throw error
        } catch {
            throw AuditStoreError.databaseFailure(path: path, operation: operation, underlying: error)
        }
    }
}

extension AuditStore: SluiceStore {
    /// The database file's path.
    public var location: String { path }
}

/// The parts of the store the group committer needs, without a reference cycle to the store.
///
/// Writes run synchronously on one serial dispatch queue and resume their caller through a
/// continuation. Two reasons not to use GRDB's async writes here: they hop through more
/// executors (measurably slower per durable append), and they abort when the calling task is
/// cancelled, which would let one cancelled caller fail a whole group-commit batch. A write
/// that has started always runs to COMMIT or ROLLBACK, whatever happens to the task waiting
/// for it.
struct StoreConnection: Sendable {
    let path: String
    let pool: DatabasePool
    let clock: @Sendable () -> Date
    let queue = DispatchQueue(label: "SluiceAudit.write", qos: .userInitiated)

    func write<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try writeNow(operation, body) })
            }
        }
    }

    /// One `BEGIN IMMEDIATE` transaction, retried when SQLite stays busy past the timeout.
    private func writeNow<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try pool.writeWithoutTransaction { db in
                    try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
                    do {
                        let result = try body(db)
                        try db.cachedStatement(sql: "COMMIT").execute()
                        return result
                    } catch {
                        if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                        throw error
                    }
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 2 {
                attempt += 1
            } catch let error as AuditStoreError {
                throw error
            } catch {
                throw AuditStoreError.databaseFailure(path: path, operation: operation, underlying: error)
            }
        }
    }

    /// Commits a group-commit batch on the leader's own thread. The leader has nothing else to
    /// do until its batch is durable, and skipping the hop to the write queue and back saves
    /// two thread switches per batch, which on a small machine cost more than the fsync. The
    /// write cannot be abandoned halfway: synchronous code does not observe cancellation.
    func commit(_ events: [PreparedEvent]) async throws -> [RecordedEvent] {
        try writeNow("appending \(events.count) event(s)") { db in
            try AuditStore.insertChained(events, time: Timestamp.format(clock()), in: db)
        }
    }
}
