internal import GRDB
import SluiceCore

/// One row of the `run_leases` table: the one process driving a run (`apply`, `resume` or
/// `rollback`) now. Target locks keep other runs off a run's targets; the lease keeps a second
/// process off the run itself.
public struct RunLease: Codable, Sendable, Hashable, Lease {
    /// The run driven.
    public var runID: RunID
    /// The host the driver runs on.
    public var host: String
    /// The driver's process id on that host.
    public var pid: Int32
    /// When the driver took the run, in ``Timestamp`` form.
    public var acquiredAt: String
    /// The driver's last heartbeat, in ``Timestamp`` form.
    public var heartbeatAt: String
    /// How long after its last heartbeat a driver on another host may be taken over.
    public var ttlMilliseconds: Int64

    /// The column names.
    enum CodingKeys: String, CodingKey {
        /// `run_id`
        case runID = "run_id"
        /// `host`
        case host
        /// `pid`
        case pid
        /// `acquired_at`
        case acquiredAt = "acquired_at"
        /// `heartbeat_at`
        case heartbeatAt = "heartbeat_at"
        /// `ttl_ms`
        case ttlMilliseconds = "ttl_ms"
    }
}

/// What asking for a run's lease gave.
public enum RunLeaseResult: Sendable, Equatable {
    /// This process drives the run now.
    case acquired
    /// Another live process drives it; nothing changed.
    case heldBy(RunLease)
}

extension AuditStore {
    /// Makes this process (`host`, `pid`) the run's one driver, in one transaction: free, held
    /// by this process already, or held by a driver that is gone (on this host: its process is
    /// gone; on another: its heartbeat is older than its TTL), the lease is taken; held by a live
    /// driver, nothing changes and the answer names it.
    public func acquireRunLease(_ runID: RunID, host: String, pid: Int32, ttl: Duration) async throws -> RunLeaseResult {
        let date = clock()
        let now = Timestamp.format(date)
        return try await write("leasing run \(runID)") { db in
            if let held = try RunLeaseRow.fetchOne(db, key: runID.rawValue)?.value, held.host != host || held.pid != pid,
                held.state(at: date, holder: held.holderProcess) == .live
            {
                return .heldBy(held)
            }
            var row = RunLeaseRow(RunLease(
                runID: runID, host: host, pid: pid, acquiredAt: now, heartbeatAt: now,
                ttlMilliseconds: Self.milliseconds(ttl)))
            try row.save(db)
            return .acquired
        }
    }

    /// Refreshes the lease's heartbeat; returns whether this process still holds it.
    public func renewRunLease(_ runID: RunID, host: String, pid: Int32) async throws -> Bool {
        let now = now()
        return try await write("renewing the lease of \(runID)") { db in
            try db.execute(
                sql: "UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ? AND host = ? AND pid = ?",
                arguments: [now, runID.rawValue, host, pid])
            return db.changesCount == 1
        }
    }

    /// Gives the run up, if this process holds it.
    public func releaseRunLease(_ runID: RunID, host: String, pid: Int32) async throws {
        try await write("releasing the lease of \(runID)") { db in
            try db.execute(
                sql: "DELETE FROM run_leases WHERE run_id = ? AND host = ? AND pid = ?", arguments: [runID.rawValue, host, pid])
        }
    }
}
