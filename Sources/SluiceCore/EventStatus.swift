/// What an event's `status` says: how a step, check, hold, stage or lock event ended. A run's own
/// end (`run.finished`) carries a ``RunOutcome`` instead.
public enum EventStatus: String, Sendable, Codable, CaseIterable {
    /// A step, check, hold command or stage that did what it should.
    case succeeded
    /// One that did not: a command's status, a probe, a guard, a stage past its threshold.
    case failed
    /// A stage whose failures stayed within what it tolerates.
    case completedWithFailures = "completed_with_failures"
    /// A stage stopped from outside before its end (the operator, a lost lock).
    case stopped
    /// A stage not started: less than the window's cutoff remained.
    case refused
    /// A lock the run no longer holds (`lock.lost`).
    case lost
    /// Processes a dead runner left, stopped by SIGTERM, or by SIGKILL after the grace
    /// (`process.terminated`).
    case terminated, killed
    /// A dry run whose checks all passed (`plan.recorded`).
    case ready
    /// A dry run in which a check failed (`plan.recorded`).
    case notReady = "not_ready"

    /// `succeeded` or `failed`.
    public init(succeeded: Bool) { self = succeeded ? .succeeded : .failed }
}
