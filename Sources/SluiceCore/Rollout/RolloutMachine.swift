/// The rules of a rollout (SPEC section 4) as a pure state machine.
///
/// The machine is told what happened (``Event``) and answers with what to do next (``Action``);
/// a short engine loop carries the actions out and reports back. Nothing here runs a command,
/// reads a clock or sleeps, so every rule can be tested with plain values.
///
/// Rules it encodes:
/// - Preflight runs on every target before anything changes; a failure refuses the run.
/// - Holds are paused after preflight and resumed at the end of every path that paused them.
/// - Stages run in order. Before a stage its guards are checked, and the window's cutoff (the
///   engine reports `cutoffReached` when less than the cutoff remains; the run then stops). Targets of a stage run up to
///   `parallel` at a time; each target's steps run in order.
/// - A target whose step fails is rolled back at once, whatever the threshold.
/// - When a stage's failures exceed its tolerance (or a guard fails, or a bake finds a target
///   unhealthy, or the operator stops the run), no new target or step starts; targets that are
///   running finish their current step, and then the run stops: with `on_failure: rollback` it
///   rolls back its scope one target at a time in reverse stage order, with `halt` it keeps its
///   state.
/// - A run in which any target failed never ends `succeeded`.
public struct RolloutMachine: Sendable {
    /// The shape of the rollout, from the plan.
    public struct Shape: Sendable, Equatable {
        public struct Stage: Sendable, Equatable {
            public var name: String
            /// Targets of the stage (indices into the run's target list), in order.
            public var targets: [Int]
            public var parallel: Int
            public var toleratedFailures: Int
            public var bakes: Bool

            public init(name: String, targets: [Int], parallel: Int = 1, toleratedFailures: Int = 0, bakes: Bool = false) {
                self.name = name
                self.targets = targets
                self.parallel = parallel
                self.toleratedFailures = toleratedFailures
                self.bakes = bakes
            }
        }

        public var stages: [Stage]
        /// For each target, the indices of the steps that apply to it, in order.
        public var steps: [[Int]]
        public var onFailure: Rollout.OnFailure
        public var rollbackScope: Rollout.RollbackScope
        public var hasHolds: Bool
        public var hasGuards: Bool

        public init(
            stages: [Stage], steps: [[Int]], onFailure: Rollout.OnFailure = .rollback,
            rollbackScope: Rollout.RollbackScope = .run, hasHolds: Bool = false, hasGuards: Bool = false
        ) {
            self.stages = stages
            self.steps = steps
            self.onFailure = onFailure
            self.rollbackScope = rollbackScope
            self.hasHolds = hasHolds
            self.hasGuards = hasGuards
        }
    }

    /// What the engine must do.
    public enum Action: Sendable, Equatable {
        case runPreflight
        case pauseHolds
        case startStage(Int)
        case checkGuards(stage: Int)
        case runStep(target: Int, step: Int)
        /// Undo every step that started on the target, in reverse order, then run its recovery.
        case rollBackTarget(Int)
        /// Repeat the stage's health steps for its bake time.
        case bake(stage: Int)
        case finishStage(Int, failures: Int)
        /// The stage started but stopped before its end (its threshold, a guard, its bake, the
        /// operator, a lost lock): it is over, with this outcome.
        case abandonStage(Int, failures: Int, reason: StopReason)
        /// The rollout stopped; what follows is the run's rollback of its scope.
        case startRollback(reason: StopReason)
        case resumeHolds
        case finish(RunResult)
    }

    /// What the engine reports.
    public enum Event: Sendable, Equatable {
        case preflightFinished(succeeded: Bool)
        case holdsPaused
        case guardsChecked(passed: Bool)
        case stepFinished(target: Int, step: Int, succeeded: Bool)
        case targetRolledBack(Int, complete: Bool)
        case bakeFinished(healthy: Bool)
        /// A guard checked during a stage or its bake failed.
        case guardFailed
        /// The operator asked the run to stop (the first Ctrl-C or SIGTERM).
        case stopRequested
        /// Before a stage: less than the window's cutoff remains, so the stage may not start.
        case cutoffReached
        /// The run lost a lock it held (its heartbeat found it gone or taken): the run halts,
        /// whatever its `on_failure`, and the engine starts no step on a target it lost.
        case locksLost
        /// A step the machine asked for was not started: its target's lock was lost first.
        case stepNotStarted(target: Int, step: Int)
    }

