import Foundation
import SluiceAudit
import SluiceCore

/// What must be true before a run may change anything, and the values a run starts with.
public enum RunGates {
    /// Reads every variable's value; refused (exit 2) naming the variable that cannot be read.
    public static func variables(of runbook: Runbook) throws -> ResolvedVariables {
        do {
            return try runbook.resolveVariables(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw RunRefusal.invalid("\(error)")
        }
    }

    /// What `apply` and `resume` both refuse (exit 4): a closed window or a freeze, unless
    /// overridden, and content without the approval the runbook requires.
    public static func refuseOutsideWindowOrUnapproved(
        _ plan: Plan, runbook: Runbook, store: any SluiceStore, actor: String, overrideWindow: Bool
    ) async throws {
        if !plan.window.allowsStart, !overrideWindow {
            let why = WindowText.describe(plan.window, runbook: runbook, at: plan.createdAt)
            throw RunRefusal.refused("refused: \(why). Start later (`sluice windows \(runbook.file)` lists the next windows), or pass --override-window --reason TEXT (audited).")
        }
        let approval = try await approvalVerdict(of: runbook, content: plan.content, actor: actor, store: store)
        if let refusal = approval.refusal(runbookID: runbook.id, runbookFile: runbook.file) {
            throw RunRefusal.refused("refused: \(refusal)")
        }
    }

    /// Refuses (exit 4) unless the runbook and its files are exactly as when the plan at
    /// `planPath` was saved, for the same targets.
    public static func refuseStale(_ plan: Plan, against planPath: String, runbook: Runbook) throws {
        let saved: Plan
        do {
            saved = try JSONDecoder.sluice.decode(Plan.self, from: Data(contentsOf: URL(fileURLWithPath: planPath)))
        } catch {
            throw RunRefusal.refused("refused: cannot read the plan \(planPath): \(error.localizedDescription). Make it with `sluice plan \(runbook.file) --out \(planPath)`.")
        }
        let changes = plan.content.changes(since: saved.content)
        if !changes.isEmpty || saved.runbook.id != runbook.id {
            let list = changes.isEmpty ? "it is for runbook \(saved.runbook.id)" : changes.joined(separator: "; ")
            throw RunRefusal.refused("refused: the plan \(planPath) is stale: \(list). Plan again and review it.")
        }
        let targetsNow = plan.targets.map(\.name), targetsThen = saved.targets.map(\.name)
        if targetsNow != targetsThen {
            throw RunRefusal.refused("refused: the plan \(planPath) is stale: its targets were \(targetsThen.joined(separator: ", ")), now \(targetsNow.joined(separator: ", ")). Plan again.")
        }
    }

    /// Records `window.overridden` when the window did not allow the start.
    public static func recordOverride(of plan: Plan, runbook: Runbook, reason: String?, in journal: RunJournal) async throws {
        guard !plan.window.allowsStart else { return }
        try await journal.record(.windowOverridden, detail: [
            "reason": .string(reason ?? ""), "window": .string(WindowText.describe(plan.window, runbook: runbook, at: plan.createdAt)),
        ])
    }

    /// Where a file step's new content is written for `validate`: beside the file, so that the
    /// validated content is renamed into place.
    public static func validateFile(runID: RunID) -> @Sendable (String, Int, String) -> String {
        { _, index, path in
            let folder = (path as NSString).deletingLastPathComponent
            return folder + "/." + (path as NSString).lastPathComponent + ".sluice-\(runID)-\(index)"
        }
    }

    /// Whether the store's approvals let `actor` apply `content` of `runbook`.
    public static func approvalVerdict(of runbook: Runbook, content: ContentDigest, actor: String, store: any ApprovalBook) async throws -> ApprovalVerdict {
        guard runbook.approval.required else { return .notRequired }
        let approvers = try await store.approvals(runbookID: runbook.id, contentHash: content.hash).map(\.approver)
        // The latest approval of other content matters only when this content has none.
        let latest = approvers.isEmpty ? try await store.latestApproval(runbookID: runbook.id).map { record in
            PriorApproval(approver: record.approver, approvedAt: record.approvedAt, contentHash: record.contentHash, digest: record.digest)
        } : nil
        return ApprovalGate.evaluate(runbook.approval, actor: actor, content: content, approversOfContent: approvers, latest: latest)
    }

    /// The store's row for a new run of `runbook` by `actor`, on this host and process.
    public static func runRecord(_ id: RunID, of runbook: Runbook, mode: RunMode, actor: String, contentHash: String, startedAt: Date) -> RunRecord {
        RunRecord(
            id: id, runbookID: runbook.id, title: runbook.title ?? runbook.id,
            kind: runbook.kind == .maintenance ? .maintenance : .change, mode: mode, actor: actor,
            host: ProcessProbe.hostName, pid: ProcessProbe.currentPID, contentHash: contentHash, runbookPath: runbook.file,
            startedAt: Timestamp.format(startedAt))
    }
}
