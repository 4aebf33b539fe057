/// How far a run got, read from its journal (its events), for `resume` and `rollback`.
///
/// Pure: built from the events' kinds and names, so that the rules (which steps count as
/// finished, which are in doubt, which targets are already rolled back) are plain values.
public struct RunProgress: Sendable, Equatable {
    /// The part of an audit event that progress depends on.
    public struct Event: Sendable, Equatable {
        /// What happened.
        public var kind: EventKind
        /// The target's name, for an event about one target.
        public var target: String?
        /// The stage's name, for an event about one stage.
        public var stage: String?
        /// The step's name (or an undo's, or a recovery step's), for an event about one step.
        public var step: String?
        /// How it ended; nil for an event that only says something started.
        public var status: EventStatus?

        /// The parts of one recorded event.
        public init(kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil, status: EventStatus? = nil) {
            self.kind = kind
            self.target = target
            self.stage = stage
            self.step = step
            self.status = status
        }
    }

    /// What the journal says happened on one target.
    public struct Target: Sendable, Equatable {
        /// Steps recorded as started, in the order they first started.
        public var started: [String] = []
        /// Steps recorded as finished successfully. A started step not in here is in doubt.
        public var finished: Set<String> = []
        /// A step of the target failed (after its retries).
        public var failed = false
        /// Whether the target's rollback started (so the run undid it, or began to).
        public var rollbackBegan = false
        /// Steps whose undo finished successfully: never undone twice.
        public var undone: Set<String> = []
        /// Steps whose undo started (finished or not): an undo started but not finished was cut
        /// short, so its file's `reload` runs again even when the file is already restored.
        public var undoStarted: Set<String> = []
        /// Recovery steps that finished successfully after the target's undo.
        public var recovered: Set<String> = []

        /// Started steps that never reported finishing: the runner died while they ran.
        public var inDoubt: [String] { started.filter { !finished.contains($0) } }
    }

    /// What happened on each target the journal mentions, by name; a target not here was not touched.
    public var targets: [String: Target] = [:]
    /// Stages whose `stage.finished` is neither `failed` nor `stopped`, by name: those ran to their
    /// end, and a resumed run does not run them again.
    public var finishedStages: Set<String> = []
    /// Whether the run began rolling back its scope (a stopped rollout).
    public var rollbackStarted = false

    /// The progress `events` show, read in the order they were recorded. Events of other kinds, or
    /// without the names they need, are passed over.
    public init(events: [Event]) {
        for event in events {
            switch event.kind {
            case .stepStarted:
                guard let target = event.target, let step = event.step else { continue }
                if !targets[target, default: Target()].started.contains(step) {
                    targets[target, default: Target()].started.append(step)
                }
            case .stepFinished:
                guard let target = event.target, let step = event.step else { continue }
                if event.status == .succeeded {
                    targets[target, default: Target()].finished.insert(step)
                } else {
                    targets[target, default: Target()].failed = true
                }
            case .rollbackStepStarted, .rollbackStepFinished, .recoveryStepFinished:
                guard let target = event.target else { continue }
                targets[target, default: Target()].rollbackBegan = true
                if event.kind == .rollbackStepStarted, let step = event.step {
                    targets[target, default: Target()].undoStarted.insert(step)
                }
                guard let step = event.step, event.status == .succeeded else { continue }
                if event.kind == .rollbackStepFinished { targets[target, default: Target()].undone.insert(step) }
                if event.kind == .recoveryStepFinished { targets[target, default: Target()].recovered.insert(step) }
            case .rollbackStarted:
                rollbackStarted = true
            case .stageFinished:
                // A stage that stopped before its end (`failed`, `stopped`) is not finished: a
                // resumed run goes on with it.
                guard event.status != .failed, event.status != .stopped else { continue }
                if let stage = event.stage { finishedStages.insert(stage) }
            default:
                continue
            }
        }
    }

    /// Whether `target`'s rollback finished: every step it started was undone and its recovery
    /// passed. A target whose rollback the runner did not live to finish is not rolled back: it
    /// is rolled back again, its undone steps skipped.
    public func isRolledBack(_ target: PlannedTarget) -> Bool {
        guard let recorded = targets[target.name], recorded.rollbackBegan else { return false }
        // A started step the plan no longer has (a resume that accepted a changed runbook)
        // cannot be undone from it, so it cannot keep the target owed forever.
        let planned = Set(target.steps.map(\.name))
        return recorded.started.filter(planned.contains).allSatisfy(recorded.undone.contains)
            && target.recovery.filter(\.applies).allSatisfy { recorded.recovered.contains($0.name) }
    }

    /// Whether `target` failed or began rolling back, and its rollback did not complete: the run
    /// owes it a rollback, which `resume` and `rollback` finish. A failed target is rolled back
    /// at once, so this happens when the runner died before that rollback finished, or when one
    /// of its undo or recovery steps failed (in a halted run).
    public func owesRollback(_ target: PlannedTarget) -> Bool {
        guard let recorded = targets[target.name] else { return false }
        return (recorded.failed || recorded.rollbackBegan) && !isRolledBack(target)
    }

    /// The targets the journal says the run changed (a step started and not undone) that `plan`
    /// cannot account for, each as a sentence: no target of that name, or (with
    /// `checkingSteps`) a started step the target has no step of that name for. Resuming or
    /// rolling back with such a plan would do nothing there and still report success, so the
    /// callers refuse instead.
    public func unaccounted(in plan: Plan, checkingSteps: Bool) -> [String] {
        let planned = Dictionary(plan.targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return targets.sorted { $0.key < $1.key }.compactMap { name, recorded in
            let owed = recorded.started.filter { !recorded.undone.contains($0) }
            guard !owed.isEmpty else { return nil }
            guard let target = planned[name] else {
                return "\(name) (its step\(owed.count == 1 ? "" : "s") \(owed.joined(separator: ", ")) started): the plan has no target \(name)"
            }
            guard checkingSteps else { return nil }
            let missing = owed.filter { step in !target.steps.contains { $0.name == step } }
            guard !missing.isEmpty else { return nil }
            return "\(name): its step\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) started, but the plan has no step of that name"
        }
    }

    /// The progress in the machine's terms for `plan`, whose targets and steps are matched by
    /// name (a resumed run may have accepted a changed runbook).
    public func machineProgress(for plan: Plan, shape: RolloutMachine.Shape) -> RolloutMachine.Progress {
        let planned = plan.targets
        var progress = RolloutMachine.Progress(finishedSteps: Array(repeating: 0, count: planned.count))
        for (index, target) in planned.enumerated() {
            guard let recorded = targets[target.name] else { continue }
            let steps = shape.steps[index].map { target.steps[$0].name }
            progress.finishedSteps[index] = steps.prefix { recorded.finished.contains($0) }.count
            if !recorded.started.isEmpty { progress.touched.insert(index) }
            if recorded.failed { progress.failed.append(index) }
            if isRolledBack(target) { progress.rolledBack.insert(index) }
        }
        progress.finishedStages = plan.stages.prefix { finishedStages.contains($0.name) }.count
        return progress
    }
}
