import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution

/// A run read back from the audit store for `resume` or `rollback`: its row, events, progress
/// and whether its runner is still there.
public struct PastRun: Sendable {
    /// The run's id.
    public let id: RunID
    let store: any SluiceStore
    /// Its row in the store.
    public let record: RunRecord
    /// Its events, in order.
    public let events: [RecordedEvent]
    let runner: RunnerState

    var progress: RunProgress { RunJournalStore.progress(from: events) }

    /// Refuses (exit 4) when the journal says the run changed a target, or ran a step on it,
    /// that `plan` has no name for: going on would do nothing there and still end
    /// `rolled_back` or `succeeded`.
    func refuseUnaccounted(by plan: Plan, checkingSteps: Bool) throws {
        let unaccounted = progress.unaccounted(in: plan, checkingSteps: checkingSteps)
        guard !unaccounted.isEmpty else { return }
        throw RunRefusal.refused("""
            refused: run \(id)'s journal says it changed what its plan cannot account for, so nothing would be undone or finished there: \(unaccounted.joined(separator: "; ")).
            Nothing was changed. Check the store with `sluice audit verify` and `sluice show \(id)`, and put those targets right by hand.
            """)
    }

    /// The run's state as `sluice runs` shows it.
    var state: String {
        switch runner {
        case .finished(let outcome): outcome.rawValue
        case .running: "running"
        case .gone: RunOutcome.interrupted.rawValue
        }
    }

    /// Reads the run, or refuses (exit 4) when there is no such run or it was a dry run.
    static func load(_ id: RunID, from store: any SluiceStore) async throws -> PastRun {
        guard let record = try await store.run(id) else {
            throw RunRefusal.refused("refused: no run \(id) in the audit store \(store.location.lexicallyNormalizedPath). List runs with `sluice runs`.")
        }
        guard record.mode == .apply else {
            throw RunRefusal.refused("refused: run \(id) was a dry run (`sluice \(record.mode.rawValue)`), which changes nothing.")
        }
        let events = try await store.events(of: id)
        return PastRun(id: id, store: store, record: record, events: events, runner: try await RunnerState(of: record, locks: try await store.locks(), store: store))
    }

    /// The plan the run carried out, from its journal; refuses (exit 4) when it cannot be read.
    func openJournal() async throws -> (plan: Plan, redactor: Redactor, journal: PlanJournal) {
        do {
            return try await RunJournalStore.open(id, in: store, events: events)
        } catch let problem as JournalProblem {
            throw RunRefusal.refused("refused: \(problem)")
        }
    }

    /// The run's file backups, each checked against the audit chain; refuses (exit 4) when one
    /// was changed in the store, before anything is locked or restored.
    func verifiedBackups(journal: PlanJournal) async throws -> RolloutEngine<ContinuousClock>.Backups {
        do {
            return try await RunJournalStore.backups(of: id, in: store, journal: journal)
        } catch let problem as JournalProblem {
            throw RunRefusal.refused("refused: \(problem)")
        } catch let error as AuditStoreError {
            guard case .backupTampered = error else { throw error }
            throw RunRefusal.refused("refused: \(error)")
        }
    }

    /// Makes this process the run's runner, recording first that the previous one died.
    func takeOver(_ journal: RunJournal) async throws {
        if runner == .gone {
            try await journal.record(.runInterrupted, detail: [
                "host": .string(record.host), "pid": .integer(Int64(record.pid)),
            ])
        }
        try await store.reopenRun(id, host: ProcessProbe.hostName, pid: ProcessProbe.currentPID)
    }
}
