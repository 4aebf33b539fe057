import ArgumentParser
import Foundation
import SluiceAudit
import SluiceCore
import SluiceRuns
import SluiceExecution
import Synchronization

/// `sluice plan RUNBOOK`: the dry run. Shows everything apply would do, runs what can be run
/// without changing anything, and says what it could not check.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Dry-run a runbook: every command rendered, checks and preflight run, file diffs shown.",
        discussion: """
            Runs preflight, `check` commands, guards, each file step's `validate` (on the new content \
            in a temporary file) and one probe of each health step. Never runs `run`, `rollback`, \
            `cache_refresh`, holds or notifications. Records the dry run in the audit store (and the \
            plan itself, when it is saved with --out).
            Exit status: 0 ready, 1 a check failed, 2 invalid runbook.
            """
    )

    @Argument(help: ArgumentHelp("The runbook to plan.", valueName: "runbook"))
    var runbook: String

    @Option(name: .long, help: ArgumentHelp("Also write the plan to this file, for `apply --plan`.", valueName: "plan"))
    var out: String?

    @Flag(name: .long, help: "Print the plan as JSON (schema: docs/plan-format.md).")
    var json = false

    @Option(name: .long, help: ArgumentHelp("How many checks run at once.", valueName: "n"))
    var checks: Int = 16

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var actorOptions: ActorOptions
    @OptionGroup var calendarOptions: CalendarOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard checks >= 1 else { throw ValidationError("--checks must be at least 1.") }
    }

    func run() async throws {
        let style = TerminalStyle(enabled: output.useColor)
        let runbookValue = try RunbookInputs.load(runbook, calendar: calendarOptions, style: style)
        let variables = try RunbookInputs.variables(of: runbookValue)

        let runID = RunID.generate()
        let now = Date()
        var plan: Plan
        do {
            plan = try Planner().plan(
                runbook: runbookValue, variables: variables, runID: runID.rawValue, now: now,
                content: ContentDigest(runbook: runbookValue),
                validateFile: RunGates.validateFile(runID: runID))
        } catch {
            Console.error("\(error)")
            throw ExitCode(2)
        }
        let transports = Transports.local(for: plan)
        let checker = PlanChecker(transports: transports, prober: NetworkHealthProber(), parallel: checks, redactor: variables.redactor)
        let interruption = PlanInterruption(transports: transports)
        await checker.check(&plan)
        interruption.end()
        if let signal = interruption.signal {
            FileChanger.discardStagedFiles()
            Console.error("plan interrupted: no change was made, nothing was recorded, and its temporary files are removed")
            throw ExitCode(128 + signal)
        }

        let summary = plan.summary
        // The full plan is encoded only when it is saved: for a large runbook it is most of the work.
        let saved = try out.map { path in try writePlanFile(plan, to: path) }
        let approval = try await record(plan, summary: summary, saved: saved, runbook: runbookValue, runID: runID, redactor: variables.redactor)
        if json {
            print(try Console.jsonText(PlanDocument(plan: plan, summary: summary, approval: approval)), terminator: "")
        } else {
            PlanReport(plan: plan, summary: summary, approval: approval, style: style, savedTo: out).write { Console.write($0) }
        }
        if !summary.ready { throw ExitCode(1) }
    }

    /// Records the plan as a run of mode `plan` with a `plan.recorded` event (and, for a plan
    /// saved with `--out`, a copy of it), and looks up approvals.
    private func record(_ plan: Plan, summary: PlanSummary, saved: Data?, runbook: Runbook, runID: RunID, redactor: Redactor) async throws -> ApprovalStatus {
        let store = try storeOptions.openStore(failingWith: 1)
        let actor = actorOptions.resolvedActor
        try await store.createRun(RunGates.runRecord(
            runID, of: runbook, mode: .plan, actor: actor, contentHash: plan.content.hash, startedAt: plan.createdAt))
        if let saved {
            try await store.savePlan(SavedPlan(
                id: runID.rawValue, runbookID: runbook.id, contentHash: plan.content.hash, runID: runID,
                createdAt: Timestamp.format(plan.createdAt), planJSON: String(decoding: saved, as: UTF8.self)))
        }
        var detail: [String: JSONValue] = [
            "content_hash": .string(plan.content.hash), "targets": .integer(Int64(summary.targets)),
            "steps": .integer(Int64(summary.steps)), "checked": .integer(Int64(summary.checked)),
            "not_checked": .integer(Int64(summary.notChecked)), "failures": .integer(Int64(summary.failures)),
            "unhealthy": .integer(Int64(summary.unhealthy)),
        ]
        // Which shared freezes the window verdict took into account.
        if let calendar = calendarOptions.resolvedCalendarPath { detail["calendar"] = .string(calendar) }
        _ = try await store.append(EventDraft(
            runID: runID, actor: actor, kind: .planRecorded, status: (summary.ready ? EventStatus.ready : .notReady).rawValue, detail: detail),
            redactor: redactor)
        _ = try await store.finishRun(runID, outcome: summary.ready ? .succeeded : .checksFailed)
        let approvals = try await store.approvals(runbookID: runbook.id, contentHash: plan.content.hash)
        var status = ApprovalStatus(required: runbook.approval.required, approvers: approvals.map(\.approver))
        // Who applies is not known here, so only a change since the last approval is reported.
        if approvals.isEmpty, let latest = try await store.latestApproval(runbookID: runbook.id) {
            status.changedSince = ApprovalStatus.ChangedSince(
                approver: latest.approver, approvedAt: latest.approvedAt,
                changes: latest.digest.map { plan.content.changes(since: $0) } ?? [])
        }
        return status
    }

    /// Writes the plan to `path` and returns what was written.
    private func writePlanFile(_ plan: Plan, to path: String) throws -> Data {
        do {
            let data = try JSONEncoder.sluice.encode(plan)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            return data
        } catch {
            Console.fail("cannot write the plan to \(path): \(error.localizedDescription); check the folder exists and is writable")
            throw ExitCode(1)
        }
    }

}

