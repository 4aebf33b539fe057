import SluiceCore

/// The event log of one run: stamps the run's id and actor on every event it records and
/// redacts each with the run's redactor, so that the engine cannot forget either.
///
/// Recording has ``AuditStore/append(_:redactor:)``'s contract: it returns only after the event
/// committed.
public struct RunJournal: Sendable {
    /// The store written to.
    public let store: AuditStore
    /// The run every event belongs to.
    public let runID: RunID
    /// Who acts in this run.
    public let actor: String
    /// The run's redactor, applied to every string of every event.
    public let redactor: Redactor

    /// Creates the journal of `runID`.
    public init(store: AuditStore, runID: RunID, actor: String, redactor: Redactor) {
        self.store = store
        self.runID = runID
        self.actor = actor
        self.redactor = redactor
    }

    /// Records one event of the run and returns it as committed.
    @discardableResult
    public func record(
        _ kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil, status: String? = nil,
        exitCode: Int? = nil, durationMilliseconds: Int64? = nil, detail: [String: JSONValue] = [:]
    ) async throws -> RecordedEvent {
        try await store.append(
            draft(kind, target: target, stage: stage, step: step, status: status, exitCode: exitCode,
                  durationMilliseconds: durationMilliseconds, detail: detail),
            redactor: redactor)
    }

    /// An event of the run, to record later with ``record(contentsOf:)``.
    public func draft(
        _ kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil, status: String? = nil,
        exitCode: Int? = nil, durationMilliseconds: Int64? = nil, detail: [String: JSONValue] = [:]
    ) -> EventDraft {
        EventDraft(runID: runID, actor: actor, kind: kind, target: target, stage: stage, step: step, status: status,
                   exitCode: exitCode, durationMilliseconds: durationMilliseconds, detail: detail)
    }

    /// Records events of the run in one transaction, in order.
    @discardableResult
    public func record(contentsOf drafts: [EventDraft]) async throws -> [RecordedEvent] {
        try await store.append(contentsOf: drafts, redactor: redactor)
    }
}
