import Foundation

/// What a store keeps for one holder of something exclusive: a target lock (``TargetLock``) or
/// a run's lease (``RunLease``). The holder renews it with a heartbeat; the store judges whether
/// it still holds with ``state(at:holder:)``.
public protocol Lease: Sendable {
    /// The host the holder runs on (see ``ProcessProbe/hostName``).
    var host: String { get }
    /// The holder's process id on that host.
    var pid: Int32 { get }
    /// The holder's last heartbeat, in ``Timestamp`` form, by the store's clock.
    var heartbeatAt: String { get }
    /// How long after its last heartbeat the lease may be considered expired, in milliseconds.
    var ttlMilliseconds: Int64 { get }
}

/// What this machine can tell of a lease holder's process.
public enum HolderProcess: Sendable, Hashable {
    /// The holder runs on this host and its process exists (or cannot be told apart from one
    /// that does: another user's, or a recycled pid).
    case runningHere
    /// The holder runs on this host and its process is certainly gone (`kill(pid, 0)` fails
    /// with `ESRCH`).
    case goneHere
    /// The holder runs on another host, whose processes cannot be checked from here.
    case elsewhere

    /// Asks this machine about process `pid` of `host`.
    public static func probe(host: String, pid: Int32) -> HolderProcess {
        guard host == ProcessProbe.hostName else { return .elsewhere }
        return ProcessProbe.isGone(pid: pid) ? .goneHere : .runningHere
    }
}

extension Lease {
    /// Whether the lease's holder still holds it at `now`, the store's clock, given what this
    /// machine knows of the holder's process. A pure function: every store and every kind of
    /// lease judges liveness with it.
    ///
    /// On this host the process decides at once: a holder whose process is gone holds nothing,
    /// however fresh its last heartbeat (``LockState/stale``), and one whose process is there
    /// holds, however old its heartbeat (``LockState/live``). A holder on another host is live
    /// while its heartbeat is at most its TTL old by `now`; past that, or when the heartbeat
    /// cannot be read, it is ``LockState/unverifiable``: expired, but perhaps still running.
    ///
    /// What `unverifiable` means is the caller's: a target lock in that state is treated as live
    /// and never forced; a run's lease in that state is taken over by the next driver of the run
    /// (only `.live` keeps it), as SPEC section 4 says.
    public func state(at now: Date, holder: HolderProcess) -> LockState {
        switch holder {
        case .goneHere: return .stale
        case .runningHere: return .live
        case .elsewhere:
            let nowMilliseconds = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
            guard let heartbeat = Timestamp.milliseconds(heartbeatAt) else { return .unverifiable }
            return nowMilliseconds - heartbeat <= ttlMilliseconds ? .live : .unverifiable
        }
    }

    /// What this machine can tell of the holder's process, now (``HolderProcess/probe(host:pid:)``).
    public var holderProcess: HolderProcess { .probe(host: host, pid: pid) }
}
