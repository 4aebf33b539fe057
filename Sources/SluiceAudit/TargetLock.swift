import SluiceCore

/// One row of the `locks` table: a target reserved for one run.
public struct TargetLock: Codable, Sendable, Hashable, Lease {
    /// The target's name (the primary key: one holder per target).
    public var target: String
    /// The run holding it.
    public var runID: RunID
    /// The host the holder runs on.
    public var host: String
    /// The holder's process id on that host.
    public var pid: Int32
    /// When the lock was taken, in ``Timestamp`` form.
    public var acquiredAt: String
    /// The holder's last heartbeat, in ``Timestamp`` form.
    public var heartbeatAt: String
    /// How long after its last heartbeat the lock may be considered stale, in milliseconds.
    public var ttlMilliseconds: Int64
    /// The acquisition that holds it: heartbeats and releases must carry this token.
    public var token: LeaseToken

    /// The column names.
    enum CodingKeys: String, CodingKey {
        /// `target`
        case target
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

    /// Creates a lock row.
    public init(target: String, runID: RunID, host: String, pid: Int32, acquiredAt: String, heartbeatAt: String,
                ttlMilliseconds: Int64, token: LeaseToken) {
        self.target = target
        self.runID = runID
        self.host = host
        self.pid = pid
        self.acquiredAt = acquiredAt
        self.heartbeatAt = heartbeatAt
        self.ttlMilliseconds = ttlMilliseconds
        self.token = token
    }
}

/// Whether a lock's holder is still there, as far as this machine can tell.
public enum LockState: String, Sendable, Hashable, Codable {
    /// The holder's process still exists on this host, or (another host) its heartbeat is
    /// within its TTL.
    case live
    /// The holder's process is gone from this host.
    case stale
    /// The heartbeat is older than its TTL (or unreadable) but the holder runs on another host,
    /// whose processes cannot be checked from here. A target lock in this state is treated as
    /// live: never forced from here. A run's lease in this state is taken over by the next
    /// driver of the run.
    case unverifiable
}

/// Who takes a lock: a run, and the process on a host that runs it.
public struct LockHolder: Sendable, Hashable {
    /// The run.
    public var runID: RunID
    /// The host name (see ``ProcessProbe/hostName``).
    public var host: String
    /// The process id.
    public var pid: Int32

    /// Creates a holder.
    public init(runID: RunID, host: String, pid: Int32) {
        self.runID = runID
        self.host = host
        self.pid = pid
    }

    /// The current process, on this host, for `runID`.
    public static func current(runID: RunID) -> LockHolder {
        LockHolder(runID: runID, host: ProcessProbe.hostName, pid: ProcessProbe.currentPID)
    }
}

/// A lock that stopped an acquisition, with what is known of its holder.
public struct LockConflict: Sendable, Hashable {
    /// The lock held by another run.
    public var lock: TargetLock
    /// Whether its holder is still there.
    public var state: LockState

    /// Creates a conflict: `lock`, judged `state` by the store's clock.
    public init(lock: TargetLock, state: LockState) {
        self.lock = lock
        self.state = state
    }
}

/// The result of ``LeaseStore/acquireLocks(on:for:ttl:actor:redactor:)``.
public enum LockAcquisition: Sendable, Hashable {
    /// Every requested target is now held by the run, each lock with `token`, this
    /// acquisition's: the one to heartbeat and release them with.
    case acquired([TargetLock], token: LeaseToken)
    /// Nothing was taken: these targets are held by other runs.
    case blocked([LockConflict])
}
