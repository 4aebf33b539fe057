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

    public var stages: [Stage]
    public var onFailure: OnFailure
    public var rollbackScope: RollbackScope

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
        case count(Int)
        /// This share of the selected targets, rounded up.
        case percent(Int)
    }

    /// How many failed targets the stage tolerates before the rollout stops.
    public enum FailureLimit: Sendable, Equatable {
        case count(Int)
        /// This share of the stage's targets, rounded down.
        case percent(Int)
    }

    public var name: String
    /// Labels a target must carry to be selected; empty selects every remaining target.
    public var select: [String: String]
    public var size: Size
    /// How many targets run at once.
    public var parallel: Int
    public var maxFailures: FailureLimit
    /// After the stage succeeds, health steps are repeated for this long.
    public var bake: Duration?
    public var location: SourceLocation

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
