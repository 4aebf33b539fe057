import Foundation
internal import GRDB
import SluiceCore

extension AuditStore {
    /// Locks every target in `targets` for `holder`'s run, all or nothing, in one transaction
    /// that also appends one `lock.acquired` event per newly locked target.
    ///
    /// A target already held by the same run is kept (its holder and heartbeat refreshed), so a
    /// resumed run can take its targets back. Every lock this takes or takes back gets the
    /// acquisition's fresh token, which the answer carries: a previous holder of the run's locks
    /// can no longer heartbeat or release them. A target held by another run blocks the whole
    /// acquisition, whatever the state of that lock: a stale lock belongs to an interrupted or
    /// halted run, and only `resume`, `rollback` or `sluice unlock` may take it away. The
    /// returned conflicts say whether each holder looks live or stale.
    public func acquireLocks(
        on targets: [String], for holder: LockHolder, ttl: Duration, actor: String, redactor: Redactor
    ) async throws -> LockAcquisition {
        let ttlMilliseconds = Self.milliseconds(ttl)
        let names = Array(Set(targets)).sorted()
        let token = LeaseToken.random()
        return try await write("locking \(names.count) target(s)") { [self] db in
            let nowText = now()
            let existing = try LockRow.fetchAll(db, keys: names).map(\.value)
            let conflicts = existing.filter { $0.runID != holder.runID }
            if !conflicts.isEmpty {
                return .blocked(conflicts.map { LockConflict(lock: $0, state: state(of: $0)) })
            }
            let alreadyHeld = Dictionary(uniqueKeysWithValues: existing.map { ($0.target, $0) })
            var locks: [TargetLock] = []
            var drafts: [EventDraft] = []
            for name in names {
                let lock = TargetLock(
                    target: name, runID: holder.runID, host: holder.host, pid: holder.pid,
                    acquiredAt: alreadyHeld[name]?.acquiredAt ?? nowText, heartbeatAt: nowText,
                    ttlMilliseconds: ttlMilliseconds, token: token)
                var row = LockRow(lock)
                try row.save(db)
                locks.append(lock)
                if alreadyHeld[name] == nil {
                    drafts.append(EventDraft(
                        runID: holder.runID, actor: actor, kind: .lockAcquired, target: name,
                        detail: ["host": .string(holder.host), "pid": .integer(Int64(holder.pid)),
                                 "ttl_ms": .integer(ttlMilliseconds)]))
                }
            }
            _ = try appendInTransaction(drafts, redactor: redactor, in: db)
            return .acquired(locks, token: token)
        }
    }

    /// Refreshes the heartbeat of every lock `runID` holds with `token` and returns the targets
    /// it still holds with it. A target missing from the answer was forced away with `sluice
    /// unlock`, or taken back by another acquisition of the run (another process resumed it):
    /// its lock, if any, is left as it is.
    public func heartbeat(_ runID: RunID, token: LeaseToken) async throws -> [String] {
        try await write("refreshing the heartbeat of \(runID)") { [self] db in
            let nowText = now()
            try db.execute(
                sql: "UPDATE locks SET heartbeat_at = ? WHERE run_id = ? AND token = ?",
                arguments: [nowText, runID.rawValue, token.rawValue])
            return try String.fetchAll(
                db, sql: "SELECT target FROM locks WHERE run_id = ? AND token = ? ORDER BY target",
                arguments: [runID.rawValue, token.rawValue])
        }
    }

    /// Releases the locks `runID` holds with `token` (all of them, or only `targets`) and
    /// appends one `lock.released` event per released target, in one transaction. Returns the
    /// released targets; releasing what is not held, or held with another token, is not an
    /// error: it releases nothing and records nothing.
    @discardableResult
    public func releaseLocks(
        of runID: RunID, token: LeaseToken, targets: [String]?, actor: String, redactor: Redactor
    ) async throws -> [String] {
        try await write("releasing the locks of \(runID)") { [self] db in
            var request = LockRow.filter(LockRow.column(.runID) == runID.rawValue && LockRow.column(.token) == token.rawValue)
            if let targets { request = request.filter(targets.contains(LockRow.column(.target))) }
            let released = try request.order(LockRow.column(.target)).fetchAll(db).map(\.value)
            _ = try request.deleteAll(db)
            _ = try appendInTransaction(
                released.map { EventDraft(runID: runID, actor: actor, kind: .lockReleased, target: $0.target) },
                redactor: redactor, in: db)
            return released.map(\.target)
        }
    }

    /// Every lock, by target name.
    public func locks() async throws -> [TargetLock] {
        try await read("reading locks") { db in try LockRow.order(LockRow.column(.target)).fetchAll(db).map(\.value) }
    }

