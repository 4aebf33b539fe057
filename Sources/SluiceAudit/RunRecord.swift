import SluiceCore

/// How a run was started.
public enum RunMode: String, Codable, Sendable, CaseIterable {
    /// `sluice apply`.
    case apply
    /// `sluice plan` (the dry run).
    case plan
    /// `sluice rollback`.
    case rollback
    /// `sluice resume`.
    case resume
}

/// The runbook's `kind`.
public enum RunKind: String, Codable, Sendable, CaseIterable {
    /// A configuration change.
    case change
    /// Planned maintenance.
    case maintenance
}

/// One row of the `runs` table: an index of runs for listing and lookup.
///
/// This table is mutable (``RunCatalog/finishRun(_:outcome:)`` sets the outcome). The
/// authoritative record of what happened is the hash-chained event log; a run's row is a
/// convenience that `run.started` and `run.finished` events repeat.
public struct RunRecord: Codable, Sendable, Hashable {
    /// The run's id.
    public var id: RunID
    /// The runbook's `id`.
    public var runbookID: String
    /// The runbook's `title`.
    public var title: String
    /// The runbook's `kind`.
    public var kind: RunKind
    /// How the run was started.
    public var mode: RunMode
    /// Who started it.
    public var actor: String
    /// The host the runner runs on.
    public var host: String
    /// The runner's process id.
    public var pid: Int32
    /// The hash of the runbook's exact content (runbook, scripts, sources).
    public var contentHash: String
    /// The runbook's path as given.
    public var runbookPath: String
    /// When it started, in ``Timestamp`` form.
    public var startedAt: String
    /// When it finished, or `nil` while running (or when its runner died).
    public var finishedAt: String?
    /// How it ended, or `nil` while running.
    public var outcome: RunOutcome?

    /// The column names.
    enum CodingKeys: String, CodingKey {
        /// `id`
        case id
        /// `runbook_id`
        case runbookID = "runbook_id"
        /// `title`
        case title
        /// `kind`
        case kind
        /// `mode`
        case mode
        /// `actor`
        case actor
        /// `host`
        case host
        /// `pid`
        case pid
        /// `content_hash`
        case contentHash = "content_hash"
        /// `runbook_path`
        case runbookPath = "runbook_path"
        /// `started_at`
        case startedAt = "started_at"
        /// `finished_at`
        case finishedAt = "finished_at"
        /// `outcome`
        case outcome
    }

    /// Creates a run row; `finishedAt` and `outcome` start empty.
    public init(
        id: RunID, runbookID: String, title: String, kind: RunKind, mode: RunMode, actor: String,
        host: String, pid: Int32, contentHash: String, runbookPath: String, startedAt: String
    ) {
        self.id = id
        self.runbookID = runbookID
        self.title = title
        self.kind = kind
        self.mode = mode
        self.actor = actor
        self.host = host
        self.pid = pid
        self.contentHash = contentHash
        self.runbookPath = runbookPath
        self.startedAt = startedAt
        self.finishedAt = nil
        self.outcome = nil
    }
}
