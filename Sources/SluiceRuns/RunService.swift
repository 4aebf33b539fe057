import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import Synchronization

/// Why a run was not started (or not gone on with): what to tell the operator, and the exit
/// status that says it. Nothing changed on any target.
public struct RunRefusal: Error, Sendable {
    /// How the message is shown.
    public enum Kind: Sendable, Equatable {
        /// A refusal: `error: MESSAGE` on standard error.
        case refused
        /// An input that cannot be used (a variable, a template): the message as it is.
        case invalid
    }

    /// How the message is shown.
    public var kind: Kind
    /// For people: what was refused (`refused: ...`), why, and what to do.
    public var message: String
    /// 4 for a refusal, 2 for input that cannot be used.
    public var exitStatus: Int32
    /// The run and its refusal's own `run.finished`, when the run was already recorded: its
    /// audit line is shown after the message.
    public var recorded: (run: RunID, head: AuditAnchor)?

    /// A refusal (exit 4).
    public static func refused(_ message: String, recorded: (run: RunID, head: AuditAnchor)? = nil) -> RunRefusal {
        RunRefusal(kind: .refused, message: message, exitStatus: 4, recorded: recorded)
    }

    /// Input that cannot be used (exit 2).
    public static func invalid(_ message: String) -> RunRefusal {
        RunRefusal(kind: .invalid, message: message, exitStatus: 2, recorded: nil)
    }
}

/// How a run that was carried out ended, for the summary and the exit status.
public struct RunReport: Sendable {
    /// The run.
    public var runID: RunID
    /// What the rollout machine decided.
    public var result: RolloutMachine.RunResult
    /// How the run ended.
    public var outcome: RunOutcome { result.outcome }
    /// Names of the targets that failed, in order.
    public var failed: [String]
    /// Names of the targets whose rollback or recovery did not complete.
    public var incomplete: [String]
    /// Each rollback or recovery step that failed, as `target / step: what happened`.
    public var unfinishedUndo: [String]
    /// The targets whose lock the run lost, with why.
    public var lostLocks: [String: String]
    /// The run's `run.finished`: the audit chain's head when it ended.
    public var finished: RecordedEvent

    /// 0 succeeded (or a requested rollback done); 3 rollback incomplete; 4 refused; 1 otherwise.
    public var exitStatus: Int32 {
        switch outcome {
        case .succeeded: 0
        case .rolledBack where result.stopReason == .rollbackRequested: 0
        case .rollbackIncomplete: 3
        case .refused: 4
        default: 1
        }
    }
}

/// What a run shows while it goes on, and how the operator stops it: the command line's
/// progress lines, live status and signal handling, or a test's recorder.
public protocol RunDisplay: Sendable {
    /// An event of `run`, as it is recorded.
    func show(_ event: RunEvent, of run: RunID)
    /// A line a step's command printed (redacted), as it arrives.
    func show(output line: String, target: String, step: String)
    /// A line for the operator on standard output: what the run is about to do.
    func say(_ line: String)
    /// A note on standard error (a lost lock, leftover processes terminated).
    func note(_ text: String)
    /// A warning on standard error (a webhook that could not be told).
    func warn(_ text: String)
    /// Runs `body` (the engine, to the run's end) while the run is shown live and the
    /// operator's signals reach it through `control`.
    func whileDriving(_ control: RunControl, _ body: @escaping @Sendable () async -> RolloutMachine.RunResult) async -> RolloutMachine.RunResult
}

/// What the operator can do to a run being driven, and what a display needs to know of it.
public final class RunControl: Sendable {
    /// The plan being carried out.
    public let plan: Plan
    /// What the live status line shows first: `preflight`, `resuming` or `rolling back`.
    public let firstPhase: String
    let stop: StopSignal
    let transports: Transports
    private let rollingBack: Atomic<Bool>

    init(plan: Plan, firstPhase: String, stop: StopSignal, transports: Transports, rollingBack: Bool) {
        self.plan = plan
        self.firstPhase = firstPhase
        self.stop = stop
        self.transports = transports
        self.rollingBack = Atomic(rollingBack)
    }

    /// Asks the run to stop: no new step starts, running ones finish, then it acts as on failure.
    public func requestStop() { stop.request() }