    /// The lock on `target`, or `nil`.
    public func lock(on target: String) async throws -> TargetLock? {
        try await read("reading the lock on \(target)") { db in try LockRow.fetchOne(db, key: target)?.value }
    }

    /// Whether `lock`'s holder is still there, now.
    ///
    /// Stale means: its holder runs on this host and its process is gone (`kill(pid, 0)` fails
    /// with `ESRCH`), whatever its heartbeat's age. A holder on another host cannot be checked
    /// from here: live while its heartbeat is fresh, then ``LockState/unverifiable``, which
    /// callers treat as live. Judged by ``Lease/state(at:holder:)`` with the store's clock.
    public func state(of lock: TargetLock) -> LockState {
        lock.state(at: clock(), holder: lock.holderProcess)
    }

    /// Frees the lock on `target` if, and only if, it is stale, and appends `lock.forced` with
    /// `actor`, `reason` and the former holder, in one transaction. Returns the freed lock and
    /// the recorded event.
    ///
    /// - Throws: ``AuditStoreError/lockNotFound(target:)`` when nothing holds the target;
    ///   ``AuditStoreError/lockHolderMayBeAlive(_:_:)`` when the holder is live or cannot be
    ///   checked (nothing changes).
    @discardableResult
    public func forceUnlock(
        target: String, actor: String, reason: String
    ) async throws -> (lock: TargetLock, event: RecordedEvent) {
        try await write("forcing the lock on \(target)") { [self] db in
            guard let lock = try LockRow.fetchOne(db, key: target)?.value else {
                throw AuditStoreError.lockNotFound(target: target)
            }
            let lockState = state(of: lock)
            guard lockState == .stale else { throw AuditStoreError.lockHolderMayBeAlive(lock, lockState) }
            _ = try LockRow(lock).delete(db)
            let draft = EventDraft(
                runID: lock.runID, actor: actor, kind: .lockForced, target: target,
                detail: [
                    "reason": .string(reason), "holder_host": .string(lock.host),
                    "holder_pid": .integer(Int64(lock.pid)), "heartbeat_at": .string(lock.heartbeatAt),
                    "forced_from_host": .string(ProcessProbe.hostName),
                ])
            let recorded = try appendInTransaction([draft], redactor: .none, in: db)
            guard let event = recorded.first else {
                preconditionFailure("appending lock.forced for \(target) recorded no event")
            }
            return (lock, event)
        }
    }
}

extension AuditStore {
    /// Makes this process (`host`, `pid`) the run's one driver, in one transaction: free, held
    /// by this process already, or held by a driver that is gone (on this host: its process is
    /// gone; on another: its heartbeat is older than its TTL), the lease is taken; held by a live
    /// driver, nothing changes and the answer names it. Taking it writes a fresh token, even
    /// when this process held it already: the one the answer carries.
    public func acquireRunLease(_ runID: RunID, host: String, pid: Int32, ttl: Duration) async throws -> RunLeaseResult {
        let date = clock()
        let now = Timestamp.format(date)
        let token = LeaseToken.random()
        return try await write("leasing run \(runID)") { db in
            if let held = try RunLeaseRow.fetchOne(db, key: runID.rawValue)?.value, held.host != host || held.pid != pid,
                held.state(at: date, holder: held.holderProcess) == .live
            {
                return .heldBy(held)
            }
            var row = RunLeaseRow(RunLease(
                runID: runID, host: host, pid: pid, acquiredAt: now, heartbeatAt: now,
                ttlMilliseconds: Self.milliseconds(ttl), token: token))
            try row.save(db)
            return .acquired(token)
        }
    }

    /// Refreshes the lease's heartbeat if it is still held with `token`; returns whether it is.
    /// A lease taken over since (its token changed) or given up is left as it is.
    public func renewRunLease(_ runID: RunID, token: LeaseToken) async throws -> Bool {
        let now = now()
        return try await write("renewing the lease of \(runID)") { db in
            try db.execute(
                sql: "UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ? AND token = ?",
                arguments: [now, runID.rawValue, token.rawValue])
            return db.changesCount == 1
        }
    }

    /// Gives the run up if it is still held with `token`; returns whether it was. A lease taken
    /// over since is left to its new holder.
    @discardableResult
    public func releaseRunLease(_ runID: RunID, token: LeaseToken) async throws -> Bool {
        try await write("releasing the lease of \(runID)") { db in
            try db.execute(
                sql: "DELETE FROM run_leases WHERE run_id = ? AND token = ?", arguments: [runID.rawValue, token.rawValue])
            return db.changesCount == 1
        }
    }

    /// `duration` in whole milliseconds, at least 1 (a TTL is never 0).
    static func milliseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return max(1, parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000)
    }
}
