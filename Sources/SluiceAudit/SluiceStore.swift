import SluiceCore

// The store contract: what the engine, a run's session and the commands need from a store, in
// one protocol per role, and what a second backend (SPEC section 7's PostgreSQL store) must
// guarantee to stand in for the SQLite one. Every store returns the same plain values
// (`RecordedEvent`, `TargetLock`, …), reuses the shared pure code (`CanonicalJSON`,
// `EventChain`, `ChainVerifier`, `AuditAnchor`, `Lease.state(at:holder:)`, `BackupCheck`,
// `DrivingTime`) and throws `AuditStoreError` where the contract names it.
//
// Two rules hold for every method that writes, in every role:
// - Durable on return: when the call returns, what it wrote is committed and survives a crash
//   of the process or of the machine; when it throws, nothing of it was written.
// - One transaction: everything a call writes (a lock and its `lock.acquired` event, a backup
//   and its `file.backed_up` event) commits together or not at all, as one step of the log's
//   order (see ``EventLog``).

/// The hash-chained, append-only event log (SPEC section 5).
public protocol EventLog: Sendable {
    /// Appends an event to the chain and returns it as recorded.
    ///
    /// Contract: appends are linearizable. Every append, from any task and any process or
    /// machine sharing the store, takes effect at one point between its call and its return,
    /// and the chain is that order: the event's `seq` is one more than the highest ever issued
    /// before it and its `prevHash` is the hash of the event just before it, whoever appended
    /// that one. The returned event is durable. Every string of the detail goes through
    /// `redactor` before anything is hashed or written; the hash is
    /// ``RecordedEvent/expectedHash``. Events are never updated or deleted.
    ///
    /// - Throws: ``AuditStoreError/invalidEvent(_:)`` for an empty actor or kind (nothing is
    ///   written); any other error means the event was not recorded.
    @discardableResult
    func append(_ draft: EventDraft, redactor: Redactor) async throws -> RecordedEvent

    /// Appends `drafts` in one transaction, in order, next to each other in the chain, with
    /// ``append(_:redactor:)``'s contract for each; nothing is written when any draft is
    /// invalid.
    @discardableResult
    func append(contentsOf drafts: [EventDraft], redactor: Redactor) async throws -> [RecordedEvent]

    /// Every event, or only those of `runID`, in chain order (by `seq`), as stored: a damaged
    /// row is returned as it reads, for ``verify(anchors:)`` to judge.
    func events(of runID: RunID?) async throws -> [RecordedEvent]

    /// The number of events in the chain.
    func eventCount() async throws -> Int

    /// The newest event, the chain's head, or `nil` for an empty store. Verifies nothing.
    func head() async throws -> RecordedEvent?

    /// Recomputes the whole chain from one consistent snapshot (appends may go on meanwhile)
    /// with ``ChainVerifier``, and checks each of `anchors` with ``AuditAnchor/problem(in:)``.
    /// A store that can tell more (SQLite: the highest seq ever issued, a column of the wrong
    /// type) reports it in the same ``ChainReport``.
    func verify(anchors: [AuditAnchor]) async throws -> ChainReport
}

extension EventLog {
    /// Every event, in chain order.
    public func events() async throws -> [RecordedEvent] { try await events(of: nil) }

    /// Recomputes the whole chain, with no anchor to check.
    public func verify() async throws -> ChainReport { try await verify(anchors: []) }
}

/// Target locks (one run per target) and run leases (one driver per run): leases with a TTL
/// and a fencing token (SPEC sections 4 and 7).
///
/// Contract: a lease's liveness is judged by the store's own clock, the one it writes
/// `heartbeatAt` with, against the lease's TTL, through ``Lease/state(at:holder:)``; never by
/// the asking runner's clock alone. Each acquisition or takeover writes a fresh
/// ``LeaseToken`` and returns it; a heartbeat, renewal or release carrying any other token
/// changes nothing and says so in its answer. Lock changes append their events (`lock.acquired`,
/// `lock.released`, `lock.forced`) in the same transaction.
public protocol LeaseStore: Sendable {
    /// Locks every target in `targets` for `holder`'s run, all or nothing, with `ttl`.
    ///
    /// A target already held by the same run is taken back (holder, heartbeat and token
    /// replaced); a target held by another run blocks the whole acquisition, whatever that
    /// lock's state, and the answer lists each conflict with its state. Appends one
    /// `lock.acquired` (by `actor`, redacted with `redactor`) per target newly locked.
    func acquireLocks(
        on targets: [String], for holder: LockHolder, ttl: Duration, actor: String, redactor: Redactor
    ) async throws -> LockAcquisition

