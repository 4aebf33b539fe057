internal import GRDB
import SluiceCore

/// An event draft after redaction, ready to be chained.
struct PreparedEvent: Sendable {
    let runID: String?
    let actor: String
    let kind: String
    let target: String?
    let stage: String?
    let step: String?
    let status: String?
    let exitCode: Int?
    let durationMilliseconds: Int64?
    let detail: String

    /// Redacts the free text of `draft` (its detail's values) with `redactor`. Identifiers
    /// (run, actor, kind, target, stage, step, status, detail keys) are stored verbatim: they
    /// come from the runbook and the store, not from secrets, and `resume` and `rollback` match
    /// them by name, so a secret that happens to be part of a target's name must not turn the
    /// target into another (`web***`) that no plan has.
    init(_ draft: EventDraft, redactor: Redactor) {
        runID = draft.runID?.rawValue
        actor = draft.actor
        kind = draft.kind.rawValue
        target = draft.target
        stage = draft.stage
        step = draft.step
        status = draft.status
        exitCode = draft.exitCode
        durationMilliseconds = draft.durationMilliseconds
        detail = CanonicalJSON.encode(JSONValue.object(draft.detail).mapValueStrings(redactor.redact))
    }
}

extension AuditStore {
    /// Appends an event to the chain and returns it as recorded.
    ///
    /// Every string of the draft, its detail included, goes through `redactor` before it is
    /// hashed or written, so secret values are stored as `***`. The call returns only after
    /// the transaction holding the event committed with `synchronous=FULL`: an event whose
    /// append returned survives a crash. Concurrent appends from many tasks share
    /// transactions (group commit); across processes they serialise on SQLite's write lock.
    ///
    /// - Throws: ``AuditStoreError/invalidEvent(_:)`` for an empty actor or kind (nothing is
    ///   written); ``AuditStoreError/databaseFailure(path:operation:underlying:)`` when the
    ///   transaction failed, in which case the event was not recorded.
    @discardableResult
    public func append(_ draft: EventDraft, redactor: Redactor) async throws -> RecordedEvent {
        try draft.validate()
        return try await committer.append(PreparedEvent(draft, redactor: redactor))
    }

    /// Appends `drafts` in one transaction, in order, with ``append(_:redactor:)``'s contract
    /// for each: it returns only after they all committed, and nothing is written when any
    /// draft is invalid.
    @discardableResult
    public func append(contentsOf drafts: [EventDraft], redactor: Redactor) async throws -> [RecordedEvent] {
        guard !drafts.isEmpty else { return [] }
        for draft in drafts { try draft.validate() }
        return try await committer.append(drafts.map { PreparedEvent($0, redactor: redactor) })
    }

    /// Appends events in one transaction (used by operations that record their own events,
    /// such as locking). Must run inside a write transaction.
    static func insertChained(_ events: [PreparedEvent], time: String, in db: Database) throws -> [RecordedEvent] {
        // Continue after the highest seq ever issued, not just the highest present, so that a
        // deleted tail stays visible as a gap instead of being papered over.
        let tail = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT (SELECT hash FROM events ORDER BY seq DESC LIMIT 1) AS hash,
                   max(coalesce((SELECT max(seq) FROM events), 0),
                       coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)) AS seq
            """))
        var previous: String = tail?["hash"] ?? EventChain.genesisHash
        var seq: Int64 = tail?["seq"] ?? 0
        let statement = try db.cachedStatement(sql: """
            INSERT INTO events (seq, time, run_id, actor, kind, target, stage, step, status, exit_code,
                                duration_ms, detail, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var recorded: [RecordedEvent] = []
        recorded.reserveCapacity(events.count)
        for event in events {
            seq += 1
            var row = RecordedEvent(
                seq: seq, time: time, runID: event.runID, actor: event.actor, kind: event.kind,
                target: event.target, stage: event.stage, step: event.step, status: event.status,
                exitCode: event.exitCode, durationMilliseconds: event.durationMilliseconds,
                detail: event.detail, prevHash: previous, hash: "")
            row.hash = row.expectedHash
            try statement.execute(arguments: [
                row.seq, row.time, row.runID, row.actor, row.kind, row.target, row.stage, row.step,
                row.status, row.exitCode, row.durationMilliseconds, row.detail, row.prevHash, row.hash,
            ])
            previous = row.hash
            recorded.append(row)
        }
        return recorded
    }

