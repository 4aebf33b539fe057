import Foundation
import SluiceCore

/// One row of the `events` table: an event as it was committed, hash-chained to the one before.
///
/// Fields are kept as stored (a run id is plain text here), so that a damaged row can still be
/// read and reported by ``EventLog/verify(anchors:)``.
public struct RecordedEvent: Codable, Sendable, Hashable {
    /// The position in the chain: 1 for the first event, then one more for each.
    public var seq: Int64
    /// When the event was appended, in ``Timestamp`` form.
    public var time: String
    /// The run, as text, or `nil`.
    public var runID: String?
    /// Who acted.
    public var actor: String
    /// What happened: an ``EventKind``'s name, as text, for a store may hold kinds a newer
    /// Sluice wrote (see ``eventKind``).
    public var kind: String
    /// The target, if any.
    public var target: String?
    /// The stage, if any.
    public var stage: String?
    /// The step, if any.
    public var step: String?
    /// The result, if any.
    public var status: String?
    /// The command's exit status, if any.
    public var exitCode: Int?
    /// The duration in milliseconds, if any.
    public var durationMilliseconds: Int64?
    /// The detail as canonical JSON text (an object).
    public var detail: String
    /// The previous event's ``hash`` (``EventChain/genesisHash`` for the first event).
    public var prevHash: String
    /// SHA-256, lowercase hex, of ``prevHash`` followed by ``canonicalJSON``.
    public var hash: String

    /// The column names.
    enum CodingKeys: String, CodingKey {
        /// `seq`
        case seq
        /// `time`
        case time
        /// `run_id`
        case runID = "run_id"
        /// `actor`
        case actor
        /// `kind`
        case kind
        /// `target`
        case target
        /// `stage`
        case stage
        /// `step`
        case step
        /// `status`
        case status
        /// `exit_code`
        case exitCode = "exit_code"
        /// `duration_ms`
        case durationMilliseconds = "duration_ms"
        /// `detail`
        case detail
        /// `prev_hash`
        case prevHash = "prev_hash"
        /// `hash`
        case hash
    }

    /// What happened, or `nil` for a kind this version does not know.
    public var eventKind: EventKind? { EventKind(rawValue: kind) }

    /// The run id, when the stored text is one.
    public var run: RunID? { runID.flatMap { RunID($0) } }

    /// The event's time, when the stored text is a valid ``Timestamp``.
    public var date: Date? { Timestamp.parse(time) }

    /// The text the hash covers after ``prevHash``: the canonical JSON (``CanonicalJSON``) of an
    /// object holding every column except `prev_hash` and `hash`, absent values as `null`.
    public var canonicalJSON: String {
        // Keys in sorted order, as the canonical form requires.
        CanonicalJSON.encodeSortedRow([
            ("actor", .text(actor)),
            ("detail", .text(detail)),
            ("duration_ms", .integer(durationMilliseconds)),
            ("exit_code", .integer(exitCode.map(Int64.init))),
            ("kind", .text(kind)),
            ("run_id", .text(runID)),
            ("seq", .integer(seq)),
            ("stage", .text(stage)),
            ("status", .text(status)),
            ("step", .text(step)),
            ("target", .text(target)),
            ("time", .text(time)),
        ])
    }

    /// The hash this row should carry given its content and ``prevHash``.
    public var expectedHash: String { EventChain.hash(previous: prevHash, canonicalJSON: canonicalJSON) }
}

extension RecordedEvent {
    /// The detail's top-level members for display: strings as themselves, other values as
    /// compact JSON; empty when the detail is not a JSON object.
    public var detailMembers: [String: String] {
        guard case .object(let members)? = JSONValue(json: detail) else { return [:] }
        return members.mapValues(\.text)
    }
}
