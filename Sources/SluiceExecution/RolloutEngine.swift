import Foundation
import SluiceCore
import Synchronization

/// One thing that happened in a run, for its record.
public struct RunEvent: Sendable, Equatable {
    /// What happened.
    public var kind: EventKind
    /// The target it happened on; nil for the run as a whole (holds, guards, stages).
    public var target: String?
    /// The stage it belongs to, if any.
    public var stage: String?
    /// The step, hold, guard or preflight check's name, if any.
    public var step: String?
    /// How it ended, for events that end something.
    public var status: EventStatus?
    /// The command's exit status, when it exited by itself.
    public var exitCode: Int32?
    /// How long it took, for events that end something.
    public var duration: Duration?
    /// `command` (as shown, secrets masked), `output` (the end of it, redacted), `reason`, ...
    public var detail: [String: String]
    /// Whether the recorder may make this event durable with the next one instead of on its own:
    /// set only where another event follows at once (a step that succeeded and is not its
    /// target's last), so that what the store shows never lags behind the run for long.
    public var mayWaitForNextEvent = false

    /// An event of `kind`, with what is known of it.
    public init(
        _ kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil, status: EventStatus? = nil,
        exitCode: Int32? = nil, duration: Duration? = nil, detail: [String: String] = [:]
    ) {
        self.kind = kind
        self.target = target
        self.stage = stage
        self.step = step
        self.status = status
        self.exitCode = exitCode
        self.duration = duration
        self.detail = detail
    }
}

/// Where a run's events, file backups and command output go. The seam between the engine and
/// the audit store and display.
public protocol RunRecorder: Sendable {
    /// Records `event`; returns only once it is durable.
    func record(_ event: RunEvent) async throws
    /// Keeps a file's state from before a step changed it; returns only once it is durable.
    func saveBackup(_ snapshot: FileSnapshot, target: String, step: String) async throws
    /// Shows one line a step's command printed (redacted) as it arrives; it is not recorded
    /// (the step's event keeps the end of the output).
    func show(output line: String, target: String, step: String)
}

extension RunRecorder {
    /// Shows nothing: for recorders that have no display.
    public func show(output line: String, target: String, step: String) {}
}

/// Carries out a plan: asks the ``RolloutMachine`` what to do, does it with the step executor,
/// and reports back, until the machine says the run is finished.
///
/// Write-ahead: a step is recorded as started, durably, before it runs, and a file's backup is
/// durable before the file changes; if either cannot be recorded, the step does not run and
/// counts as failed. Targets of a stage run concurrently up to the stage's `parallel`.
public struct RolloutEngine<C: Clock>: Sendable where C.Duration == Duration {
    let executor: StepExecutor<C>
    /// How each target (and the runner itself, for holds and guards) is reached.
    let transports: Transports
    let recorder: any RunRecorder
    let clock: C
    let redactor: Redactor
    /// The time of day, for the window's cutoff before each stage.
    let now: @Sendable () -> Date

    /// An engine that runs steps with `executor`, reaches targets through `transports` and records through `recorder`; `now` gives the time of day for the window's cutoff.
    public init(
        executor: StepExecutor<C>, transports: Transports, recorder: any RunRecorder, clock: C, redactor: Redactor,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.executor = executor
        self.transports = transports
        self.recorder = recorder
        self.clock = clock
        self.redactor = redactor
        self.now = now
    }

    /// How a run begins: from the start, or from a journal.
    public enum Start: Sendable {
        case beginning
        /// `sluice resume`: finished steps are skipped, an in-doubt step runs again.
        case resuming(RunProgress, backups: Backups)
        /// `sluice rollback`: every touched target not yet rolled back is undone.
        case rollingBack(RunProgress, backups: Backups)
    }

    /// The earliest backup of each file a run changed, by target and step name: the file as it
    /// was before the run, even when a resumed step changed it again.
    public typealias Backups = [String: [String: FileSnapshot]]

