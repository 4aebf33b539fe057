import SluiceCore

/// An event before it is recorded: everything but its sequence number, time and hashes.
///
/// The store assigns `seq`, `time`, `prev_hash` and `hash` when it appends the draft, after
/// passing every string through the run's ``Redactor``.
public struct EventDraft: Sendable, Hashable {
    /// The run the event belongs to; `nil` for events outside any run (`lock.forced`,
    /// `approval.recorded`).
    public var runID: RunID?
    /// Who acted (`--as`, `$SLUICE_USER` or the login name). Must not be empty.
    public var actor: String
    /// What happened. Must not be empty.
    public var kind: EventKind
    /// The target concerned, if any.
    public var target: String?
    /// The stage concerned, if any.
    public var stage: String?
    /// The step concerned, if any.
    public var step: String?
    /// The result, for example `succeeded`, `failed`, `timed_out`, or a run outcome.
    public var status: String?
    /// The exit status of the command, if one ran.
    public var exitCode: Int?
    /// How long the action took, in milliseconds.
    public var durationMilliseconds: Int64?
    /// Anything else: `command` (the rendered command), `output` (use ``outputTail(_:)``),
    /// `reason`, and so on. Written as canonical JSON.
    public var detail: [String: JSONValue]

    /// Creates a draft; see the properties for the meaning of each field.
    public init(
        runID: RunID?, actor: String, kind: EventKind, target: String? = nil, stage: String? = nil,
        step: String? = nil, status: String? = nil, exitCode: Int? = nil,
        durationMilliseconds: Int64? = nil, detail: [String: JSONValue] = [:]
    ) {
        self.runID = runID
        self.actor = actor
        self.kind = kind
        self.target = target
        self.stage = stage
        self.step = step
        self.status = status
        self.exitCode = exitCode
        self.durationMilliseconds = durationMilliseconds
        self.detail = detail
    }

    /// The most output an event keeps: its last 4 KiB.
    public static let outputTailLimit = 4096

    /// Returns the last ``outputTailLimit`` bytes of `output`, cut at a character boundary.
    ///
    /// The store redacts the whole detail again before writing, but callers holding secrets
    /// should redact `output` before taking its tail: cutting first could split a secret so that
    /// its remaining half no longer matches.
    public static func outputTail(_ output: String, limit: Int = outputTailLimit) -> String {
        guard output.utf8.count > limit else { return output }
        let bytes = Array(output.utf8.suffix(limit))
        // Skip UTF-8 continuation bytes so that the tail starts on a character boundary.
        var start = 0
        while start < bytes.count, bytes[start] & 0xC0 == 0x80 { start += 1 }
        return String(decoding: bytes[start...], as: UTF8.self)
    }

    /// Checks what the schema would reject, so that one bad draft cannot fail a whole group
    /// commit.
    func validate() throws(AuditStoreError) {
        if actor.isEmpty { throw .invalidEvent("the actor is empty; pass --as NAME or set SLUICE_USER") }
        if kind.rawValue.isEmpty { throw .invalidEvent("the event kind is empty") }
    }
}
