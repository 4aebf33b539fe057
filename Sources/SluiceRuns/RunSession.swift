import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import Synchronization

/// Carries out a run for `apply`, `resume` and `rollback`: the engine with its display, the
/// locks' heartbeat and the webhooks' deliveries; then the run's end (locks released,
/// `run.finished`, the store's row finished, the lease given up), as a ``RunReport``.
struct RunSession {
    let store: any SluiceStore
    let journal: RunJournal
    /// The runbook's webhooks, which `journal` tells of its events; nil when none are listed.
    let webhooks: WebhookRunObserver?
    let plan: Plan
    let display: any RunDisplay
    /// Set by Ctrl-C, SIGTERM and SIGHUP, and by the heartbeat when a lock is lost.
    let stop = StopSignal()
    /// The tokens of the run's lease and locks, once ``lockTargets()`` took them.
    let leases = HeldLeases()

    var runID: RunID { journal.runID }

    /// How long after their last heartbeat the run's locks and lease may be taken as stale, and
    /// how often the heartbeat refreshes them.
    static let lockTTL: Duration = .seconds(60)
    static let heartbeatInterval: Duration = .seconds(10)

    /// Locks the plan's targets for the run (taking back its own stale locks). Returns the
    /// refusal to print when another run holds any of them.
    func lockTargets() async throws -> String? {
        // One driver per run: a second `resume` or a `rollback` beside a `resume` is refused here,
        // before it touches any lock or target.
        switch try await store.acquireRunLease(runID, host: ProcessProbe.hostName, pid: ProcessProbe.currentPID, ttl: Self.lockTTL) {
        case .acquired(let token):
            leases.holdRun(token)
        case .heldBy(let holder):
            return """
                refused: run \(runID) is being driven by another sluice process (on \(holder.host), pid \(holder.pid), since \(holder.acquiredAt)); \
                one process drives a run at a time. Wait for it to finish, or stop it with Ctrl-C, then try again.
                """
        }
        try await stopLeftovers()
        let targets = plan.targets.map(\.name)
        switch try await store.acquireLocks(on: targets, for: .current(runID: runID), ttl: Self.lockTTL, actor: journal.actor, redactor: journal.redactor) {
        case .acquired(_, let token):
            leases.holdTargets(token)
            return nil
        case .blocked(let conflicts):
            let holders = Set(conflicts.map { conflict in
                // A holder on this host whose process is gone is interrupted, however fresh its
                // last heartbeat: say so, rather than "live".
                let gone = ProcessProbe.isGone(pid: conflict.lock.pid, onHost: conflict.lock.host)
                let state = gone ? "interrupted: its runner is gone" : conflict.state.rawValue
                return "\(conflict.lock.runID) (\(state), on \(conflict.lock.host), pid \(conflict.lock.pid))"
            }).sorted()
            return """
                refused: \(conflicts.count) target\(conflicts.count == 1 ? " is" : "s are") held by \(holders.joined(separator: ", ")): \
                \(conflicts.map(\.lock.target).sorted().joined(separator: ", ")).
                A live run must finish first. For a run whose runner is gone: `sluice resume RUN`, `sluice rollback RUN`, \
                or `sluice unlock TARGET --reason TEXT`.
                """
        }
    }

    /// Terminates, and records, the processes a dead runner of this run left running on this
    /// host, before anything of the run starts again: a step's command must never run beside
    /// its own rollback, or beside itself run again. Called holding the run's lease, so no live
    /// driver's commands can be among them.
    private func stopLeftovers() async throws {
        let leftovers = LeftoverProcesses.find(runID: runID.rawValue)
        guard !leftovers.isEmpty else { return }
        let listed = leftovers.map { "pid \($0.pid): \(journal.redactor.redact($0.command))" }.joined(separator: "; ")
        display.note("the run's previous runner left \(leftovers.count) process\(leftovers.count == 1 ? "" : "es") running (\(listed)); terminating \(leftovers.count == 1 ? "it" : "them") first (SIGTERM, then SIGKILL after 10 s).")
        let stopped = await LeftoverProcesses.stop(leftovers)
        let processes = stopped.processes.map { process -> JSONValue in
            .object([
                "pid": .integer(Int64(process.pid)), "process_group": .integer(Int64(process.processGroup)),
                "command": .string(process.command), "killed": .bool(stopped.killed.contains(process)),
            ])
        }
        _ = try await journal.record(
            .processTerminated, status: (stopped.killed.isEmpty ? EventStatus.terminated : .killed).rawValue,
            detail: ["host": .string(ProcessProbe.hostName), "processes": .array(processes)])
    }

    /// Runs the engine from `start` to the run's end, showing progress, and ends the run
    /// (``finish(_:)``). The webhooks are told of the run's events meanwhile, by
    /// ``notifying(_:)``, up to `run.finished`.
    func carryOut(from start: RolloutEngine<ContinuousClock>.Start = .beginning, mode: String = "apply") async throws -> RunReport {
        let ending = try await notifying {
            try await end(try await drive(from: start, mode: mode))
        }
        return try await finish(ending)
    }