    /// Runs `plan` to its end and returns how it ended.
    ///
    /// - Parameter stop: set by the first Ctrl-C or SIGTERM (no new step starts, running ones
    ///   finish, then the run acts as on failure), or by a lost lock (no step starts on that
    ///   target, and the run halts).
    public func run(_ plan: Plan, mode: String = "apply", from start: Start = .beginning, stop: StopSignal? = nil) async -> RolloutMachine.RunResult {
        let run = Run(plan: plan, mode: mode, transports: transports, redactor: redactor, recorder: recorder, stop: stop)
        var machine: RolloutMachine
        var pending: [RolloutMachine.Action]
        switch start {
        case .beginning:
            machine = RolloutMachine(shape: run.shape)
            pending = machine.start()
        case .resuming(let progress, let backups), .rollingBack(let progress, let backups):
            run.restore(progress, backups: backups)
            machine = RolloutMachine(shape: run.shape, progress: progress.machineProgress(for: plan, shape: run.shape))
            if case .resuming = start { pending = machine.resume() } else { pending = machine.rollBack() }
        }
        var result = RolloutMachine.RunResult(outcome: .refused)
        let timers = Timers()
        await withTaskGroup(of: RolloutMachine.Event?.self) { group in
            if let stop {
                group.addTask { await stop.wait(orUntil: run.ended) ? .stopRequested : nil }
                group.addTask { await stop.waitForLostLock(orUntil: run.ended) ? .locksLost : nil }
            }
            while true {
                for action in pending {
                    switch action {
                    case .readClock:
                        group.addTask { [now] in .clockRead(now()) }
                    case .refuseStage(let stage):
                        await note(RunEvent(
                            .windowCutoff, stage: plan.stages[stage].name, status: .refused,
                            detail: ["last_stage_start": plan.window.lastStageStart?.ISO8601Format() ?? "",
                                     "reason": "less than the window's cutoff remains; the stage was not started"]))
                    case .startStage(let stage):
                        await note(RunEvent(.stageStarted, stage: plan.stages[stage].name))
                    case .finishStage(let stage, let failures):
                        await note(RunEvent(.stageFinished, stage: plan.stages[stage].name, status: failures == 0 ? .succeeded : .completedWithFailures, detail: ["failures": "\(failures)"]))
                    case .abandonStage(let stage, let failures, let reason):
                        // Failed when the stage itself went wrong; stopped when it was stopped from outside.
                        let failedItself = switch reason {
                        case .thresholdExceeded, .guardFailed, .bakeUnhealthy: true
                        default: false
                        }
                        await note(RunEvent(
                            .stageFinished, stage: plan.stages[stage].name, status: failedItself ? .failed : .stopped,
                            detail: ["failures": "\(failures)", "reason": Self.describe(reason, plan)]))
                    case .startRollback(let reason):
                        await note(RunEvent(.rollbackStarted, detail: ["reason": Self.describe(reason, plan)]))
                    case .finish(let finished):
                        result = finished
                        timers.cancelAll()  // no timer outlives the run
                        run.ended.fire()
                    case .pauseHolds:
                        group.addTask { await hold(plan, pausing: true); return .holdsPaused }
                    case .resumeHolds:
                        group.addTask { await hold(plan, pausing: false); return nil }
                    case .runPreflight:
                        group.addTask { .preflightFinished(succeeded: await preflight(run)) }
                    case .checkGuards(let stage):
                        group.addTask { .guardsChecked(stage: stage, passed: await guards(run, stage: stage)) }
                    case .runStep(let target, let step):
                        group.addTask { await runStep(run, target: target, step: step) }
                    case .rollBackTarget(let target):
                        group.addTask { .targetRolledBack(target, complete: await rollBack(run, target: target)) }
                    case .probe(let target, let step):
                        group.addTask { await probe(run, target: target, step: step) }
                    case .startTimer(let timer, let delay):
                        let cancelled = timers.set(timer)
                        group.addTask { [clock] in
                            await clock.sleep(for: delay, unless: cancelled) ? nil : .timerFired(timer)
                        }
                    case .cancelTimer(let timer):
                        timers.cancel(timer)
                    case .endWaits:
                        run.stopping.fire()
                    }
                }
                pending = []
                guard let next = await group.next() else { break }
                if let event = next { pending = machine.handle(event) }
            }
        }
        return result
    }

    /// The timers the machine set and has not cancelled, each with the latch that cancels it.
    final class Timers: Sendable {
        private let set = Mutex<[RolloutMachine.Timer: Latch]>([:])

        func set(_ timer: RolloutMachine.Timer) -> Latch {
            let latch = Latch()
            set.withLock { $0[timer] = latch }
            return latch
        }

        func cancel(_ timer: RolloutMachine.Timer) {
            set.withLock { $0.removeValue(forKey: timer) }?.fire()
        }

        func cancelAll() {
            for latch in set.withLock({ timers in defer { timers = [:] }; return Array(timers.values) }) { latch.fire() }
        }
    }

    // MARK: The run's state