    /// Refreshes, by the store's clock, the heartbeat of every lock `runID` holds with `token`,
    /// and returns the targets it still holds with it, by name. A target missing from the answer
    /// was freed or taken over, and is left as it is.
    func heartbeat(_ runID: RunID, token: LeaseToken) async throws -> [String]

    /// Frees the locks `runID` holds with `token` (all, or only `targets`), appending one
    /// `lock.released` per target freed, and returns the freed targets, by name. Locks held
    /// with another token are left as they are; freeing nothing is not an error.
    @discardableResult
    func releaseLocks(
        of runID: RunID, token: LeaseToken, targets: [String]?, actor: String, redactor: Redactor
    ) async throws -> [String]

    /// Every lock, by target name.
    func locks() async throws -> [TargetLock]

    /// The lock on `target`, or `nil`.
    func lock(on target: String) async throws -> TargetLock?

    /// Whether `lock`'s holder still holds it now, by the store's clock
    /// (``Lease/state(at:holder:)`` with ``Lease/holderProcess``).
    func state(of lock: TargetLock) async throws -> LockState

    /// Frees the lock on `target` if, and only if, it is ``LockState/stale`` by the store's
    /// clock, appending `lock.forced` (by `actor`, with `reason` and the former holder); returns
    /// the freed lock and that event.
    ///
    /// - Throws: ``AuditStoreError/lockNotFound(target:)`` when nothing holds the target;
    ///   ``AuditStoreError/lockHolderMayBeAlive(_:_:)`` when its holder is live or
    ///   unverifiable. Nothing changes then.
    @discardableResult
    func forceUnlock(target: String, actor: String, reason: String) async throws -> (lock: TargetLock, event: RecordedEvent)

    /// Makes process `pid` of `host` the run's one driver, with `ttl`: the lease is taken when
    /// it is free, held by this same process, or held by a driver that is not
    /// ``LockState/live`` by the store's clock; a fresh token is written and returned. Held by
    /// a live driver, nothing changes and the answer names it.
    func acquireRunLease(_ runID: RunID, host: String, pid: Int32, ttl: Duration) async throws -> RunLeaseResult

    /// Refreshes the run lease's heartbeat, by the store's clock, if it is held with `token`;
    /// returns whether it is (false: taken over, or given up).
    func renewRunLease(_ runID: RunID, token: LeaseToken) async throws -> Bool

    /// Gives the run's lease up if it is held with `token`; returns whether it was.
    @discardableResult
    func releaseRunLease(_ runID: RunID, token: LeaseToken) async throws -> Bool
}

extension LeaseStore {
    /// Frees every lock `runID` holds with `token`
    /// (``releaseLocks(of:token:targets:actor:redactor:)`` for all its targets).
    @discardableResult
    public func releaseLocks(of runID: RunID, token: LeaseToken, actor: String, redactor: Redactor) async throws -> [String] {
        try await releaseLocks(of: runID, token: token, targets: nil, actor: actor, redactor: redactor)
    }
}

/// The index of runs: one mutable row per run beside the chain, which stays authoritative
/// (`run.started` and `run.finished` repeat what the row says).
public protocol RunCatalog: Sendable {
    /// Records a new run's row.
    ///
    /// - Throws: ``AuditStoreError/duplicateRun(_:)`` when the id is taken (nothing changes).
    func createRun(_ run: RunRecord) async throws

