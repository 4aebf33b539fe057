import Foundation

/// What the machine is given (the rollout's shape, a past run's progress), what it says
/// (actions, timers) and hears (events), and how a run ends.
extension RolloutMachine {
    /// The shape of the rollout, from the plan.
    public struct Shape: Sendable, Equatable {
        /// One stage as the machine needs it.
        public struct Stage: Sendable, Equatable {
            /// The stage's name, as the plan gives it.
            public var name: String
            /// Targets of the stage (indices into the run's target list), in order.
            public var targets: [Int]
            /// How many of its targets run at once.
            public var parallel: Int
            /// How many failed targets the stage tolerates; one more stops the rollout.
            public var toleratedFailures: Int
            /// How long the stage bakes after its targets finished; nil: it does not.
            public var bake: Duration?

            /// A stage that runs one target at a time, tolerates no failure and does not bake, unless
            /// told.
            public init(name: String, targets: [Int], parallel: Int = 1, toleratedFailures: Int = 0, bake: Duration? = nil) {
                self.name = name
                self.targets = targets
                self.parallel = parallel
                self.toleratedFailures = toleratedFailures
                self.bake = bake
            }
        }

        /// The stages, in order.
        public var stages: [Stage]
        /// For each target, the indices of the steps that apply to it, in order.
        public var steps: [[Int]]
        /// What a stopped rollout does: roll back its scope, or halt and keep its state.
        public var onFailure: Rollout.OnFailure
        /// Which targets a stopped rollout rolls back: every touched one, or only the failed ones
        /// (already rolled back when they failed).
        public var rollbackScope: Rollout.RollbackScope
        /// Whether the run has holds to pause after preflight and resume at the end.
        public var hasHolds: Bool
        /// Whether the run has guards to check before each stage.
        public var hasGuards: Bool
        /// How often guards are checked while a stage runs or bakes; nil: only before stages.
        public var guardInterval: Duration?
        /// The latest time of day a stage may start (the window's close less its cutoff); nil:
        /// no cutoff to keep.
        public var lastStageStart: Date?
        /// For each target, the steps its bake probes (its health steps), in order.
        public var healthSteps: [[Int]]

        /// A shape with the runbook's defaults (roll back the whole run, no holds, guards, cutoff or
        /// bake probes) unless told; `healthSteps` nil means no target has health steps to bake.
        public init(
            stages: [Stage], steps: [[Int]], onFailure: Rollout.OnFailure = .rollback,
            rollbackScope: Rollout.RollbackScope = .run, hasHolds: Bool = false, hasGuards: Bool = false,
            guardInterval: Duration? = nil, lastStageStart: Date? = nil, healthSteps: [[Int]]? = nil
        ) {
            self.stages = stages
            self.steps = steps
            self.onFailure = onFailure
            self.rollbackScope = rollbackScope
            self.hasHolds = hasHolds
            self.hasGuards = hasGuards
            self.guardInterval = guardInterval
            self.lastStageStart = lastStageStart
            self.healthSteps = healthSteps ?? steps.map { _ in [] }
        }
    }

    /// A timer the machine sets; the engine reports ``Event/timerFired(_:)`` when it is due,
    /// unless the machine cancels it first.
    public enum Timer: Sendable, Hashable {
        /// The stage's bake time is over.
        case bakeEnds(stage: Int)
        /// The next round of the stage's bake probes is due.
        case nextBakeRound(stage: Int)
        /// The stage's guards are due to be checked again.
        case guards(stage: Int)
    }

    /// The pause between two rounds of a bake's probes.
    public static let bakeRoundInterval: Duration = .seconds(1)

    /// What the engine must do.
    public enum Action: Sendable, Equatable {
        /// Run every preflight check on every target, then report
        /// ``Event/preflightFinished(succeeded:)``.
        case runPreflight
        /// Pause every hold, then report ``Event/holdsPaused``.
        case pauseHolds
        /// Report the time of day (``Event/clockRead(_:)``), for the window's cutoff before `stage`.
        case readClock(stage: Int)
        /// Less than the window's cutoff remains: `stage` does not start (record it).
        case refuseStage(Int)
        /// The stage starts (record it); its steps follow as ``runStep(target:step:)``.
        case startStage(Int)
        /// Check the guards (before the stage, or again while it runs or bakes).
        case checkGuards(stage: Int)
        /// Run one step (an index into the target's planned steps) on the target, with its retries,
        /// then report ``Event/stepFinished(target:step:succeeded:)``, or
        /// ``Event/stepNotStarted(target:step:)`` when the target's lock was lost first.
        case runStep(target: Int, step: Int)
        /// Undo every step that started on the target, in reverse order, then run its recovery.
        case rollBackTarget(Int)
        /// Probe one health step of a baking stage's target once.
        case probe(target: Int, step: Int)
        /// Report ``Event/timerFired(_:)`` after `after`.
        case startTimer(Timer, after: Duration)
        /// The timer is no longer wanted: it must not fire.
        case cancelTimer(Timer)
        /// The rollout is being stopped from outside the stage (an operator, a guard, a lost
        /// lock): a `wait` step under way ends now instead of waiting out its time.
        case endWaits
        /// The stage ran to its end (its bake included) with this many failed targets (record it).
        case finishStage(Int, failures: Int)
        /// The stage started but stopped before its end (its threshold, a guard, its bake, the
        /// operator, a lost lock): it is over, with this outcome.
        case abandonStage(Int, failures: Int, reason: StopReason)
        /// The rollout stopped; what follows is the run's rollback of its scope.
        case startRollback(reason: StopReason)
        /// Resume every hold paused by this run.
        case resumeHolds
        /// The run is over, with this result; the machine asks nothing more.
        case finish(RunResult)
    }