    /// Why the rollout stopped early.
    public enum StopReason: Sendable, Equatable {
        case thresholdExceeded(stage: Int)
        case guardFailed(stage: Int)
        case bakeUnhealthy(stage: Int)
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
        public var failedTargets: [Int]
        /// Targets whose rollback did not complete: an operator must act.
        public var incompleteRollbacks: [Int]
        public var stopReason: StopReason?

        public init(outcome: RunOutcome, failedTargets: [Int] = [], incompleteRollbacks: [Int] = [], stopReason: StopReason? = nil) {
            self.outcome = outcome
            self.failedTargets = failedTargets
            self.incompleteRollbacks = incompleteRollbacks
            self.stopReason = stopReason
        }
    }

    enum TargetState: Equatable {
        case pending
        /// Running the step at this position of its step list.
        case running(position: Int)
        case succeeded
        /// Stopped by a stopping rollout after finishing a step; changed but not complete.
        case stopped
        /// Failed, and its rollback has not run to its end: a resumed run owes it one.
        case failed
        /// Its immediate rollback is running.
        case rollingBack
        case rolledBack
    }

    enum Phase: Equatable {
        case idle, preflight, pausingHolds
        case guards(stage: Int)
        case running(stage: Int)
        case baking(stage: Int)
        /// Told to stop while the stage baked: waiting for the bake to end (its probe in flight
        /// finishes) before rolling back or halting, so that no probe runs beside a rollback.
        case endingBake(stage: Int)
        /// Rolling back the scope, one target at a time; the list is what is left after the current one.
        case rollingBackScope(remaining: [Int])
        /// A resumed run finishing the rollbacks it owes before it goes on with `stage`.
        case settlingRollbacks(then: Int)
        case done
    }

    public let shape: Shape
    private(set) var phase: Phase = .idle
    /// Where each target's steps start: 0, or where a resumed run left off.
    private var firstPosition: [Int]
    /// What comes once holds are paused: the first stage to run, or (nil) the rollback.
    private var afterHolds: Int? = 0
    private(set) var targets: [TargetState]
    /// Targets that started at least one step.
    private(set) var touched: Set<Int> = []
    private(set) var failed: [Int] = []
    private(set) var incomplete: [Int] = []
    private(set) var stageFailures: [Int]
    private(set) var stopReason: StopReason?
    private var holdsPaused = false
    /// `startRollback` was already given: when a failure crossed its stage's threshold, the
    /// run's rollback began with that target's undo.
    private var rollbackAnnounced = false
    /// Failed targets whose rollback the runner did not live to finish, last stage first: a
    /// resumed run rolls them back before anything else.
    private var owedRollbacks: [Int] = []

    public init(shape: Shape) {
        self.shape = shape
        targets = Array(repeating: .pending, count: shape.steps.count)
        firstPosition = Array(repeating: 0, count: shape.steps.count)
        stageFailures = Array(repeating: 0, count: shape.stages.count)
    }

    /// A machine for a run that already made `progress`, to resume it or roll it back.
    public init(shape: Shape, progress: Progress) {
        self.init(shape: shape)
        touched = progress.touched
        failed = progress.failed
        afterHolds = progress.finishedStages
        for (stage, members) in shape.stages.map(\.targets).enumerated() {
            stageFailures[stage] = members.filter(progress.failed.contains).count
        }
        for target in targets.indices {
            let finished = min(progress.finishedSteps[target], shape.steps[target].count)
            firstPosition[target] = finished
            if progress.rolledBack.contains(target) {
                targets[target] = .rolledBack
            } else if progress.failed.contains(target) {
                targets[target] = .failed
            } else if finished == shape.steps[target].count {
                targets[target] = .succeeded
            }
        }
    }

    /// Whether the run has finished.
    public var isFinished: Bool { phase == .done }

    /// The first actions of a run.
    public mutating func start() -> [Action] {
        precondition(phase == .idle, "start() called twice (phase \(phase))")
        phase = .preflight
        return [.runPreflight]
    }

    /// The first actions of a resumed run: holds paused again, the rollback of each failed target
    /// whose rollback did not run to its end (the runner died first), then the first unfinished
    /// stage. Preflight does not run again: the targets are already part-way through the change.
    public mutating func resume() -> [Action] {
        precondition(phase == .idle, "resume() called on a started machine (phase \(phase))")
        guard let stage = afterHolds else { preconditionFailure("resume() on a machine made to roll back") }
        owedRollbacks = shape.stages.reversed().flatMap { $0.targets.reversed() }.filter { targets[$0] == .failed }
        if shape.hasHolds {
            phase = .pausingHolds
            return [.pauseHolds]
        }
        return settleOwedRollbacks(then: stage)
    }

