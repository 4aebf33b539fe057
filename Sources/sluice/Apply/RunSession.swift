import ArgumentParser
import Dispatch
import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import Synchronization

/// Carries out a run for `apply`, `resume` and `rollback`: the engine with its display, the
/// locks' heartbeat, Ctrl-C/SIGTERM handling and the webhooks' deliveries; then the run's end
/// (locks released, `run.finished`, the summary and the exit status).
struct RunSession {
    let store: any SluiceStore
    let journal: RunJournal
    /// The runbook's webhooks, which `journal` tells of its events; nil when none are listed.
    let webhooks: WebhookRunObserver?
    let plan: Plan
    let style: TerminalStyle
    let json: Bool
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
        Console.note("the run's previous runner left \(leftovers.count) process\(leftovers.count == 1 ? "" : "es") running (\(listed)); terminating \(leftovers.count == 1 ? "it" : "them") first (SIGTERM, then SIGKILL after 10 s).")
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
    func carryOut(from start: RolloutEngine<ContinuousClock>.Start = .beginning, mode: String = "apply") async throws {
        let ending = try await notifying {
            try await end(try await drive(from: start, mode: mode))
        }
        try await finish(ending)
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
        let progress = ProgressLines(style: style)
        let (asJSON, runID) = (json, runID)
        // On a terminal a live status line sits under the event lines; elsewhere, plain lines.
        let live = !json && isatty(STDOUT_FILENO) == 1 ? LiveStatus(
            steps: Dictionary(plan.targets.map { ($0.name, $0.steps.filter(\.applies).count) }, uniquingKeysWith: { first, _ in first }),
            phase: Self.firstPhase(of: start), style: style) : nil
        let rollingBack = RollbackUnderWay(mode == "rollback")
        let recorder = AuditRunRecorder(journal: journal) { event in
            if event.kind == .rollbackStarted || event.kind == .rollbackStepStarted { rollingBack.begin() }
            if asJSON {
                Console.line(ProgressLines.json(for: event, runID: runID.rawValue))
            } else if let live {
                Console.write(live.render(event, line: progress.line(for: event)))
            } else if let line = progress.line(for: event) {
                Console.line(line)
            }
        } showOutput: { output, target, step in
            // --json carries events only; a command's output is in its step's event.
            guard !asJSON else { return }
            let line = progress.line(forOutput: output, target: target, step: step)
            if let live {
                Console.write(live.render(above: line))
            } else {
                Console.line(line)
            }
        }
        let runner = SubprocessCommandRunner()
        let engine = RolloutEngine(
            executor: StepExecutor(commands: runner, prober: NetworkHealthProber(commands: runner), clock: ContinuousClock()),
            commands: runner, recorder: recorder, clock: ContinuousClock(), redactor: journal.redactor)
        let signals = SignalHandling(onFailure: plan.onFailure, stop: stop, runner: runner, rollingBack: rollingBack)

        // The engine runs beside a heartbeat that keeps the run's locks fresh and halts the run
        // when one is lost (and, on a terminal, a ticker for the status line); all are children
        // of this task, and the others stop when the engine is done.
        let plan = plan
        guard let tokens = leases.tokens else {
            preconditionFailure("run \(runID) is carried out without its lease and locks: lockTargets() must take them first")
        }
        let keeper = LockKeeper(
            store: store, journal: journal, targets: plan.targets.map(\.name), leases: tokens, stop: stop,
            interval: Self.heartbeatInterval, ttl: Self.lockTTL)
        let result = await withTaskGroup(of: RolloutMachine.RunResult?.self) { group in
            group.addTask { await engine.run(plan, mode: mode, from: start, stop: stop) }
            group.addTask {
                await keeper.keep()
                return nil
            }
            if let live {
                // The live status line's clock advances every second, between events too.
                group.addTask {
                    while (try? await Task.sleep(for: .seconds(1))) != nil {
                        Console.write(live.redraw())
                    }
                    return nil
                }
            }
            var result = RolloutMachine.RunResult(outcome: .refused)
            for await finished in group {
                if let finished {
                    result = finished
                    group.cancelAll()
                }
            }
            return result
        }
        signals.restoreDefaults()
        if let live { Console.write(live.clear()) }
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

    /// Finishes the ended run in the store, releases its lease, prints the summary, and exits with
    /// the run's status.
    private func finish(_ ending: Ending) async throws {
        let (result, outcome, failed, incomplete, finished) = (ending.result, ending.outcome, ending.failed, ending.incomplete, ending.finished)
        _ = try await store.finishRun(runID, outcome: outcome)
        if let token = leases.run { _ = try? await store.releaseRunLease(runID, token: token) }

        Console.line("Run \(runID) \(outcome.rawValue)" + (failed.isEmpty ? "" : "; failed: \(failed.joined(separator: ", ").escapedForTerminal)"))
        switch outcome {
        case .succeeded:
            break
        case .refused:
            Console.line(result.stopReason == .stopRequested
                ? "Stopped before anything changed."
                : "Preflight failed on at least one target: nothing was changed. `sluice show \(runID)` shows which.")
        case .rollbackIncomplete:
            Console.line("An operator must act: the rollback or recovery of \(incomplete.joined(separator: ", ")) did not complete.".escapedForTerminal)
            for line in (try? await Self.unfinishedUndo(in: store, runID: runID)) ?? [] { Console.line("  " + line.escapedForTerminal) }
            Console.line("Put each of these right by hand, then check the targets' health. `sluice show \(runID)` has the output.")
        case .halted where result.stopReason == .lockLost:
            let lost = stop.lostLocks.keys.sorted()
            Console.line("Halted: the run lost its lock on \(lost.joined(separator: ", ")); no further step started there, and nothing was undone on it.".escapedForTerminal)
            for (target, why) in stop.lostLocks.sorted(by: { $0.key < $1.key }) { Console.line("  \(target): \(why)".escapedForTerminal) }
            Console.line("Find out who holds it (`sluice runs`); once the target is free, `sluice rollback \(runID)` to undo, or `sluice resume \(runID)` to go on.")
        case .halted:
            Console.line("Halted: the run keeps its state and its targets. `sluice rollback \(runID)` to undo, or `sluice resume \(runID)` to go on.")
        default:
            Console.line("`sluice show \(runID)` shows every step.")
        }
        if json { Console.line(ProgressLines.json(finished: finished)) }
        Console.line(ProgressLines.auditLine(runID: runID, head: AuditAnchor(finished)))
        switch outcome {
        case .succeeded: return
        case .rolledBack where result.stopReason == .rollbackRequested: return
        case .rollbackIncomplete: throw ExitCode(3)
        case .refused: throw ExitCode(4)
        default: throw ExitCode(1)
        }
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

/// Whether the run is rolling back: from the start for `sluice rollback`, else from its first
/// rollback event. A second Ctrl-C then terminates nothing.
final class RollbackUnderWay: Sendable {
    private let underWay: Atomic<Bool>

    init(_ underWay: Bool) { self.underWay = Atomic(underWay) }

    func begin() { underWay.store(true, ordering: .relaxed) }

    var isUnderWay: Bool { underWay.load(ordering: .relaxed) }
}

/// Ctrl-C, SIGTERM and SIGHUP (a closed terminal) while a run goes on. The first stops the
/// rollout: no new step starts, running ones finish, then the run acts as on failure. The
/// second also terminates the running commands (SIGTERM to their process groups, SIGKILL 10 s
/// later), whose steps then fail and are rolled back, except during a rollback, whose commands
/// are never terminated. Later ones only repeat what is happening.
final class SignalHandling {
    private let sources: [any DispatchSourceSignal]
    private let count = Atomic<Int>(0)

    init(onFailure: Rollout.OnFailure, stop: StopSignal, runner: SubprocessCommandRunner, rollingBack: RollbackUnderWay) {
        let then = onFailure == .halt ? "the run halts, keeping its state" : "the run rolls back"
        var sources: [any DispatchSourceSignal] = []
        for number in Self.stopping {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [self] in
                switch self.count.add(1, ordering: .relaxed).newValue {
                case 1:
                    stop.request()
                    Console.note("stopping: no new step starts; running steps finish, then \(then). Press Ctrl-C again to terminate the running commands.")
                case 2 where rollingBack.isUnderWay:
                    // Killing an undo would leave its target half undone, and it would only run again.
                    Console.note("the rollback is under way: its commands are never terminated (a target would be left half undone). Rollback, recovery and holds finish, then the run ends; `kill -9` stops the runner, and `sluice rollback RUN` then finishes the rollback.")
                case 2:
                    Console.note("terminating the running commands (SIGTERM, then SIGKILL after 10 s); their targets are rolled back. Holds are still resumed.")
                    runner.terminateRunning()
                default:
                    Console.note("already stopping: rollback, recovery and holds are finishing; wait for the summary.")
                }
            }
            source.resume()
        }
    }

    /// Stops handling: the signals kill the process again, as they do outside a run.
    func restoreDefaults() {
        for source in sources { source.cancel() }
        for number in Self.stopping { signal(number, SIG_DFL) }
    }

    /// The signals that stop a run: Ctrl-C, SIGTERM, and SIGHUP (the terminal or SSH session
    /// went away), each the same.
    static let stopping = [SIGINT, SIGTERM, SIGHUP]
}