    /// The plan flattened for the machine, and each target's journal of started steps.
    final class Run: Sendable {
        let plan: Plan
        let mode: String
        /// Targets in stage order, with the index of their stage.
        let targets: [(target: PlannedTarget, stage: Int)]
        let shape: RolloutMachine.Shape
        /// For each target, the steps that started on it, in order, with a file's snapshot.
        let journal: Mutex<[[JournalEntry]]>
        /// Fired when the machine finished, for the stop watcher to end at once.
        let ended = Latch()
        /// Fired when the machine says the rollout is stopped from outside (``RolloutMachine/Action/endWaits``):
        /// a forward `wait` under way ends.
        let stopping = Latch()

        /// Hides the run's secret values in everything its commands print.
        let redactor: Redactor
        /// Where the commands' output is shown as it arrives.
        let recorder: any RunRecorder
        /// Which targets' locks the run lost: no step starts on those.
        let stop: StopSignal?
        /// How each target is reached.
        let transports: Transports

        init(plan: Plan, mode: String, transports: Transports, redactor: Redactor, recorder: any RunRecorder, stop: StopSignal?) {
            self.plan = plan
            self.transports = transports
            self.stop = stop
            self.mode = mode
            self.redactor = redactor
            self.recorder = recorder
            var targets: [(PlannedTarget, Int)] = []
            var stages: [RolloutMachine.Shape.Stage] = []
            for (index, stage) in plan.stages.enumerated() {
                let first = targets.count
                targets += stage.targets.map { ($0, index) }
                stages.append(.init(
                    name: stage.name, targets: Array(first..<targets.count), parallel: stage.parallel,
                    toleratedFailures: stage.toleratedFailures, bake: stage.bake?.duration))
            }
            self.targets = targets
            shape = RolloutMachine.Shape(
                stages: stages, steps: targets.map { target in target.0.steps.indices.filter { target.0.steps[$0].applies } },
                onFailure: plan.onFailure, rollbackScope: plan.rollbackScope,
                hasHolds: !plan.holds.isEmpty, hasGuards: !plan.guards.isEmpty,
                // Guards are watched as often as the most frequent one asks.
                guardInterval: plan.guards.compactMap { $0.every?.duration }.min(),
                lastStageStart: plan.window.lastStageStart,
                healthSteps: targets.map { target in target.0.steps.indices.filter { target.0.steps[$0].applies && target.0.steps[$0].health != nil } })
            journal = Mutex(Array(repeating: [], count: targets.count))
        }

        /// Fills the journal of started steps from a past run's progress, with each file's
        /// earliest backup.
        func restore(_ progress: RunProgress, backups: Backups) {
            journal.withLock { journal in
                for (index, entry) in targets.enumerated() {
                    guard let recorded = progress.targets[entry.target.name] else { continue }
                    // A step already undone is left out, so a rollback cut short is finished
                    // without undoing anything twice.
                    journal[index] = entry.target.steps.indices.filter {
                        recorded.started.contains(entry.target.steps[$0].name) && !recorded.undone.contains(entry.target.steps[$0].name)
                    }.map { step in
                        let name = entry.target.steps[step].name
                        return JournalEntry(step: step, snapshot: backups[entry.target.name]?[name], undoCutShort: recorded.undoStarted.contains(name))
                    }
                }
            }
        }

        func context(target: Int, step: String, mode: String, extra: [String: String]? = nil) -> StepExecutor<C>.Context {
            let entry = targets[target]
            var environment = [
                "SLUICE_RUN_ID": plan.runID, "SLUICE_MODE": mode, "SLUICE_TARGET": entry.target.name,
                "SLUICE_STAGE": plan.stages[entry.stage].name, "SLUICE_STEP": step,
            ]
            environment.merge(extra ?? [:]) { _, stepValue in stepValue }
            let (recorder, target) = (recorder, entry.target.name)
            return .init(
                transport: transports.transport(for: target), environment: environment, redactor: redactor,
                onOutput: { line in recorder.show(output: line, target: target, step: step) })
        }
    }

    // MARK: Actions

