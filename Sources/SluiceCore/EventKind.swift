/// The stable name of every audit event (SPEC section 5), with a sentence for people: the one
/// list every writer and reader of events uses.
///
/// The names never change meaning once shipped, because scripts and auditors filter on them. A
/// store may hold a kind this version does not know (written by a newer Sluice): readers take
/// such an event's kind as text (``RecordedEvent`` keeps it) and this type's `init?(rawValue:)`
/// says it is unknown.
public enum EventKind: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// A dry run was recorded.
    case planRecorded = "plan.recorded"
    /// Someone approved the runbook's exact content.
    case approvalRecorded = "approval.recorded"
    /// The operator started outside the window or in a freeze, giving a reason.
    case windowOverridden = "window.overridden"
    /// The run locked its targets.
    case lockAcquired = "lock.acquired"
    /// The run started.
    case runStarted = "run.started"
    /// A preflight check finished on a target, before anything changed.
    case preflightFinished = "preflight.finished"
    /// A hold was paused before the first stage.
    case holdPaused = "hold.paused"
    /// A stage started.
    case stageStarted = "stage.started"
    /// A step started on a target.
    case stepStarted = "step.started"
    /// A file's previous state was kept in the store (its SHA-256 chained) before a file step changed it.
    case fileBackedUp = "file.backed_up"
    /// A step finished on a target.
    case stepFinished = "step.finished"
    /// A guard failed, which stops the rollout.
    case guardFailed = "guard.failed"
    /// A stage was not started: less than the window's cutoff remained.
    case windowCutoff = "window.cutoff"
    /// A health step failed while a stage baked, which stops the rollout.
    case bakeFailed = "bake.failed"
    /// A stage finished.
    case stageFinished = "stage.finished"
    /// A rollback started.
    case rollbackStarted = "rollback.started"
    /// A rollback step started on a target.
    case rollbackStepStarted = "rollback.step.started"
    /// A rollback step finished on a target.
    case rollbackStepFinished = "rollback.step.finished"
    /// A recovery step finished on a target.
    case recoveryStepFinished = "recovery.step.finished"
    /// A hold was resumed.
    case holdResumed = "hold.resumed"
    /// The run released its target locks.
    case lockReleased = "lock.released"
    /// An operator freed a lock whose runner was gone.
    case lockForced = "lock.forced"
    /// The run found one of its locks gone or taken: no further step started on that target, and the run halted.
    case lockLost = "lock.lost"
    /// The run's runner died; resume or roll it back.
    case runInterrupted = "run.interrupted"
    /// Processes a dead runner of the run left running on this host were terminated before the run went on.
    case processTerminated = "process.terminated"
    /// An operator resumed the run from its journal (and accepted a changed runbook, if so, with a reason).
    case runResumed = "run.resumed"
    /// An operator asked for a past run to be rolled back, with a reason.
    case rollbackRequested = "rollback.requested"
    /// The run finished, with its outcome.
    case runFinished = "run.finished"
    /// A webhook notification could not be delivered; the run went on.
    case notifyFailed = "notify.failed"

    /// The stable name, for example `step.finished`.
    public var description: String { rawValue }

    /// What the event means, in one sentence for people.
    public var meaning: String {
        switch self {
        case .planRecorded: "A dry run was recorded."
        case .approvalRecorded: "Someone approved the runbook's exact content."
        case .windowOverridden: "The operator started outside the window or in a freeze, giving a reason."
        case .lockAcquired: "The run locked its targets."
        case .runStarted: "The run started."
        case .preflightFinished: "A preflight check finished on a target, before anything changed."
        case .holdPaused: "A hold was paused before the first stage."
        case .stageStarted: "A stage started."
        case .stepStarted: "A step started on a target."
        case .fileBackedUp: "A file's previous state was kept in the store (its SHA-256 chained) before a file step changed it."
        case .stepFinished: "A step finished on a target."
        case .guardFailed: "A guard failed, which stops the rollout."
        case .windowCutoff: "A stage was not started: less than the window's cutoff remained."
        case .bakeFailed: "A health step failed while a stage baked, which stops the rollout."
        case .stageFinished: "A stage finished."
        case .rollbackStarted: "A rollback started."
        case .rollbackStepStarted: "A rollback step started on a target."
        case .rollbackStepFinished: "A rollback step finished on a target."
        case .recoveryStepFinished: "A recovery step finished on a target."
        case .holdResumed: "A hold was resumed."
        case .lockReleased: "The run released its target locks."
        case .lockForced: "An operator freed a lock whose runner was gone."
        case .lockLost: "The run found one of its locks gone or taken: no further step started on that target, and the run halted."
        case .runInterrupted: "The run's runner died; resume or roll it back."
        case .processTerminated: "Processes a dead runner of the run left running on this host were terminated before the run went on."
        case .runResumed: "An operator resumed the run from its journal (and accepted a changed runbook, if so, with a reason)."
        case .rollbackRequested: "An operator asked for a past run to be rolled back, with a reason."
        case .runFinished: "The run finished, with its outcome."
        case .notifyFailed: "A webhook notification could not be delivered; the run went on."
        }
    }

    /// Why a runbook's `notify` may not list this kind, or `nil` when it may: such events are
    /// recorded outside a run of `apply` (by `plan`, `approve`, `unlock`, the store's locking, or
    /// another process), or they are about notifying itself, which must not feed back into it.
    public var notNotifiedBecause: String? {
        switch self {
        case .planRecorded: "`plan` never notifies"
        case .approvalRecorded: "approvals are recorded outside any run"
        case .lockAcquired: "locks are recorded by the store, not by the run"
        case .fileBackedUp: "backups are recorded by the store, with the backup"
        case .lockReleased: "locks are recorded by the store, not by the run"
        case .lockForced: "`unlock` runs outside any run"
        case .runInterrupted: "it is recorded by another process, after the runner died"
        case .processTerminated: "it is recorded before the run's notifications are set up, by the process that takes the run over"
        case .notifyFailed: "a failure to notify is logged and audited, never notified"
        default: nil
        }
    }

    /// The kinds a runbook's `notify` may list: what a run of `apply` records.
    public static let sentToWebhooks: [EventKind] = allCases.filter { $0.notNotifiedBecause == nil }
}
