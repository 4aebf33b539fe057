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
    /// The acquisition that holds it: renewals and the release must carry this token.
    public var token: LeaseToken

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
        /// `token`
        case token
    }

    /// Creates a lease row.
    public init(
        runID: RunID, host: String, pid: Int32, acquiredAt: String, heartbeatAt: String, ttlMilliseconds: Int64,
        token: LeaseToken
    ) {
        self.runID = runID
        self.host = host
        self.pid = pid
        self.acquiredAt = acquiredAt
        self.heartbeatAt = heartbeatAt
        self.ttlMilliseconds = ttlMilliseconds
        self.token = token
    }
}

/// What asking for a run's lease gave.
public enum RunLeaseResult: Sendable, Equatable {
    /// This process drives the run now, with this token: the one to renew and release the
    /// lease with.
    case acquired(LeaseToken)
    /// Another live process drives it; nothing changed.
    case heldBy(RunLease)
}
