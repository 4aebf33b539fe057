/// How targets are grouped into stages and what happens when one fails.
public struct Rollout: Sendable, Equatable {
    /// What apply does when the rollout stops on a failure.
    public enum OnFailure: String, Sendable, CaseIterable, Codable {
        /// Undo what the run did (the default).
        case rollback
        /// Stop, keep the state, and wait for the operator.
        case halt
    }

    /// Which targets a rollback undoes.
    public enum RollbackScope: String, Sendable, CaseIterable, Codable {
        /// Every target this run touched (the default).
        case run
        /// Only the targets that failed.
        case target
    }

    /// The waves, in order; a loaded runbook has at least one (stage `all` when the file gives none).
    public var stages: [Stage]
    /// What the run does when the rollout stops on a failure: `rollback` unless the runbook says `halt`.
    public var onFailure: OnFailure
    /// Which targets the run's rollback undoes: every touched one (`run`) unless it says `target`.
    public var rollbackScope: RollbackScope

    /// A rollout with the runbook's defaults for `on_failure` and `rollback_scope`; no stage unless
    /// given (loading adds stage `all` itself).
    public init(stages: [Stage] = [], onFailure: OnFailure = .rollback, rollbackScope: RollbackScope = .run) {
        self.stages = stages
        self.onFailure = onFailure
        self.rollbackScope = rollbackScope
    }
}

/// A wave of targets.
public struct Stage: Sendable, Equatable {
    /// How many of the selected targets the stage takes.
    public enum Size: Sendable, Equatable {
        /// Every selected target not taken by an earlier stage.
        case all
        /// The first this many selected targets (all of them, when fewer are selected).
        case count(Int)
        /// This share of the selected targets, rounded up.
        case percent(Int)
    }

    /// How many failed targets the stage tolerates before the rollout stops.
    public enum FailureLimit: Sendable, Equatable {
        /// This many failed targets (`max_failures`); 0, the default, stops on the first failure.
        case count(Int)
        /// This share of the stage's targets, rounded down.
        case percent(Int)
    }

    /// Unique among stages; `{{ stage.name }}`, and how the audit store and `resume` name it.
    public var name: String
    /// Labels a target must carry to be selected; empty selects every remaining target.
    public var select: [String: String]
    /// How many of the selected targets it takes: all unless `count` or `percent` says otherwise.
    public var size: Size
    /// How many targets run at once.
    public var parallel: Int
    /// How many failed targets the stage tolerates (``FailureLimit/tolerated(outOf:)``); a failed
    /// target is rolled back either way, the limit only decides whether the rollout goes on.
    public var maxFailures: FailureLimit
    /// After the stage succeeds, health steps are repeated for this long.
    public var bake: Duration?
    /// Where the stage is named; for the default stage `all`, the runbook's top (or its `rollout:`).
    public var location: SourceLocation

    /// A stage with the runbook's defaults: every remaining target, one at a time, no failure
    /// tolerated, no bake.
    public init(
        name: String, select: [String: String] = [:], size: Size = .all, parallel: Int = 1,
        maxFailures: FailureLimit = .count(0), bake: Duration? = nil, location: SourceLocation
    ) {
        self.name = name
        self.select = select
        self.size = size
        self.parallel = parallel
        self.maxFailures = maxFailures
        self.bake = bake
        self.location = location
    }
}
