/// Which targets land in which stage: a pure function of the stages and the target list.
///
/// Stages take targets in order. Each stage considers the targets no earlier stage took, keeps
/// those carrying every label of its `select`, and takes the first `count` of them, or `percent`
/// of them rounded up (at least one when any is selected), or all of them. Targets keep the order
/// of the target list, so the same runbook always gives the same stages.
public struct StageAssignment: Sendable, Equatable {
    /// For each stage, the indices (into the target list) of its targets, in target-list order.
    public var stages: [[Int]]
    /// Indices of targets that no stage took.
    public var unassigned: [Int]
    /// Indices of stages whose `select` matches no target of the whole list.
    public var selectsNothing: [Int]

    /// Assigns `targets` to `stages`.
    public static func assign(stages: [Stage], targets: [Target]) -> StageAssignment {
        var taken = [Bool](repeating: false, count: targets.count)
        var result = StageAssignment(stages: [], unassigned: [], selectsNothing: [])
        for (stageIndex, stage) in stages.enumerated() {
            if !stage.select.isEmpty, !targets.contains(where: { $0.matches(stage.select) }) {
                result.selectsNothing.append(stageIndex)
            }
            let candidates = targets.indices.filter { !taken[$0] && targets[$0].matches(stage.select) }
            let chosen = candidates.prefix(take(stage.size, of: candidates.count))
            for index in chosen { taken[index] = true }
            result.stages.append(Array(chosen))
        }
        result.unassigned = targets.indices.filter { !taken[$0] }
        return result
    }

    /// How many of `available` selected targets a stage of `size` takes.
    static func take(_ size: Stage.Size, of available: Int) -> Int {
        switch size {
        case .all: available
        case .count(let count): min(count, available)
        case .percent(let percent): available == 0 ? 0 : min(available, max(1, (available * percent + 99) / 100))
        }
    }
}

extension Stage.FailureLimit {
    /// How many failed targets a stage of `targetCount` targets tolerates.
    public func tolerated(outOf targetCount: Int) -> Int {
        switch self {
        case .count(let count): count
        case .percent(let percent): targetCount * percent / 100
        }
    }
}

extension Runbook {
    /// The runbook's targets grouped by stage (see ``StageAssignment``).
    public var stageAssignment: StageAssignment {
        StageAssignment.assign(stages: rollout.stages, targets: targets)
    }
}