    /// Runs `body` while a child task delivers to the webhooks what the journal commits (what it
    /// committed before waits in their queues); then waits for what is outstanding, at most the
    /// notifier's bound, before it returns or throws what `body` did.
    func notifying<T>(_ body: () async throws -> T) async throws -> T {
        guard let webhooks else { return try await body() }
        return try await webhooks.delivering(clock: ContinuousClock(), during: body)
    }

    /// Runs the engine from `start` to the run's end, showing progress, and returns how it ended.
    private func drive(from start: RolloutEngine<ContinuousClock>.Start, mode: String) async throws -> RolloutMachine.RunResult {
        let transports = Transports.local(for: plan)
        let control = RunControl(plan: plan, firstPhase: Self.firstPhase(of: start), stop: stop, transports: transports, rollingBack: mode == "rollback")
        let (display, runID) = (display, runID)
        let recorder = AuditRunRecorder(journal: journal) { event in
            if event.kind == .rollbackStarted || event.kind == .rollbackStepStarted { control.beginRollingBack() }
            display.show(event, of: runID)
        } showOutput: { output, target, step in
            display.show(output: output, target: target, step: step)
        }
        let engine = RolloutEngine(
            executor: StepExecutor(prober: NetworkHealthProber(), clock: ContinuousClock()),
            transports: transports, recorder: recorder, clock: ContinuousClock(), redactor: journal.redactor)

        // The engine runs beside a heartbeat that keeps the run's locks fresh and halts the run
        // when one is lost; both are children of this task, and the heartbeat stops when the
        // engine is done.
        let (plan, stop) = (plan, stop)
        guard let tokens = leases.tokens else {
            preconditionFailure("run \(runID) is carried out without its lease and locks: lockTargets() must take them first")
        }
        let keeper = LockKeeper(
            store: store, journal: journal, targets: plan.targets.map(\.name), leases: tokens, stop: stop,
            interval: Self.heartbeatInterval, ttl: Self.lockTTL, note: display.note)
        let result = await display.whileDriving(control) {
            await whileRunning({ await keeper.keep() }) { await engine.run(plan, mode: mode, from: start, stop: stop) }
        }
        try await recorder.flush()
        return result
    }

    /// What a run does first, for the live status line.
    static func firstPhase(of start: RolloutEngine<ContinuousClock>.Start) -> String {
        switch start {
        case .beginning: "preflight"
        case .resuming: "resuming"
        case .rollingBack: "rolling back"
        }
    }

    /// How a run ended, as ``end(_:)`` recorded it.
    struct Ending {
        var result: RolloutMachine.RunResult
        var outcome: RunOutcome
        var failed: [String]
        var incomplete: [String]
        var finished: RecordedEvent
    }

    /// Releases the run's locks (a halted run keeps them) and records `run.finished`.
    private func end(_ result: RolloutMachine.RunResult) async throws -> Ending {
        let outcome = result.outcome
        let names = plan.targets.map(\.name)
        let failed = result.failedTargets.map { names[$0] }
        let incomplete = result.incompleteRollbacks.map { names[$0] }
        if outcome != .halted, let token = leases.tokens?.targets {
            _ = try? await store.releaseLocks(of: runID, token: token, actor: journal.actor, redactor: journal.redactor)
        }
        let finished = try await journal.record(
            .runFinished, status: outcome.rawValue,
            detail: ["failed_targets": .array(failed.map(JSONValue.string)), "incomplete_rollbacks": .array(incomplete.map(JSONValue.string))])
        return Ending(result: result, outcome: outcome, failed: failed, incomplete: incomplete, finished: finished)
    }

    /// Finishes the ended run in the store and releases its lease.
    private func finish(_ ending: Ending) async throws -> RunReport {
        _ = try await store.finishRun(runID, outcome: ending.outcome)
        if let token = leases.run { _ = try? await store.releaseRunLease(runID, token: token) }
        let unfinished = ending.outcome == .rollbackIncomplete ? (try? await Self.unfinishedUndo(in: store, runID: runID)) ?? [] : []
        return RunReport(
            runID: runID, result: ending.result, failed: ending.failed, incomplete: ending.incomplete,
            unfinishedUndo: unfinished, lostLocks: stop.lostLocks, finished: ending.finished)
    }

    /// Each rollback or recovery step that failed, as `target / step: what happened`.
    static func unfinishedUndo(in store: any EventLog, runID: RunID) async throws -> [String] {
        try await store.events(of: runID).filter {
            ($0.eventKind == .rollbackStepFinished || $0.eventKind == .recoveryStepFinished) && $0.status == EventStatus.failed.rawValue
        }.map { event in
            let what = event.eventKind == .recoveryStepFinished ? "recovery" : "rollback"
            let result = event.detailMembers["result"] ?? "failed"
            return "\(event.target ?? "?") / \(event.step ?? "?"): \(what) \(result)"
        }
    }
}
