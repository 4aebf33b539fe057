/// The stable name of an audit event (SPEC section 5). `EventKinds` in SluiceCore lists every
/// kind with a sentence for people.
///
/// Kinds are open: the engine may record kinds not listed here, but the listed names never
/// change meaning once shipped, because scripts and auditors filter on them.
public struct EventKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The stable name, for example `step.finished`.
    public let rawValue: String

    /// Creates a kind from its stable name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The stable name.
    public var description: String { rawValue }

    /// A run began (its targets are locked).
    public static let runStarted = EventKind(rawValue: "run.started")
    /// A run ended; `status` holds the outcome.
    public static let runFinished = EventKind(rawValue: "run.finished")
    /// A dry run's plan was saved.
    public static let planRecorded = EventKind(rawValue: "plan.recorded")
    /// A stage began.
    public static let stageStarted = EventKind(rawValue: "stage.started")
    /// A stage ended.
    public static let stageFinished = EventKind(rawValue: "stage.finished")
    /// A step is about to run on a target (recorded durably before it runs).
    public static let stepStarted = EventKind(rawValue: "step.started")
    /// A step ended on a target.
    public static let stepFinished = EventKind(rawValue: "step.finished")
    /// A rollback began.
    public static let rollbackStarted = EventKind(rawValue: "rollback.started")
    /// A rollback step is about to run.
    public static let rollbackStepStarted = EventKind(rawValue: "rollback.step.started")
    /// A rollback step ended.
    public static let rollbackStepFinished = EventKind(rawValue: "rollback.step.finished")
    /// A recovery step ended.
    public static let recoveryStepFinished = EventKind(rawValue: "recovery.step.finished")
    /// A hold was paused.
    public static let holdPaused = EventKind(rawValue: "hold.paused")
    /// A hold was resumed.
    public static let holdResumed = EventKind(rawValue: "hold.resumed")
    /// A guard failed and stopped the rollout.
    public static let guardFailed = EventKind(rawValue: "guard.failed")
    /// A target was locked for a run.
    public static let lockAcquired = EventKind(rawValue: "lock.acquired")
    /// A run released its lock on a target.
    public static let lockReleased = EventKind(rawValue: "lock.released")
    /// An operator freed a stale lock with `sluice unlock`.
    public static let lockForced = EventKind(rawValue: "lock.forced")
    /// Processes a dead runner left running were terminated before its run went on.
    public static let processTerminated = EventKind(rawValue: "process.terminated")
    /// A run's heartbeat found one of its locks gone or taken; the run halted.
    public static let lockLost = EventKind(rawValue: "lock.lost")
    /// An approval of a runbook's exact content was recorded.
    public static let approvalRecorded = EventKind(rawValue: "approval.recorded")
    /// An operator started a stage outside the window, with a reason.
    public static let windowOverridden = EventKind(rawValue: "window.overridden")
    /// A file's backup was taken before a `file` step changed it; `detail` holds its SHA-256.
    public static let fileBackedUp = EventKind(rawValue: "file.backed_up")
    /// A run's runner was found dead.
    public static let runInterrupted = EventKind(rawValue: "run.interrupted")
    /// An operator resumed a run from its journal.
    public static let runResumed = EventKind(rawValue: "run.resumed")
    /// An operator asked for a past run to be rolled back.
    public static let rollbackRequested = EventKind(rawValue: "rollback.requested")
    /// A webhook notification could not be delivered (after its retry); the run went on.
    public static let notifyFailed = EventKind(rawValue: "notify.failed")
}
