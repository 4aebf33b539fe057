/// The stable names of audit events (SPEC section 5), each with a sentence for people.
public enum EventKinds {
    /// Every event kind with its meaning, in the order a run produces them.
    public static let descriptions: KeyValuePairs<String, String> = [
        "plan.recorded": "A dry run was recorded.",
        "approval.recorded": "Someone approved the runbook's exact content.",
        "window.overridden": "The operator started outside the window or in a freeze, giving a reason.",
        "lock.acquired": "The run locked its targets.",
        "run.started": "The run started.",
        "preflight.finished": "A preflight check finished on a target, before anything changed.",
        "hold.paused": "A hold was paused before the first stage.",
        "stage.started": "A stage started.",
        "step.started": "A step started on a target.",
        "file.backed_up": "A file's previous state was kept in the store (its SHA-256 chained) before a file step changed it.",
        "step.finished": "A step finished on a target.",
        "guard.failed": "A guard failed, which stops the rollout.",
        "window.cutoff": "A stage was not started: less than the window's cutoff remained.",
        "bake.failed": "A health step failed while a stage baked, which stops the rollout.",
        "stage.finished": "A stage finished.",
        "rollback.started": "A rollback started.",
        "rollback.step.started": "A rollback step started on a target.",
        "rollback.step.finished": "A rollback step finished on a target.",
        "recovery.step.finished": "A recovery step finished on a target.",
        "hold.resumed": "A hold was resumed.",
        "lock.released": "The run released its target locks.",
        "lock.forced": "An operator freed a lock whose runner was gone.",
        "lock.lost": "The run found one of its locks gone or taken: no further step started on that target, and the run halted.",
        "run.interrupted": "The run's runner died; resume or roll it back.",
        "process.terminated": "Processes a dead runner of the run left running on this host were terminated before the run went on.",
        "run.resumed": "An operator resumed the run from its journal (and accepted a changed runbook, if so, with a reason).",
        "rollback.requested": "An operator asked for a past run to be rolled back, with a reason.",
        "run.finished": "The run finished, with its outcome.",
        "notify.failed": "A webhook notification could not be delivered; the run went on.",
    ]

    /// Every event kind's name.
    public static let all: [String] = descriptions.map(\.key)

    /// Kinds a runbook's `notify` may not list, each with why: they are recorded outside a run
    /// of `apply` (by `plan`, `approve`, `unlock`, the store's locking, or another process), or
    /// they are about notifying itself, which must not feed back into it.
    public static let notSentToWebhooks: KeyValuePairs<String, String> = [
        "plan.recorded": "`plan` never notifies",
        "approval.recorded": "approvals are recorded outside any run",
        "lock.acquired": "locks are recorded by the store, not by the run",
        "lock.released": "locks are recorded by the store, not by the run",
        "lock.forced": "`unlock` runs outside any run",
        "run.interrupted": "it is recorded by another process, after the runner died",
        "process.terminated": "it is recorded before the run's notifications are set up, by the process that takes the run over",
        "notify.failed": "a failure to notify is logged and audited, never notified",
        "file.backed_up": "backups are recorded by the store, with the backup",
    ]

    /// The kinds a runbook's `notify` may list: what a run of `apply` records.
    public static let sentToWebhooks: [String] = all.filter { name in !notSentToWebhooks.contains { $0.key == name } }
}
