import Foundation
internal import GRDB
import SluiceCore

extension AuditStore {
    /// Records a new run's row. The engine appends `run.started` itself.
    ///
    /// - Throws: ``AuditStoreError/duplicateRun(_:)`` when the id is taken.
    public func createRun(_ run: RunRecord) async throws {
        try await write("recording run \(run.id)") { db in
            if try RunRow.exists(db, key: run.id.rawValue) {
                throw AuditStoreError.duplicateRun(run.id.rawValue)
            }
            var row = RunRow(run)
            try row.insert(db)
        }
    }

    /// Sets a run's outcome and finish time, and returns the updated row.
    ///
    /// The runs table is an index; the engine records the authoritative `run.finished` event
    /// as well. Calling this again replaces the outcome (a resumed run finishes twice).
    ///
    /// - Throws: ``AuditStoreError/unknownRun(_:)``.
    @discardableResult
    public func finishRun(_ id: RunID, outcome: RunOutcome) async throws -> RunRecord {
        let finishedAt = now()
        return try await write("finishing run \(id)") { db in
            guard var run = try RunRow.fetchOne(db, key: id.rawValue)?.value else {
                throw AuditStoreError.unknownRun(id.rawValue)
            }
            run.finishedAt = finishedAt
            run.outcome = outcome
            try RunRow(run).update(db)
            return run
        }
    }

    /// Hands a run to the process resuming or rolling it back: records this host and `pid` as
    /// its runner and clears its outcome until it finishes again.
    ///
    /// - Throws: ``AuditStoreError/unknownRun(_:)``.
    @discardableResult
    public func reopenRun(_ id: RunID, host: String, pid: Int32) async throws -> RunRecord {
        try await write("reopening run \(id)") { db in
            guard var run = try RunRow.fetchOne(db, key: id.rawValue)?.value else {
                throw AuditStoreError.unknownRun(id.rawValue)
            }
            run.host = host
            run.pid = pid
            run.finishedAt = nil
            run.outcome = nil
            try RunRow(run).update(db)
            return run
        }
    }

    /// The run with this id, or `nil`.
    public func run(_ id: RunID) async throws -> RunRecord? {
        try await read("reading run \(id)") { db in try RunRow.fetchOne(db, key: id.rawValue)?.value }
    }

    /// Runs, newest first (by start time, then id); at most `limit` when given.
    public func runs(limit: Int?) async throws -> [RunRecord] {
        try await read("listing runs") { db in
            let request = RunRow.order(RunRow.column(.startedAt).desc, RunRow.column(.id).desc)
            return try (limit.map { request.limit($0) } ?? request).fetchAll(db).map(\.value)
        }
    }

    /// Saves a plan. The JSON is stored as given: it must not contain secret values (keep
    /// references such as `{{ vars.api_token }}` in it instead). Saving the same id again
    /// replaces it.
    public func savePlan(_ plan: SavedPlan) async throws {
        try await write("saving plan \(plan.id)") { db in
            var row = SavedPlanRow(plan)
            try row.save(db)
        }
    }

    /// The saved plan with this id, or `nil`.
    public func plan(id: String) async throws -> SavedPlan? {
        try await read("reading plan \(id)") { db in try SavedPlanRow.fetchOne(db, key: id)?.value }
    }
}

extension AuditStore {
    /// How long runners spent driving each run, in milliseconds: each driving (from
    /// `run.started`, `run.resumed` or `rollback.requested` to its `run.finished`, or, for a
    /// runner that died, to its last event) counted, and the time between drivings (a halted
    /// run waiting for its resume, a rollback days later) not. `nil` for a run with no events.
    public func drivenMilliseconds(of runs: [RunID]) async throws -> [RunID: Int64] {
        let rows = try await read("reading how long runs took") { db in
            // In slices, well under SQLite's limit on bound values.
            try stride(from: 0, to: runs.count, by: 500).flatMap { start in
                let slice = runs[start..<min(start + 500, runs.count)].map(\.rawValue)
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                return try Row.fetchAll(
                    db, sql: "SELECT run_id, kind, time FROM events WHERE run_id IN (\(marks)) ORDER BY run_id, seq",
                    arguments: StatementArguments(slice)
                ).map { (run: $0["run_id"] as String, kind: $0["kind"] as String, time: $0["time"] as String) }
            }
        }
        var byRun: [String: [(kind: EventKind?, time: String)]] = [:]
        for row in rows { byRun[row.run, default: []].append((EventKind(rawValue: row.kind), row.time)) }
        var result: [RunID: Int64] = [:]
        for (run, events) in byRun {
            if let id = RunID(run), let took = DrivingTime.milliseconds(events) { result[id] = took }
        }
        return result
    }
}
