/// How a run ended (SPEC section 4): what the rollout machine decides, what the store records
/// and what every command reports.
public enum RunOutcome: String, Codable, Sendable, CaseIterable {
    /// Every target succeeded.
    case succeeded
    /// Some targets failed within the thresholds.
    case completedWithFailures = "completed_with_failures"
    /// The run was undone.
    case rolledBack = "rolled_back"
    /// A rollback step failed; an operator must act.
    case rollbackIncomplete = "rollback_incomplete"
    /// The run stopped and keeps its targets, waiting for an operator.
    case halted
    /// The run refused to start; nothing changed.
    case refused
    /// Its runner died.
    case interrupted
    /// A dry run in which a check failed (a dry run whose checks all passed is `succeeded`).
    case checksFailed = "checks_failed"
}
