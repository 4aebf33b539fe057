import Foundation

/// An approval recorded earlier, as the gate needs it.
public struct PriorApproval: Sendable, Equatable {
    /// Who approved (`sluice approve --by`), as recorded.
    public var approver: String
    /// When, as the audit store writes times.
    public var approvedAt: String
    /// The ``ContentDigest/hash`` of the content approved.
    public var contentHash: String
    /// The files approved with their hashes; `nil` for approvals recorded before the store kept
    /// them.
    public var digest: ContentDigest?

    /// An approval as the audit store recorded it.
    public init(approver: String, approvedAt: String, contentHash: String, digest: ContentDigest?) {
        self.approver = approver
        self.approvedAt = approvedAt
        self.contentHash = contentHash
        self.digest = digest
    }
}

/// Whether recorded approvals let someone apply a runbook's current content.
public enum ApprovalVerdict: Sendable, Equatable {
    /// The runbook does not require an approval.
    case notRequired
    /// Approved for this exact content by these people (none of them the applier when the
    /// runbook needs a distinct approver).
    case approved(by: [String])
    /// Required, and no content of this runbook was ever approved.
    case neverApproved
    /// Required, and the content changed since the most recent approval; `changes` names each
    /// file ("script scripts/apply.sh changed"), empty when that approval did not record its files.
    case changed(since: PriorApproval, changes: [String])
    /// Required, and the only approvals of this content are by the applier, while the runbook
    /// needs a distinct approver.
    case selfApproved(by: String)

    /// Whether apply may go ahead.
    public var allowsApply: Bool {
        switch self {
        case .notRequired, .approved: true
        case .neverApproved, .changed, .selfApproved: false
        }
    }
}

/// Decides whether a runbook's approvals let `actor` apply its current content. Pure: the
/// approvals are read by the caller.
public enum ApprovalGate {
    /// The verdict for `actor` applying `content` under `requirement`.
    ///
    /// - Parameters:
    ///   - approversOfContent: who approved exactly `content` (its hash), oldest first.
    ///   - latest: the most recent approval of any content of this runbook.
    public static func evaluate(
        _ requirement: Approval, actor: String, content: ContentDigest, approversOfContent: [String], latest: PriorApproval?
    ) -> ApprovalVerdict {
        guard requirement.required else { return .notRequired }
        if !approversOfContent.isEmpty {
            let usable = approversOfContent.filter { !requirement.distinctApprover || !samePerson($0, actor) }
            return usable.isEmpty ? .selfApproved(by: actor) : .approved(by: usable)
        }
        guard let latest else { return .neverApproved }
        return .changed(since: latest, changes: latest.digest.map { content.changes(since: $0) } ?? [])
    }

    /// Names are compared without regard to case or surrounding spaces, so that `Alice` cannot
    /// approve what `alice` applies.
    public static func samePerson(_ first: String, _ second: String) -> Bool {
        first.trimmingCharacters(in: .whitespaces).lowercased() == second.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

extension ApprovalVerdict {
    /// Why apply refuses, and what to do, for `runbookFile`; `nil` when it does not refuse.
    public func refusal(runbookID: String, runbookFile: String) -> String? {
        let ask = "`sluice approve \(runbookFile) --by NAME`"
        switch self {
        case .notRequired, .approved:
            return nil
        case .neverApproved:
            return "approval is required and runbook \(runbookID) has never been approved. Have someone review `sluice plan \(runbookFile)` and run \(ask)."
        case .changed(let since, let changes):
            let what = changes.isEmpty
                ? "its content (hash \(since.contentHash.prefix(12))) differs from what was approved; that approval does not list its files"
                : changes.joined(separator: "; ")
            return "approval is required and the content changed since the most recent approval (by \(since.approver) at \(since.approvedAt)): \(what). "
                + "Review the change with `sluice plan \(runbookFile)`, then have it approved again: \(ask)."
        case .selfApproved(let person):
            return "approval is required from someone other than the person applying, and the only approval of this content is by \(person) (approval.distinct_approver is true). "
                + "Ask someone else to review and run \(ask), or have someone else apply."
        }
    }
}