    /// The first actions of `sluice rollback RUN`: holds paused, then every touched target not
    /// yet rolled back is undone, last stage first, whatever the runbook's `rollback_scope`.
    public mutating func rollBack() -> [Action] {
        precondition(phase == .idle, "rollBack() called on a started machine (phase \(phase))")
        afterHolds = nil
        if shape.hasHolds {
            phase = .pausingHolds
            return [.pauseHolds]
        }
        return startRequestedRollback()
    }

    private mutating func startRequestedRollback() -> [Action] {
        if stopReason == .lockLost {
            phase = .done
            return resumeHolds() + [.finish(result(.halted))]
        }
        stopReason = .rollbackRequested
        let scope = shape.stages.reversed().flatMap { $0.targets.reversed() }.filter {
            touched.contains($0) && targets[$0] != .rolledBack
        }
        phase = .rollingBackScope(remaining: scope)
        return [.startRollback(reason: .rollbackRequested)] + continueScopeRollback()
    }

    /// What to do after `event`.
    public mutating func handle(_ event: Event) -> [Action] {
        switch (event, phase) {
        case (.preflightFinished(let succeeded), .preflight):
            guard succeeded else {
                phase = .done
                return [.finish(RunResult(outcome: .refused))]
            }
            if shape.hasHolds {
                phase = .pausingHolds
                return [.pauseHolds]
            }
            return begin(stage: 0)

        case (.holdsPaused, .pausingHolds):
            holdsPaused = true
            guard let stage = afterHolds else { return startRequestedRollback() }
            return settleOwedRollbacks(then: stage)

        case (.cutoffReached, .guards(let stage)):
            return stop(.cutoffReached(stage: stage))

        case (.guardsChecked(let passed), .guards(let stage)):
            guard passed else { return stop(.guardFailed(stage: stage)) }
            phase = .running(stage: stage)
            return [.startStage(stage)] + launchTargets(in: stage)

        case (.stepFinished(let target, let step, let succeeded), .running(let stage)):
            return stepFinished(target: target, step: step, succeeded: succeeded, stage: stage)

        case (.stepFinished(let target, let step, _), _):
            // Steps run only while their stage runs: stopping waits for them before rolling back.
            preconditionFailure("step \(step) of target \(target) finished in phase \(phase)")

        case (.targetRolledBack(let target, let complete), _):
            return targetRolledBack(target, complete: complete)

        case (.bakeFinished(let healthy), .baking(let stage)):
            guard healthy else { return stop(.bakeUnhealthy(stage: stage)) }
            return finish(stage: stage)

        case (.guardFailed, .running(let stage)):
            return stop(.guardFailed(stage: stage))

        case (.guardFailed, .baking(let stage)), (.guardFailed, .endingBake(let stage)):
            return endBake(stage, stopping: .guardFailed(stage: stage))

        case (.stopRequested, .baking(let stage)), (.stopRequested, .endingBake(let stage)):
            return endBake(stage, stopping: .stopRequested)

        case (.bakeFinished, .endingBake(let stage)):
            phase = .baking(stage: stage)
            return stop(stopReason ?? .stopRequested)

        case (.stopRequested, .preflight):
            phase = .done
            return [.finish(RunResult(outcome: .refused, stopReason: .stopRequested))]

        case (.stopRequested, .pausingHolds), (.stopRequested, .settlingRollbacks):
            stopReason = .stopRequested
            return []

        case (.stopRequested, .guards), (.stopRequested, .running):
            return stop(.stopRequested)

        case (.locksLost, .done):
            return []

        case (.locksLost, .preflight):
            phase = .done
            return [.finish(RunResult(outcome: .refused, stopReason: .lockLost))]

        case (.locksLost, .guards), (.locksLost, .running):
            return stop(.lockLost)

        case (.locksLost, .baking(let stage)), (.locksLost, .endingBake(let stage)):
            return endBake(stage, stopping: .lockLost)

        case (.locksLost, .rollingBackScope):
            // The target being undone finishes its undo; no other starts.
            adopt(.lockLost)
            phase = .rollingBackScope(remaining: [])
            return continueScopeRollback()

        case (.locksLost, _):
            // Pausing holds, or settling owed rollbacks: their report brings the halt.
            adopt(.lockLost)
            return []

        case (.stepNotStarted(let target, let step), .running(let stage)):
            guard case .running(let position) = targets[target], shape.steps[target][position] == step else {
                preconditionFailure("step \(step) of target \(target) was not started, but the target is \(targets[target])")
            }
            targets[target] = .stopped
            return launchTargets(in: stage)

        case (.stepNotStarted(let target, let step), _):
            preconditionFailure("step \(step) of target \(target) was not started in phase \(phase)")

        case (.preflightFinished, .done), (.guardsChecked, _), (.cutoffReached, _), (.guardFailed, _), (.stopRequested, _):
            // Late or repeated reports change nothing: a second stop request, a guard failing
            // while rolling back, the answer of a check that a stop overtook.
            return []

        case (.preflightFinished, _), (.holdsPaused, _), (.bakeFinished, _):
            // Only ever asked for in the phase that waits for them.
            preconditionFailure("\(event) reported in phase \(phase)")
        }
    }