    /// Sets a run's outcome and finish time (the store's clock) and returns the updated row;
    /// calling it again replaces them.
    ///
    /// - Throws: ``AuditStoreError/unknownRun(_:)``.
    @discardableResult
    func finishRun(_ id: RunID, outcome: RunOutcome) async throws -> RunRecord

    /// Hands a run to process `pid` of `host` (a resume or rollback): records it as the runner
    /// and clears the outcome and finish time until it finishes again.
    ///
    /// - Throws: ``AuditStoreError/unknownRun(_:)``.
    @discardableResult
    func reopenRun(_ id: RunID, host: String, pid: Int32) async throws -> RunRecord

    /// The run with this id, or `nil`.
    func run(_ id: RunID) async throws -> RunRecord?

    /// Runs, newest first (by start time, then id); at most `limit` when given.
    func runs(limit: Int?) async throws -> [RunRecord]

    /// How long runners drove each of `runs`, in milliseconds, as ``DrivingTime`` reckons it
    /// from the run's events; a run with no events is absent from the answer.
    func drivenMilliseconds(of runs: [RunID]) async throws -> [RunID: Int64]
}

extension RunCatalog {
    /// Every run, newest first.
    public func runs() async throws -> [RunRecord] { try await runs(limit: nil) }
}

/// Approvals of a runbook's exact content (SPEC section 4's gates).
public protocol ApprovalBook: Sendable {
    /// Records `approval` with the store's clock as its time and its comment redacted, appends
    /// `approval.recorded` (by `actor`, else the approver) in the same transaction, and returns
    /// it with its id.
    func recordApproval(_ approval: ApprovalRecord, actor: String?, redactor: Redactor) async throws -> ApprovalRecord

    /// Approvals of exactly this content of this runbook, oldest first.
    func approvals(runbookID: String, contentHash: String) async throws -> [ApprovalRecord]

    /// The most recent approval of any content of this runbook, or `nil`.
    func latestApproval(runbookID: String) async throws -> ApprovalRecord?
}

extension ApprovalBook {
    /// Records `approval` with its approver as the event's actor.
    public func recordApproval(_ approval: ApprovalRecord, redactor: Redactor) async throws -> ApprovalRecord {
        try await recordApproval(approval, actor: nil, redactor: redactor)
    }
}

/// File backups that rollback restores, each made tamper-evident by a chained
/// `file.backed_up` event.
public protocol BackupStore: Sendable {
    /// Stores `backup` with its ``FileBackup/digest`` and appends `file.backed_up` (by `actor`,
    /// redacted with `redactor`) recording that digest, in one transaction, and returns it with
    /// its id. The first backup wins: one already stored for the same run, target, step and path
    /// is returned unchanged and nothing is written. The run must exist.
    func storeBackup(_ backup: FileBackup, actor: String, redactor: Redactor) async throws -> FileBackup

    /// The backups taken during a run, in the order they were taken.
    func backups(of runID: RunID) async throws -> [FileBackup]

    /// The run's backups, each checked with ``BackupCheck/verified(_:of:recorded:)``.
    ///
    /// - Throws: ``AuditStoreError/backupTampered(path:runID:reason:)`` for the first that does
    ///   not match its event.
    func verifiedBackups(of runID: RunID) async throws -> [FileBackup]

    /// Every backup of the store checked with ``BackupCheck/problems(in:recorded:)``.
    func backupProblems() async throws -> (problems: [String], unchained: Int)
}

/// Saved plans: `sluice plan --out` and every run's journal, as JSON text.
public protocol PlanStore: Sendable {
    /// Saves `plan`, replacing one with the same id. Its JSON is stored as given.
    func savePlan(_ plan: SavedPlan) async throws

    /// The saved plan with this id, or `nil`.
    func plan(id: String) async throws -> SavedPlan?
}

/// Everything Sluice keeps: the store the commands open (``AuditStore`` for a SQLite file).
public protocol SluiceStore: EventLog, LeaseStore, RunCatalog, ApprovalBook, BackupStore, PlanStore {
    /// Where the store is, for messages: a file's path, or a database's address without its
    /// password.
    var location: String { get }
}