    private func runStep(_ run: Run, target: Int, step: Int) async -> RolloutMachine.Event {
        let (planned, stage) = (run.targets[target].target, run.plan.stages[run.targets[target].stage].name)
        let plannedStep = planned.steps[step]
        // A lock lost between the machine's decision and here: the step does not start.
        if run.stop?.lostLock(on: planned.name) != nil { return .stepNotStarted(target: target, step: step) }
        do {
            try await recorder.record(RunEvent(
                .stepStarted, target: planned.name, stage: stage, step: plannedStep.name,
                detail: Self.commandDetail(plannedStep)))
        } catch {
            return .stepFinished(target: target, step: step, succeeded: false)
        }
        // A step run again (in doubt when a run resumes) keeps its place and its first snapshot:
        // the file as it was before the run.
        run.journal.withLock { journal in
            if !journal[target].contains(where: { $0.step == step }) { journal[target].append(JournalEntry(step: step)) }
        }
        var context = run.context(target: target, step: plannedStep.name, mode: run.mode, extra: plannedStep.environment)
        // A forward `wait` ends when the run stops; recovery's waits are left to settle.
        context.stopping = run.stopping
        let began = clock.now
        let outcome = await executor.run(plannedStep, in: context) { snapshot in
            try await recorder.saveBackup(snapshot, target: planned.name, step: plannedStep.name)
            run.journal.withLock { journal in
                if let entry = journal[target].firstIndex(where: { $0.step == step }), journal[target][entry].snapshot == nil {
                    journal[target][entry].snapshot = snapshot
                }
            }
        }
        var finished = Self.finished(.stepFinished, outcome, took: began.duration(to: clock.now), target: planned.name, stage: stage, step: plannedStep.name)
        // The target's next step.started follows at once and carries this event with it.
        finished.mayWaitForNextEvent = outcome.succeeded && run.shape.steps[target].last != step
        await note(finished)
        return .stepFinished(target: target, step: step, succeeded: outcome.succeeded)
    }

    /// A step that started on a target, as its rollback needs it.
    struct JournalEntry: Sendable {
        var step: Int
        /// The file as it was before the run, for a file step.
        var snapshot: FileSnapshot?
        /// A past rollback started undoing this step and did not finish: its file may be
        /// restored already, but its `reload` must run again.
        var undoCutShort = false
    }

    /// Undoes every step that started on the target, last first, then runs its recovery.
    /// Returns whether everything succeeded.
    private func rollBack(_ run: Run, target: Int) async -> Bool {
        let (planned, stage) = (run.targets[target].target, run.plan.stages[run.targets[target].stage].name)
        var complete = true
        let started = run.journal.withLock { $0[target] }
        for entry in started.reversed() {
            let plannedStep = planned.steps[entry.step]
            if let why = run.stop?.lostLock(on: planned.name) {
                // Undoing a target another run now holds would change it under that run: the
                // step stays to undo, for `sluice rollback` once the target is free again.
                await note(RunEvent(
                    .rollbackStepFinished, target: planned.name, stage: stage, step: plannedStep.name, status: .failed,
                    detail: ["result": "not undone: the run lost its lock on \(planned.name) (\(why))"]))
                complete = false
                continue
            }
            await note(RunEvent(.rollbackStepStarted, target: planned.name, stage: stage, step: plannedStep.name))
            let context = run.context(target: target, step: plannedStep.name, mode: "rollback", extra: plannedStep.environment)
            let began = clock.now
            let outcome = await executor.undo(plannedStep, snapshot: entry.snapshot, reloadAlways: entry.undoCutShort, in: context)
            complete = complete && outcome.succeeded
            await note(Self.finished(.rollbackStepFinished, outcome, took: began.duration(to: clock.now), target: planned.name, stage: stage, step: plannedStep.name))
        }
        // Recovery acts on the target too: not on one the run no longer holds.
        guard run.stop?.lostLock(on: planned.name) == nil else { return false }
        for step in planned.recovery where step.applies {
            let context = run.context(target: target, step: step.name, mode: "recovery", extra: step.environment)
            let began = clock.now
            let outcome = await executor.run(step, in: context)
            complete = complete && outcome.succeeded
            await note(Self.finished(.recoveryStepFinished, outcome, took: began.duration(to: clock.now), target: planned.name, stage: stage, step: step.name))
        }
        return complete
    }

    private func preflight(_ run: Run) async -> Bool {
        var passed = true
        for (index, entry) in run.targets.enumerated() {
            for check in entry.target.preflight {
                let context = run.context(target: index, step: check.name, mode: "check")
                let result = await Self.run(check.command.executable, on: context.transport) {
                    CommandRequest(command: $0, environment: context.environment, redactor: redactor)
                }
                passed = passed && result.succeeded
                await note(RunEvent(
                    .preflightFinished, target: entry.target.name, step: check.name, status: EventStatus(succeeded: result.succeeded),
                    exitCode: result.exitCode, duration: result.duration,
                    detail: ["command": check.command.display, "output": result.output]))
            }
        }
        return passed
    }