    // MARK: Stages

    private mutating func begin(stage: Int) -> [Action] {
        if let reason = stopReason, reason == .stopRequested || reason == .lockLost { return stop(reason) }
        guard stage < shape.stages.count else { return complete() }
        if shape.hasGuards {
            // A stage whose checks fail never starts.
            phase = .guards(stage: stage)
            return [.checkGuards(stage: stage)]
        }
        phase = .running(stage: stage)
        return [.startStage(stage)] + launchTargets(in: stage)
    }

    private func isStopping(_ stage: Int) -> Bool {
        stopReason != nil || stageFailures[stage] > shape.stages[stage].toleratedFailures
    }

    /// Starts pending targets of `stage` while fewer than `parallel` are active.
    private mutating func launchTargets(in stage: Int) -> [Action] {
        var actions: [Action] = []
        let members = shape.stages[stage].targets
        while !isStopping(stage), active(in: stage) < shape.stages[stage].parallel,
            let next = members.first(where: { targets[$0] == .pending })
        {
            if firstPosition[next] >= shape.steps[next].count {
                targets[next] = .succeeded
                continue
            }
            let position = firstPosition[next]
            targets[next] = .running(position: position)
            touched.insert(next)
            actions.append(.runStep(target: next, step: shape.steps[next][position]))
        }
        return actions + (stageIsQuiet(stage) ? stageSettled(stage) : [])
    }

    private func active(in stage: Int) -> Int {
        shape.stages[stage].targets.filter {
            if case .running = targets[$0] { return true }
            return targets[$0] == .rollingBack
        }.count
    }

    /// Nothing of the stage is running, and nothing more will start.
    private func stageIsQuiet(_ stage: Int) -> Bool {
        active(in: stage) == 0
            && (isStopping(stage) || !shape.stages[stage].targets.contains { targets[$0] == .pending })
    }

    private mutating func stageSettled(_ stage: Int) -> [Action] {
        guard phase == .running(stage: stage) else { return [] }
        if let stopReason { return stop(stopReason) }
        if stageFailures[stage] > shape.stages[stage].toleratedFailures { return stop(.thresholdExceeded(stage: stage)) }
        if shape.stages[stage].bakes {
            phase = .baking(stage: stage)
            return [.bake(stage: stage)]
        }
        return finish(stage: stage)
    }

    private mutating func finish(stage: Int) -> [Action] {
        [.finishStage(stage, failures: stageFailures[stage])] + begin(stage: stage + 1)
    }

    private mutating func stepFinished(target: Int, step: Int, succeeded: Bool, stage: Int) -> [Action] {
        guard case .running(let position) = targets[target], shape.steps[target][position] == step else {
            preconditionFailure("step \(step) of target \(target) finished, but the target is \(targets[target])")
        }
        if !succeeded {
            targets[target] = .rollingBack
            failed.append(target)
            stageFailures[stage] += 1
            // The failure that crosses the threshold decides the run's rollback: it begins now,
            // with this target's undo, so `rollback.started` precedes the rollback's first step.
            if stopReason == nil, !rollbackAnnounced, shape.onFailure == .rollback,
                stageFailures[stage] > shape.stages[stage].toleratedFailures
            {
                rollbackAnnounced = true
                return [.startRollback(reason: .thresholdExceeded(stage: stage)), .rollBackTarget(target)]
            }
            return [.rollBackTarget(target)]
        }
        if position + 1 == shape.steps[target].count {
            targets[target] = .succeeded
        } else if isStopping(stage) {
            targets[target] = .stopped
        } else {
            targets[target] = .running(position: position + 1)
            return [.runStep(target: target, step: shape.steps[target][position + 1])]
        }
        return launchTargets(in: stage)
    }

    // MARK: Stopping and rolling back

