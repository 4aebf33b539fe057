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
    static func save(_ plan: Plan, runbook: Runbook, variables: ResolvedVariables, in store: any PlanStore, runID: RunID) async throws -> String {
        let journal = try PlanJournal(plan: plan, runbook: runbook, variables: variables)
        let text = String(decoding: try JSONEncoder.sluice.encode(journal), as: UTF8.self)
        try await store.savePlan(SavedPlan(
            id: id(of: runID), runbookID: plan.runbook.id, contentHash: plan.content.hash, runID: runID,
            createdAt: Timestamp.format(Date()), planJSON: text))
        return sha256(text)
    }

    /// The plan the run carried out, with its secrets read again from where the runbook said
    /// they come from.
    static func open(_ runID: RunID, in store: any PlanStore, events: [RecordedEvent]) async throws -> (plan: Plan, redactor: Redactor, journal: PlanJournal) {
        guard let saved = try await store.plan(id: id(of: runID)) else {
            throw JournalProblem("run \(runID) has no journal in the store (it changed nothing, or it ran before journals were kept); undo what `sluice show \(runID)` lists by hand, then free its targets with `sluice unlock TARGET --reason TEXT`")
        }
        // The chain records the journal's hash when the run started (and again when a resume
        // accepted a changed runbook): a journal edited since does not match the last one.
        if let recorded = events.last(where: { $0.eventKind == .runStarted || $0.eventKind == .runResumed })?.detailMembers["journal_sha256"],
            recorded != sha256(saved.planJSON)
        {
            throw JournalProblem("the journal of run \(runID) was changed after it was recorded (its SHA-256 differs from the one in the audit chain); check the store with `sluice audit verify` and undo the run by hand")
        }
        do {
            let journal = try JSONDecoder.sluice.decode(PlanJournal.self, from: Data(saved.planJSON.utf8))
            let (plan, redactor) = try journal.open(environment: ProcessInfo.processInfo.environment)
            return (plan, redactor, journal)
        } catch let error as PlanJournalError {
            throw JournalProblem("run \(runID): \(error)")
        } catch let error as DecodingError {
            throw JournalProblem("run \(runID): \(PlanJournalError.unreadable(PlanJournal.describe(error)))")
        }
    }

    /// How far the run got, from its events.
    static func progress(from events: [RecordedEvent]) -> RunProgress {
        // A kind this version does not know (a newer Sluice wrote it) says nothing about progress.
        RunProgress(events: events.compactMap { event in
            event.eventKind.map { RunProgress.Event(kind: $0, target: event.target, stage: event.stage, step: event.step, status: event.status.flatMap(EventStatus.init)) }
        })
    }

    /// The earliest backup of each file the run changed, by target and step, each checked
    /// against the digest the audit chain recorded when it was taken, its secret tokens filled
    /// in again from the variables' sources as `journal` records them.
    ///
    /// - Throws: ``AuditStoreError/backupTampered(path:runID:reason:)`` when one does not match;
    ///   ``JournalProblem`` naming the variable when a secret in a backup cannot be read now.
    static func backups(of runID: RunID, in store: any BackupStore, journal: PlanJournal) async throws -> RolloutEngine<ContinuousClock>.Backups {
        var backups: RolloutEngine<ContinuousClock>.Backups = [:]
        for backup in try await store.verifiedBackups(of: runID) where backups[backup.target]?[backup.step] == nil {
            let names = FileSecretSeal.names(in: Data(backup.path.utf8)).union(backup.content.map(FileSecretSeal.names) ?? [])
            let seal: FileSecretSeal
            do {
                seal = FileSecretSeal(values: try journal.secretValues(named: names, environment: ProcessInfo.processInfo.environment))
            } catch let error as PlanJournalError {
                throw JournalProblem("the backup of a file changed by step `\(backup.step)` on \(backup.target) holds a secret: \(error); its restore is refused, nothing was changed")
            }
            backups[backup.target, default: [:]][backup.step] = FileSnapshot(
                path: seal.unseal(backup.path), existed: backup.existed, content: backup.content.map(seal.unseal),
                mode: backup.mode.map { UInt32($0) }, owner: backup.owner.map { UInt32($0) }, group: backup.group.map { UInt32($0) })
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

    init(of run: RunRecord, locks: [TargetLock], store: any LeaseStore) async throws {
        if let outcome = run.outcome {
            self = .finished(outcome)
        } else if ProcessProbe.isGone(pid: run.pid, onHost: run.host) {
            self = .gone
        } else if run.host == ProcessProbe.hostName {
            self = .running
        } else {
            // Another host's process cannot be checked from here: its locks' heartbeat decides.
            let held = locks.filter { $0.runID == run.id }
            var allStale = !held.isEmpty
            for lock in held where allStale { allStale = try await store.state(of: lock) == .stale }
            self = allStale ? .gone : .running
        }
    }
}