    private func guards(_ run: Run, stage: Int) async -> Bool {
        var passed = true
        for guardCheck in run.plan.guards {
            let environment = ["SLUICE_RUN_ID": run.plan.runID, "SLUICE_MODE": "check", "SLUICE_STAGE": run.plan.stages[stage].name, "SLUICE_STEP": guardCheck.name]
            let check = guardCheck.check(forStage: stage)
            let result = await Self.run(check.executable, on: transports.runner) {
                CommandRequest(command: $0, environment: environment, timeout: Guard.timeout, redactor: redactor)
            }
            if !result.succeeded {
                passed = false
                await note(RunEvent(
                    .guardFailed, stage: run.plan.stages[stage].name, step: guardCheck.name, status: .failed,
                    exitCode: result.exitCode, detail: ["command": check.display, "output": result.output]))
            }
        }
        return passed
    }

    private func hold(_ plan: Plan, pausing: Bool) async {
        for hold in plan.holds {
            let environment = ["SLUICE_RUN_ID": plan.runID, "SLUICE_MODE": pausing ? "apply" : "recovery", "SLUICE_STEP": hold.name]
            let result = await Self.run(pausing ? hold.pauseCommand : hold.resumeCommand, on: transports.runner) {
                CommandRequest(command: $0, environment: environment, redactor: redactor)
            }
            await note(RunEvent(
                pausing ? .holdPaused : .holdResumed, step: hold.name, status: EventStatus(succeeded: result.succeeded),
                exitCode: result.exitCode, duration: result.duration,
                detail: ["command": pausing ? hold.pause : hold.resume, "output": result.output]))
        }
    }

    /// Probes one health step of a baking stage's target once (its attempts and intervals as
    /// the step says), recording `bake.failed` when it is unhealthy.
    private func probe(_ run: Run, target: Int, step: Int) async -> RolloutMachine.Event {
        let (planned, stage) = (run.targets[target].target, run.plan.stages[run.targets[target].stage].name)
        let healthStep = planned.steps[step]
        let context = run.context(target: target, step: healthStep.name, mode: run.mode)
        let began = clock.now
        let outcome = await executor.run(healthStep, in: context)
        if !outcome.succeeded {
            await note(Self.finished(.bakeFailed, outcome, took: began.duration(to: clock.now), target: planned.name, stage: stage, step: healthStep.name))
        }
        return .probed(target: target, step: step, healthy: outcome.succeeded)
    }

    /// Runs `command` on `transport`. A plan without it (an executable part missing from what
    /// was read back) fails to start: a check that cannot run never passes.
    static func run(
        _ command: RenderedCommand?, on transport: any TargetTransport, _ request: (RenderedCommand) -> CommandRequest
    ) async -> CommandResult {
        guard let command else {
            return CommandResult(termination: .failedToStart("the plan holds no command for it"), output: "", duration: .zero)
        }
        return await transport.run(request(command))
    }

    // MARK: Recording

    /// Records an event whose loss would not change what happens next, ignoring a failure to
    /// record it. Only `step.started` must be durable before anything happens (see `runStep`);
    /// a store that has stopped taking writes fails the next step that way, which rolls back.
    private func note(_ event: RunEvent) async {
        try? await recorder.record(event)
    }

    /// A step's end, with how long it took from start to end: for a command its runs, retries
    /// and delays; for a health step its probes and intervals; for a wait, the wait.
    static func finished(_ kind: EventKind, _ outcome: StepOutcome, took: Duration, target: String, stage: String, step: String) -> RunEvent {
        var detail = ["result": outcome.detail]
        if let output = outcome.commands.last?.output, !output.isEmpty { detail["output"] = output }
        return RunEvent(
            kind, target: target, stage: stage, step: step, status: EventStatus(succeeded: outcome.succeeded),
            exitCode: outcome.exitCode, duration: took, detail: detail)
    }

    static func commandDetail(_ step: PlannedStep) -> [String: String] {
        if let command = step.command?.display { return ["command": command] }
        if let file = step.file { return ["file": file.path] }
        if let health = step.health { return ["probe": health.probe.description] }
        return [:]
    }

    static func describe(_ reason: RolloutMachine.StopReason, _ plan: Plan) -> String {
        switch reason {
        case .thresholdExceeded(let stage): "stage \(plan.stages[stage].name) had more failed targets than it tolerates"
        case .guardFailed(let stage): "a guard failed during stage \(plan.stages[stage].name)"
        case .bakeUnhealthy(let stage): "a target of stage \(plan.stages[stage].name) became unhealthy while baking"
        case .stopRequested: "the operator asked the run to stop"
        case .rollbackRequested: "an operator asked for the run to be rolled back"
        case .cutoffReached(let stage): "stage \(plan.stages[stage].name) would start within the window's cutoff, so it was not started"
        case .lockLost: "the run lost a lock it held"
        }
    }
}