    /// A stop during a bake waits for the bake to report (the engine ends it at its next probe):
    /// the reason is kept as ``stop(_:)`` keeps it.
    private mutating func endBake(_ stage: Int, stopping reason: StopReason) -> [Action] {
        adopt(reason)
        phase = .endingBake(stage: stage)
        return []
    }

    /// Rolls back the owed targets one at a time, then begins `stage` (or stops, if asked to
    /// meanwhile).
    private mutating func settleOwedRollbacks(then stage: Int) -> [Action] {
        guard !owedRollbacks.isEmpty, stopReason != .lockLost else { return begin(stage: stage) }
        let next = owedRollbacks.removeFirst()
        phase = .settlingRollbacks(then: stage)
        targets[next] = .rollingBack
        return [.rollBackTarget(next)]
    }

    /// Keeps the first reason the rollout stopped for, except that an operator's stop gives way
    /// to what happened meanwhile, and a lost lock to nothing: it decides that the run halts.
    private mutating func adopt(_ reason: StopReason) {
        if reason == .lockLost || stopReason == nil || stopReason == .stopRequested { stopReason = reason }
    }

    private mutating func stop(_ reason: StopReason) -> [Action] {
        adopt(reason)
        // Running targets finish their current step first; their reports bring us back here.
        if let stage = currentStage, active(in: stage) > 0 {
            phase = .running(stage: stage)
            return []
        }
        var ended: [Action] = []
        switch phase {
        case .done, .rollingBackScope: return []
        case .running(let stage), .baking(let stage):
            ended = [.abandonStage(stage, failures: stageFailures[stage], reason: stopReason ?? reason)]
        default: break
        }
        switch stopReason == .lockLost ? .halt : shape.onFailure {
        case .halt:
            phase = .done
            return ended + resumeHolds() + [.finish(result(.halted))]
        case .rollback:
            let scope = scopeTargets()
            phase = .rollingBackScope(remaining: scope)
            let announce: [Action] = rollbackAnnounced ? [] : [.startRollback(reason: stopReason ?? reason)]
            rollbackAnnounced = true
            return ended + announce + continueScopeRollback()
        }
    }

    private var currentStage: Int? {
        switch phase {
        case .guards(let stage), .running(let stage), .baking(let stage): stage
        default: nil
        }
    }

    /// Targets the run's rollback undoes: every touched target not already rolled back (scope
    /// `run`), or none beyond the failed ones already undone (scope `target`), last stage first.
    private func scopeTargets() -> [Int] {
        guard shape.rollbackScope == .run else { return [] }
        return shape.stages.reversed().flatMap { $0.targets.reversed() }.filter {
            touched.contains($0) && targets[$0] != .rolledBack && targets[$0] != .rollingBack
        }
    }

    private mutating func continueScopeRollback() -> [Action] {
        guard case .rollingBackScope(var remaining) = phase else { return [] }
        if targets.contains(.rollingBack) { return [] }
        guard !remaining.isEmpty else {
            phase = .done
            // A rollback cut short by a lost lock did not undo its whole scope.
            let outcome: RunOutcome = !incomplete.isEmpty ? .rollbackIncomplete : stopReason == .lockLost ? .halted : .rolledBack
            return resumeHolds() + [.finish(result(outcome))]
        }
        let next = remaining.removeFirst()
        phase = .rollingBackScope(remaining: remaining)
        targets[next] = .rollingBack
        return [.rollBackTarget(next)]
    }

    private mutating func targetRolledBack(_ target: Int, complete: Bool) -> [Action] {
        guard targets[target] == .rollingBack else {
            preconditionFailure("target \(target) reported rolled back, but it is \(targets[target])")
        }
        targets[target] = .rolledBack
        if !complete { incomplete.append(target) }
        switch phase {
        case .running(let stage):
            return launchTargets(in: stage)
        case .rollingBackScope:
            return continueScopeRollback()
        case .settlingRollbacks(let stage):
            return settleOwedRollbacks(then: stage)
        default:
            return []
        }
    }

    private mutating func complete() -> [Action] {
        phase = .done
        let outcome: RunOutcome = !incomplete.isEmpty ? .rollbackIncomplete : failed.isEmpty ? .succeeded : .completedWithFailures
        return resumeHolds() + [.finish(result(outcome))]
    }

    private mutating func resumeHolds() -> [Action] {
        guard holdsPaused else { return [] }
        holdsPaused = false
        return [.resumeHolds]
    }

    private func result(_ outcome: RunOutcome) -> RunResult {
        RunResult(outcome: outcome, failedTargets: failed, incompleteRollbacks: incomplete, stopReason: stopReason)
    }
}