    /// What the engine reports.
    public enum Event: Sendable, Equatable {
        /// Preflight ran on every target; `succeeded` when every check passed.
        case preflightFinished(succeeded: Bool)
        /// Every hold was paused.
        case holdsPaused
        /// The stage's guards were checked: before it, or while it runs or bakes.
        case guardsChecked(stage: Int, passed: Bool)
        /// A step the machine asked for ended, after its retries; `succeeded` is its last try's.
        case stepFinished(target: Int, step: Int, succeeded: Bool)
        /// The target's rollback ended; `complete` is false when one of its undo or recovery steps
        /// failed, so an operator must act.
        case targetRolledBack(Int, complete: Bool)
        /// A bake's probe of one health step ended.
        case probed(target: Int, step: Int, healthy: Bool)
        /// A timer the machine set is due, and was not cancelled.
        case timerFired(Timer)
        /// The operator asked the run to stop (the first Ctrl-C or SIGTERM).
        case stopRequested
        /// The time of day, as asked for by ``Action/readClock(stage:)``.
        case clockRead(Date)
        /// The run lost a lock it held (its heartbeat found it gone or taken): the run halts,
        /// whatever its `on_failure`, and the engine starts no step on a target it lost.
        case locksLost
        /// A step the machine asked for was not started: its target's lock was lost first.
        case stepNotStarted(target: Int, step: Int)
    }

    /// Why the rollout stopped early.
    public enum StopReason: Sendable, Equatable {
        /// More targets of the stage failed than it tolerates.
        case thresholdExceeded(stage: Int)
        /// A guard failed before or during the stage.
        case guardFailed(stage: Int)
        /// A probe found a target unhealthy while the stage baked.
        case bakeUnhealthy(stage: Int)
        /// The operator stopped the run (Ctrl-C or SIGTERM).
        case stopRequested
        /// `sluice rollback RUN`: an operator undoes a past run.
        case rollbackRequested
        /// Less than the window's cutoff remained before the stage.
        case cutoffReached(stage: Int)
        /// A lock the run held was lost; the run halts rather than act on a target it no
        /// longer holds.
        case lockLost
    }

    /// Where a run stood when its runner stopped, for `resume` and `rollback` (indices as in
    /// the ``Shape``).
    public struct Progress: Sendable, Equatable {
        /// For each target, how many of its steps (positions in `Shape.steps`) finished; a
        /// resumed target goes on from there, running an in-doubt step again.
        public var finishedSteps: [Int]
        /// Targets that started at least one step.
        public var touched: Set<Int>
        /// Targets that failed, in order; they were rolled back when they failed.
        public var failed: [Int]
        /// Targets whose rollback already ran.
        public var rolledBack: Set<Int>
        /// How many stages finished.
        public var finishedStages: Int

        /// Progress with only `finishedSteps` known unless told: nothing touched, failed or rolled back.
        public init(finishedSteps: [Int], touched: Set<Int> = [], failed: [Int] = [], rolledBack: Set<Int> = [], finishedStages: Int = 0) {
            self.finishedSteps = finishedSteps
            self.touched = touched
            self.failed = failed
            self.rolledBack = rolledBack
            self.finishedStages = finishedStages
        }
    }

    /// How the run ended, with the targets that failed.
    public struct RunResult: Sendable, Equatable {
        /// Never `interrupted` or `checks_failed`: those are for a dead runner and a dry run.
        public var outcome: RunOutcome
        /// Targets that failed, in the order they failed.
        public var failedTargets: [Int]
        /// Targets whose rollback did not complete: an operator must act.
        public var incompleteRollbacks: [Int]
        /// Why the rollout stopped early; nil when it ran to its end.
        public var stopReason: StopReason?

        /// A result with no failed target and no stop unless told.
        public init(outcome: RunOutcome, failedTargets: [Int] = [], incompleteRollbacks: [Int] = [], stopReason: StopReason? = nil) {
            self.outcome = outcome
            self.failedTargets = failedTargets
            self.incompleteRollbacks = incompleteRollbacks
            self.stopReason = stopReason
        }
    }
}