    /// Appends `drafts` inside the current write transaction, redacted with `redactor`.
    func appendInTransaction(_ drafts: [EventDraft], redactor: Redactor, in db: Database) throws -> [RecordedEvent] {
        for draft in drafts { try draft.validate() }
        return try Self.insertChained(drafts.map { PreparedEvent($0, redactor: redactor) }, time: now(), in: db)
    }

    /// Every event, or only those of `runID`, in chain order.
    public func events(of runID: RunID?) async throws -> [RecordedEvent] {
        try await read("reading events") { db in
            var request = EventRow.order(EventRow.column(.seq))
            if let runID {
                request = request.filter(EventRow.column(.runID) == runID.rawValue)
            }
            return try request.fetchAll(db).map(\.value)
        }
    }

    /// The number of events in the chain.
    public func eventCount() async throws -> Int {
        try await read("counting events") { db in try EventRow.fetchCount(db) }
    }

    /// The newest event, the chain's head, or `nil` for an empty store.
    ///
    /// Reads that one row and verifies nothing: see ``verify(anchors:)``.
    public func head() async throws -> RecordedEvent? {
        try await read("reading the chain's head") { db in
            try EventRow.order(EventRow.column(.seq).desc).fetchOne(db)?.value
        }
    }

    /// Recomputes the whole hash chain and reports the first broken record, if any, and each of
    /// `anchors` the chain no longer holds.
    ///
    /// Reads one consistent snapshot, so it may run while other processes append. See
    /// ``ChainVerifier`` for how a problem is classified, and ``AuditAnchor/problem(in:)`` for
    /// anchors.
    public func verify(anchors: [AuditAnchor]) async throws -> ChainReport {
        try await read("verifying the event chain") { db in
            // A value of the wrong type (text in exit_code, say) is tampering too, even when it
            // reads back as the original value (SQLite reads the text 'zero' as the integer 0).
            var firstWrongType = try Int64.fetchOne(db, sql: """
                SELECT min(seq) FROM events
                WHERE typeof(time) <> 'text' OR typeof(actor) <> 'text' OR typeof(kind) <> 'text'
                   OR typeof(detail) <> 'text' OR typeof(prev_hash) <> 'text' OR typeof(hash) <> 'text'
                   OR typeof(run_id) NOT IN ('text', 'null') OR typeof(target) NOT IN ('text', 'null')
                   OR typeof(stage) NOT IN ('text', 'null') OR typeof(step) NOT IN ('text', 'null')
                   OR typeof(status) NOT IN ('text', 'null') OR typeof(exit_code) NOT IN ('integer', 'null')
                   OR typeof(duration_ms) NOT IN ('integer', 'null')
                """)
            var events: [RecordedEvent] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM events ORDER BY seq")
            while let row = try rows.next() {
                if let event = try? EventRow(row: row).value {
                    events.append(event)
                } else if firstWrongType == nil {
                    firstWrongType = row["seq"]
                }
            }
            let highest = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'") ?? 0
            var report = ChainVerifier.verify(events, highestIssuedSeq: highest)
            report.anchorProblems = anchors.compactMap { $0.problem(in: events) }
            if let seq = firstWrongType, seq <= report.problem?.seq ?? Int64.max {
                report.problem = ChainProblem(
                    seq: seq, kind: .changed,
                    explanation: "a column holds a value of the wrong type, so the record was edited")
            }
            return report
        }
    }
}
