import Foundation

/// The rules of a rollout (SPEC section 4) as a pure state machine.
///
/// The machine is told what happened (``Event``) and answers with what to do next (``Action``);
/// a short engine loop carries the actions out and reports back. Nothing here runs a command,
/// reads a clock or sleeps, so every rule can be tested with plain values: when time matters
/// (a bake's length, how often guards are checked), the machine sets a ``Timer`` and the engine
/// reports when it is due; when the time of day matters (the window's cutoff), the machine asks
/// the engine to read the clock.
///
/// Rules it encodes:
/// - Preflight runs on every target before anything changes; a failure refuses the run.
/// - Holds are paused after preflight and resumed at the end of every path that paused them.
/// - Stages run in order. Before a stage the window's cutoff is checked (less than the cutoff
///   left: the stage does not start and the run stops), then its guards. Targets of a stage run
///   up to `parallel` at a time; each target's steps run in order. While a stage runs or bakes,
///   its guards are checked again every `every`.
/// - A stage that bakes probes its targets' health steps one at a time, in rounds a second
///   apart, until its bake time is over; the round under way when it ends is finished.
/// - A target whose step fails is rolled back at once, whatever the threshold.
/// - When a stage's failures exceed its tolerance (or a guard fails, or a bake finds a target
///   unhealthy, or the operator stops the run), no new target or step starts; targets that are
///   running finish their current step, and then the run stops: with `on_failure: rollback` it
///   rolls back its scope one target at a time in reverse stage order, with `halt` it keeps its
///   state.
/// - A run in which any target failed never ends `succeeded`.
public struct RolloutMachine: Sendable {
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
        /// Waiting for the time of day, to know whether the stage may start.
        case checkingCutoff(stage: Int)
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

    /// The rollout's shape, as the machine was made with it.
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
    /// The bake under way, if the phase is baking.
    private var bake: Bake?
    /// Timers set and neither fired nor cancelled.
    private var armed: Set<Timer> = []
    /// ``Action/endWaits`` was given.
    private var waitsEnded = false

    /// Where a stage's bake stands.
    struct Bake: Equatable {
        /// The probes of one round: each target's health steps, targets in stage order.
        var round: [Probe]
        /// The round's next probe.
        var next = 0
        /// A probe is in flight.
        var probing = false
        /// The round is done and the next one not yet due.
        var betweenRounds = false
        /// The bake time is over: the stage finishes when the round under way does.
        var timeUp = false
    }

    struct Probe: Equatable {
        var target: Int
        var step: Int
    }

