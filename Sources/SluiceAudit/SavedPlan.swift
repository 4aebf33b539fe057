import SluiceCore

/// One row of the `saved_plans` table: a plan `sluice plan` made, as JSON, for `apply --plan`.
public struct SavedPlan: Codable, Sendable, Hashable {
    /// The plan's id.
    public var id: String
    /// The runbook's `id`.
    public var runbookID: String
    /// The hash of the exact content the plan was made from.
    public var contentHash: String
    /// The `plan` run that made it, if recorded.
    public var runID: RunID?
    /// When it was made, in ``Timestamp`` form.
    public var createdAt: String
    /// The plan itself, as JSON text (the schema checks that it is valid JSON).
    public var planJSON: String

    /// The column names.
    enum CodingKeys: String, CodingKey {
        /// `id`
        case id
        /// `runbook_id`
        case runbookID = "runbook_id"
        /// `content_hash`
        case contentHash = "content_hash"
        /// `run_id`
        case runID = "run_id"
        /// `created_at`
        case createdAt = "created_at"
        /// `plan_json`
        case planJSON = "plan_json"
    }

    /// Creates a plan row.
    public init(id: String, runbookID: String, contentHash: String, runID: RunID?, createdAt: String, planJSON: String) {
        self.id = id
        self.runbookID = runbookID
        self.contentHash = contentHash
        self.runID = runID
        self.createdAt = createdAt
        self.planJSON = planJSON
    }
}
