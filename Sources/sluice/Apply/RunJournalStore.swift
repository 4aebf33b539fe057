import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// A run's journal in the audit store: the sealed plan it carried out (a `saved_plans` row,
/// `journal-RUN`, whose SHA-256 `run.started` records in the hash chain), its events, and its
/// file backups. Everything `resume` and `rollback` need, without the runbook.
enum RunJournalStore {
    static func id(of runID: RunID) -> String { "journal-\(runID)" }

    /// Saves the plan a run is about to carry out; returns its SHA-256, for `run.started`.
    static func save(_ plan: Plan, runbook: Runbook, variables: ResolvedVariables, in store: AuditStore, runID: RunID) async throws -> String {
        let journal = try PlanJournal(plan: plan, runbook: runbook, variables: variables)
        let text = String(decoding: try JSONEncoder.sluice.encode(journal), as: UTF8.self)
        try await store.savePlan(SavedPlan(
            id: id(of: runID), runbookID: plan.runbook.id, contentHash: plan.content.hash, runID: runID,
            createdAt: Timestamp.format(Date()), planJSON: text))
        return sha256(text)
    }

    /// The plan the run carried out, with its secrets read again from where the runbook said
    /// they come from.
    static func open(_ runID: RunID, in store: AuditStore, events: [RecordedEvent]) async throws -> (plan: Plan, redactor: Redactor) {
        guard let saved = try await store.plan(id: id(of: runID)) else {
            throw JournalProblem("run \(runID) has no journal in the store (it changed nothing, or it ran before journals were kept); undo what `sluice show \(runID)` lists by hand, then free its targets with `sluice unlock TARGET --reason TEXT`")
        }
        // The chain records the journal's hash when the run started (and again when a resume
        // accepted a changed runbook): a journal edited since does not match the last one.
        if let recorded = events.last(where: { $0.kind == "run.started" || $0.kind == "run.resumed" })?.detailMembers["journal_sha256"],
            recorded != sha256(saved.planJSON)
        {
            throw JournalProblem("the journal of run \(runID) was changed after it was recorded (its SHA-256 differs from the one in the audit chain); check the store with `sluice audit verify` and undo the run by hand")
        }
        do {
            let journal = try JSONDecoder.sluice.decode(PlanJournal.self, from: Data(saved.planJSON.utf8))
            return try journal.open(environment: ProcessInfo.processInfo.environment)
        } catch let error as PlanJournalError {
            throw JournalProblem("\(error)")
        }
    }

    /// How far the run got, from its events.
    static func progress(from events: [RecordedEvent]) -> RunProgress {
        RunProgress(events: events.map {
            RunProgress.Event(kind: $0.kind, target: $0.target, stage: $0.stage, step: $0.step, status: $0.status)
        })
    }

    /// The earliest backup of each file the run changed, by target and step.
    static func backups(of runID: RunID, in store: AuditStore) async throws -> RolloutEngine<ContinuousClock>.Backups {
        var backups: RolloutEngine<ContinuousClock>.Backups = [:]
        for backup in try await store.backups(of: runID) where backups[backup.target]?[backup.step] == nil {
            backups[backup.target, default: [:]][backup.step] = FileSnapshot(
                path: backup.path, existed: backup.existed, content: backup.content, mode: backup.mode.map { UInt32($0) })
        }
        return backups
    }

    static func sha256(_ text: String) -> String {
        ContentDigest.sha256(Data(text.utf8))
    }
}

/// Why a run cannot be resumed or rolled back from its journal.
struct JournalProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Whether a run's runner is still there.
enum RunnerState: Equatable {
    case finished(RunOutcome)
    /// Its process is alive (or on another host and its locks are fresh).
    case running
    /// It never finished and its runner is gone: `interrupted`.
    case gone

    init(of run: RunRecord, locks: [TargetLock], store: AuditStore) {
        if let outcome = run.outcome {
            self = .finished(outcome)
        } else if ProcessProbe.isGone(pid: run.pid, onHost: run.host) {
            self = .gone
        } else if run.host == ProcessProbe.hostName {
            self = .running
        } else {
            // Another host's process cannot be checked from here: its locks' heartbeat decides.
            let held = locks.filter { $0.runID == run.id }
            self = !held.isEmpty && held.allSatisfy({ store.state(of: $0) == .stale }) ? .gone : .running
        }
    }
}