    /// Terminates the commands running now (SIGTERM, then SIGKILL after 10 s).
    public func terminateRunning() { transports.terminateRunning() }

    /// Whether the run is rolling back (from the start for `rollback`, else from its first
    /// rollback event): its commands must not be terminated.
    public var isRollingBack: Bool { rollingBack.load(ordering: .relaxed) }

    func beginRollingBack() { rollingBack.store(true, ordering: .relaxed) }
}

/// Carries out runs: `apply`, `resume` and `rollback` as values in and values out.
///
/// Each call runs the whole sequence (gates, then the run's lease and locks, its journal and
/// `run.started`, the engine beside the locks' heartbeat, and the run's end: locks released,
/// `run.finished`) and returns a ``RunReport``, or throws a ``RunRefusal`` when something
/// refused the run before it changed anything. Other errors (a store that fails) are thrown as
/// they are.
public struct RunService: Sendable {
    /// Where the run is recorded and its targets locked.
    public let store: any SluiceStore
    /// Who runs it, as recorded.
    public let actor: String
    /// Where the run is shown as it goes on.
    public let display: any RunDisplay

    /// A service recording in `store` as `actor`, showing runs on `display`.
    public init(store: any SluiceStore, actor: String, display: any RunDisplay) {
        self.store = store
        self.actor = actor
        self.display = display
    }

    /// Applies `runbook` from its beginning.
    ///
    /// - Parameters:
    ///   - savedPlan: a plan file (`--plan`): refused unless the runbook is exactly as then.
    ///   - confirm: asked once the gates passed, before anything is recorded; throws to stop.
    public func apply(
        _ runbook: Runbook, savedPlan: String? = nil, overrideWindow: Bool = false, reason: String? = nil,
        confirm: (Plan) throws -> Void
    ) async throws -> RunReport {
        let variables = try RunGates.variables(of: runbook)
        let runID = RunID.generate()
        let content = ContentDigest(runbook: runbook)
        let planned: Plan
        do {
            planned = try Planner().plan(
                runbook: runbook, variables: variables, runID: runID.rawValue, now: Date(), content: content,
                validateFile: RunGates.validateFile(runID: runID))
        } catch {
            throw RunRefusal.invalid("\(error)")
        }
        try await RunGates.refuseOutsideWindowOrUnapproved(planned, runbook: runbook, store: store, actor: actor, overrideWindow: overrideWindow)
        if let savedPlan { try RunGates.refuseStale(planned, against: savedPlan, runbook: runbook) }
        try confirm(planned)

        try await store.createRun(RunGates.runRecord(
            runID, of: runbook, mode: .apply, actor: actor, contentHash: content.hash, startedAt: planned.createdAt))
        let (journal, webhooks) = RunJournal.notifying(runbook, store: store, runID: runID, actor: actor, variables: variables, warn: display.warn)
        let session = RunSession(store: store, journal: journal, webhooks: webhooks, plan: planned, display: display)
        if let refusal = try await session.lockTargets() {
            let finished = try await session.notifying {
                try await journal.record(.runFinished, status: RunOutcome.refused.rawValue, detail: ["reason": "targets locked by another run"])
            }
            _ = try await store.finishRun(runID, outcome: .refused)
            throw RunRefusal.refused(refusal, recorded: (runID, AuditAnchor(finished)))
        }
        if overrideWindow {
            try await RunGates.recordOverride(of: planned, runbook: runbook, reason: reason, in: journal)
        }
        let journalHash = try await RunJournalStore.save(planned, runbook: runbook, variables: variables, in: store, runID: runID)
        try await journal.record(.runStarted, detail: [
            "runbook": .string(runbook.file), "content_hash": .string(content.hash),
            "targets": .integer(Int64(planned.targets.count)), "journal_sha256": .string(journalHash),
        ])
        display.say("Run \(runID): applying \(runbook.id.escapedForTerminal) to \(planned.targets.count) target\(planned.targets.count == 1 ? "" : "s") in \(planned.stages.count) stage\(planned.stages.count == 1 ? "" : "s")")
        return try await session.carryOut()
    }

    /// The past run `id`, read back for `resume` or `rollback`; refused when there is no such
    /// run or it was a dry run.
    public func pastRun(_ id: RunID) async throws -> PastRun {
        try await PastRun.load(id, from: store)
    }
}
