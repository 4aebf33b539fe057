import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore

/// What the commands that read a runbook start with (plan, apply, resume, approve, windows): a
/// valid runbook, its variables' values, a run row, the approval verdict.
enum RunbookInputs {
    /// Loads and validates the runbook at `path`, printing every diagnostic; exits 2 when it is
    /// invalid.
    static func load(_ path: String, style: TerminalStyle) throws -> Runbook {
        let loaded = RunbookLoader().load(path: path)
        for diagnostic in loaded.diagnostics { Console.error(diagnostic, style: style) }
        guard let runbook = loaded.validRunbook else {
            Console.error("\(path): invalid; fix the errors above and try again")
            throw ExitCode(2)
        }
        return runbook
    }

    /// Loads the runbook at `path` with the shared calendar's freezes added to its own
    /// (``FreezeCalendar/binding(_:)``); exits 2 when either file is invalid.
    static func load(_ path: String, calendar: CalendarOptions, style: TerminalStyle) throws -> Runbook {
        let runbook = try load(path, style: style)
        guard let calendarPath = calendar.resolvedCalendarPath else { return runbook }
        return try loadCalendar(calendarPath, style: style).binding(runbook)
    }

    /// Loads the calendar file at `path`, printing every diagnostic; exits 2 when it is invalid.
    static func loadCalendar(_ path: String, style: TerminalStyle) throws -> FreezeCalendar {
        let loaded = FreezeCalendarLoader().load(path: path)
        for diagnostic in loaded.diagnostics { Console.error(diagnostic, style: style) }
        guard let calendar = loaded.validCalendar else {
            Console.error("\(path): invalid calendar file; fix the errors above, or point --calendar or SLUICE_CALENDAR at another file")
            throw ExitCode(2)
        }
        return calendar
    }

    /// Whether the store's approvals let `actor` apply `content` of `runbook`.
    static func approvalVerdict(of runbook: Runbook, content: ContentDigest, actor: String, store: any ApprovalBook) async throws -> ApprovalVerdict {
        guard runbook.approval.required else { return .notRequired }
        let approvers = try await store.approvals(runbookID: runbook.id, contentHash: content.hash).map(\.approver)
        // The latest approval of other content matters only when this content has none.
        let latest = approvers.isEmpty ? try await store.latestApproval(runbookID: runbook.id).map { record in
            PriorApproval(approver: record.approver, approvedAt: record.approvedAt, contentHash: record.contentHash, digest: record.digest)
        } : nil
        return ApprovalGate.evaluate(runbook.approval, actor: actor, content: content, approversOfContent: approvers, latest: latest)
    }

    /// Reads every variable's value; exits 2 naming the variable that cannot be read.
    static func variables(of runbook: Runbook) throws -> ResolvedVariables {
        do {
            return try runbook.resolveVariables(environment: ProcessInfo.processInfo.environment)
        } catch {
            Console.error("\(error)")
            throw ExitCode(2)
        }
    }

    /// The store's row for a new run of `runbook` by `actor`, on this host and process.
    static func runRecord(_ id: RunID, of runbook: Runbook, mode: RunMode, actor: String, contentHash: String, startedAt: Date) -> RunRecord {
        RunRecord(
            id: id, runbookID: runbook.id, title: runbook.title ?? runbook.id,
            kind: runbook.kind == .maintenance ? .maintenance : .change, mode: mode, actor: actor,
            host: ProcessProbe.hostName, pid: ProcessProbe.currentPID, contentHash: contentHash, runbookPath: runbook.file,
            startedAt: Timestamp.format(startedAt))
    }
}