/// Whether the runbook's exact content has been approved, for the report.
struct ApprovalStatus: Encodable, Sendable {
    /// The most recent approval of other content of the runbook, and what changed since.
    struct ChangedSince: Encodable, Sendable {
        var approver: String
        var approvedAt: String
        /// Each file that changed ("script scripts/apply.sh changed"); empty when that approval
        /// did not record its files.
        var changes: [String]
    }

    var required: Bool
    /// Who approved this exact content.
    var approvers: [String]
    /// Set when no one approved this content but someone approved an earlier one.
    var changedSince: ChangedSince?
}

/// `plan --json`: the plan with its summary and approval status.
struct PlanDocument: Encodable {
    var plan: Plan
    var summary: PlanSummary
    var approval: ApprovalStatus
    var ready: Bool

    init(plan: Plan, summary: PlanSummary, approval: ApprovalStatus) {
        self.plan = plan
        self.summary = summary
        self.approval = approval
        self.ready = summary.ready
    }
}

/// Ctrl-C, SIGTERM or SIGHUP during a dry run: the checks' commands are terminated (SIGTERM,
/// SIGKILL after 2 s), so the checks end at once, each removing its temporary file beside the
/// real one; `plan` then exits without recording anything, leaving nothing behind.
final class PlanInterruption: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let received = Received()

    private final class Received: Sendable {
        let first = Mutex<Int32?>(nil)
    }

    /// The first signal received, if any.
    var signal: Int32? { received.first.withLock { $0 } }

    init(transports: Transports) {
        let received = received
        sources = SignalHandling.stopping.map { number in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                received.first.withLock { $0 = $0 ?? number }
                FileChanger.discardStagedFiles()
                // Read-only checks: a short grace, then SIGKILL.
                transports.terminateRunning(grace: .seconds(2))
            }
            source.resume()
            return source
        }
    }

    /// The checks are over: signals act as usual again.
    func end() {
        for source in sources { source.cancel() }
        for number in SignalHandling.stopping { Glibc.signal(number, SIG_DFL) }
    }
}