    /// A machine for a fresh run, nothing done yet: call ``start()``. A run that already made
    /// progress is resumed or rolled back by a machine from ``init(shape:progress:)``.
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
        // A stop from outside the stage cuts a `wait` under way short, once.
        guard !waitsEnded, endsWaits(event) else { return react(to: event) }
        waitsEnded = true
        return [.endWaits] + react(to: event)
    }

    private func endsWaits(_ event: Event) -> Bool {
        switch (event, phase) {
        case (.stopRequested, _), (.locksLost, _): true
        case (.guardsChecked(let checked, passed: false), .running(let stage)) where checked == stage: true
        case (.guardsChecked(let checked, passed: false), .baking(let stage)) where checked == stage: true
        default: false
        }
    }

    private mutating func react(to event: Event) -> [Action] {
        if case .timerFired(let timer) = event { armed.remove(timer) }
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

        case (.clockRead(let now), .checkingCutoff(let stage)):
            if let reason = stopReason, reason == .stopRequested || reason == .lockLost { return stop(reason) }
            if let lastStart = shape.lastStageStart, now >= lastStart {
                return [.refuseStage(stage)] + stop(.cutoffReached(stage: stage))
            }
            return checkGuardsOrStart(stage)

        case (.guardsChecked(let checked, let passed), .guards(let stage)) where checked == stage:
            guard passed else { return stop(.guardFailed(stage: stage)) }
            return startStage(stage)

        case (.guardsChecked(let checked, let passed), .running(let stage)) where checked == stage:
            guard passed else { return stop(.guardFailed(stage: stage)) }
            return isStopping(stage) ? [] : rearmGuards(stage)

        case (.guardsChecked(let checked, let passed), .baking(let stage)) where checked == stage:
            guard passed else { return endBake(stage, stopping: .guardFailed(stage: stage)) }
            return rearmGuards(stage)

        case (.guardsChecked(let checked, passed: false), .endingBake(let stage)) where checked == stage:
            return endBake(stage, stopping: .guardFailed(stage: stage))

        case (.timerFired(.guards(let stage)), .running(let running)) where running == stage,
            (.timerFired(.guards(let stage)), .baking(let running)) where running == stage:
            // A stopping stage is not watched further: it ends when its running steps do.
            return isStopping(stage) ? [] : [.checkGuards(stage: stage)]

        case (.stepFinished(let target, let step, let succeeded), .running(let stage)):
            return stepFinished(target: target, step: step, succeeded: succeeded, stage: stage)

        case (.stepFinished(let target, let step, _), _):
            // Steps run only while their stage runs: stopping waits for them before rolling back.
            preconditionFailure("step \(step) of target \(target) finished in phase \(phase)")

        case (.targetRolledBack(let target, let complete), _):
            return targetRolledBack(target, complete: complete)

        case (.probed(_, _, let healthy), .baking(let stage)):
            bake?.probing = false
            guard healthy else { return stop(.bakeUnhealthy(stage: stage)) }
            bake?.next += 1
            return nextProbe(stage)

        case (.probed, .endingBake(let stage)):
            // The probe in flight when the rollout was told to stop has ended: now it stops.
            phase = .baking(stage: stage)
            return stop(stopReason ?? .stopRequested)

        case (.timerFired(.bakeEnds(let stage)), .baking(let baking)) where baking == stage:
            bake?.timeUp = true
            // Between rounds the bake is over now; a round under way is finished first.
            guard bake?.betweenRounds == true else { return [] }
            return finish(stage: stage)

        case (.timerFired(.nextBakeRound(let stage)), .baking(let baking)) where baking == stage:
            bake?.next = 0
            bake?.betweenRounds = false
            return nextProbe(stage)

        case (.stopRequested, .baking(let stage)), (.stopRequested, .endingBake(let stage)):
            return endBake(stage, stopping: .stopRequested)

        case (.stopRequested, .preflight):
            phase = .done
            return [.finish(RunResult(outcome: .refused, stopReason: .stopRequested))]

        case (.stopRequested, .pausingHolds), (.stopRequested, .settlingRollbacks), (.stopRequested, .checkingCutoff):
            // The report under way brings the stop.
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
            // Pausing holds, reading the clock, or settling owed rollbacks: their report brings the halt.
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

        case (.preflightFinished, .done), (.guardsChecked, _), (.stopRequested, _), (.timerFired, _):
            // Late or repeated reports change nothing: a second stop request, a guard failing
            // while rolling back, the answer of a check that a stop overtook, a timer of a stage
            // that ended as it fired.
            return []

        case (.preflightFinished, _), (.holdsPaused, _), (.probed, _), (.clockRead, _):
            // Only ever asked for in the phase that waits for them.
            preconditionFailure("\(event) reported in phase \(phase)")
        }
    }

    // MARK: Stages

    private mutating func begin(stage: Int) -> [Action] {
        if let reason = stopReason, reason == .stopRequested || reason == .lockLost { return stop(reason) }
        guard stage < shape.stages.count else { return complete() }
        if shape.lastStageStart != nil {
            phase = .checkingCutoff(stage: stage)
            return [.readClock(stage: stage)]
        }
        return checkGuardsOrStart(stage)
    }

    private mutating func checkGuardsOrStart(_ stage: Int) -> [Action] {
        if shape.hasGuards {
            // A stage whose checks fail never starts.
            phase = .guards(stage: stage)
            return [.checkGuards(stage: stage)]
        }
        return startStage(stage)
    }

    private mutating func startStage(_ stage: Int) -> [Action] {
        phase = .running(stage: stage)
        return [.startStage(stage)] + rearmGuards(stage) + launchTargets(in: stage)
    }

    /// Sets the timer of the stage's next guard check, when guards are watched.
    private mutating func rearmGuards(_ stage: Int) -> [Action] {
        guard let interval = shape.guardInterval, shape.hasGuards else { return [] }
        return [arm(.guards(stage: stage), after: interval)]
    }

    private mutating func arm(_ timer: Timer, after delay: Duration) -> Action {
        armed.insert(timer)
        return .startTimer(timer, after: delay)
    }

    /// Cancels every timer still set: the stage they belong to is over.
    private mutating func disarm() -> [Action] {
        defer { armed = [] }
        return armed.sorted { "\($0)" < "\($1)" }.map { .cancelTimer($0) }
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
        if let duration = shape.stages[stage].bake {
            phase = .baking(stage: stage)
            let round = shape.stages[stage].targets.flatMap { target in
                shape.healthSteps[target].map { Probe(target: target, step: $0) }
            }
            bake = Bake(round: round)
            return [arm(.bakeEnds(stage: stage), after: duration)] + nextProbe(stage)
        }
        return finish(stage: stage)
    }

    /// The bake's next probe; after a round's last, the pause before the next round (or the
    /// stage's end, when the bake time is over).
    private mutating func nextProbe(_ stage: Int) -> [Action] {
        guard let current = bake else { return [] }
        if current.next < current.round.count {
            bake?.probing = true
            let probe = current.round[current.next]
            return [.probe(target: probe.target, step: probe.step)]
        }
        if current.timeUp { return finish(stage: stage) }
        bake?.betweenRounds = true
        // A stage with nothing to probe just waits for its bake time to be over.
        return current.round.isEmpty ? [] : [arm(.nextBakeRound(stage: stage), after: Self.bakeRoundInterval)]
    }

    private mutating func finish(stage: Int) -> [Action] {
        bake = nil
        return disarm() + [.finishStage(stage, failures: stageFailures[stage])] + begin(stage: stage + 1)
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

    /// A stop during a bake: at once between probes; with a probe in flight, once it reports,
    /// so that no probe runs beside a rollback. The reason is kept as ``stop(_:)`` keeps it.
    private mutating func endBake(_ stage: Int, stopping reason: StopReason) -> [Action] {
        guard bake?.probing == true else {
            phase = .baking(stage: stage)
            return stop(reason)
        }
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
            bake = nil
            ended = disarm() + [.abandonStage(stage, failures: stageFailures[stage], reason: stopReason ?? reason)]
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
