import SluiceCore

/// The event log of one run: stamps the run's id and actor on every event it records and
/// redacts each with the run's redactor, so that the engine cannot forget either.
///
/// Recording has ``EventLog/append(_:redactor:)``'s contract: it returns only after the event
/// committed. Each committed event is then shown to the journal's ``RunObserver``, if any.
public struct RunJournal: Sendable {
    /// The store written to: its event log, and its backups for the run's `file` steps.
    public let store: any EventLog & BackupStore
    /// The run every event belongs to.
    public let runID: RunID
    /// Who acts in this run.
    public let actor: String
    /// The run's redactor, applied to every string of every event.
    public let redactor: Redactor
    /// Told about every event once it is committed (webhook notifications), if set.
    public let observer: (any RunObserver)?
    /// The run's secret values by variable name, which file backups are sealed with
    /// (``FileSecretSeal``) before they are stored.
    public let secrets: [String: String]

    /// Creates the journal of `runID`.
    public init(
        store: any EventLog & BackupStore, runID: RunID, actor: String, redactor: Redactor, observer: (any RunObserver)? = nil,
        secrets: [String: String] = [:]
    ) {
        self.store = store
        self.runID = runID
        self.actor = actor
        self.redactor = redactor
        self.observer = observer
        self.secrets = secrets
    }

    /// Records one event of the run and returns it as committed.
    ///
    /// The observer sees the event as stored (redacted) after it committed, before this returns.
    @discardableResult
    public func record(
        _ kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil, status: String? = nil,
        exitCode: Int? = nil, durationMilliseconds: Int64? = nil, detail: [String: JSONValue] = [:]
    ) async throws -> RecordedEvent {
        let event = try await store.append(
            draft(kind, target: target, stage: stage, step: step, status: status, exitCode: exitCode,
                  durationMilliseconds: durationMilliseconds, detail: detail),
            redactor: redactor)
        observer?.observe(event)
        return event
    }

    /// An event of the run, to record later with ``record(contentsOf:)``.
    public func draft(
        _ kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil, status: String? = nil,
        exitCode: Int? = nil, durationMilliseconds: Int64? = nil, detail: [String: JSONValue] = [:]
    ) -> EventDraft {
        EventDraft(runID: runID, actor: actor, kind: kind, target: target, stage: stage, step: step, status: status,
                   exitCode: exitCode, durationMilliseconds: durationMilliseconds, detail: detail)
    }

    /// Records events of the run in one transaction, in order; the observer sees each, in order.
    @discardableResult
    public func record(contentsOf drafts: [EventDraft]) async throws -> [RecordedEvent] {
        let events = try await store.append(contentsOf: drafts, redactor: redactor)
        if let observer {
            for event in events { observer.observe(event) }
        }
        return events
    }
}

/// Told about each event of a run once it is committed: how webhook notifications follow a run
/// without sitting on its path.
public protocol RunObserver: Sendable {
    /// Called after each event of the run committed, `run.finished` included. Must return at
    /// once: queue slow work (the network) for a task of its own, because the run waits for this
    /// call.
    func observe(_ event: RecordedEvent)
}
