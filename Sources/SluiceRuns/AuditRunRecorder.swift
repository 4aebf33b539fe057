import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import Synchronization

/// Records a run's events and file backups in the audit store, and shows each event as it is
/// recorded, and the commands' output as it arrives.
///
/// A `step.finished` the engine marks ``RunEvent/mayWaitForNextEvent`` (a step that succeeded
/// and is not its target's last) is not made durable on its own: it joins the transaction of the
/// next event (usually the target's next `step.started`, which must be durable before its command
/// runs anyway), or of ``flush()``. That halves the fsyncs of a rollout. A crash in between loses
/// only the news that a step finished, so the step is in doubt and `resume` runs it again, as it
/// must for any step that was running when the runner died.
final class AuditRunRecorder: RunRecorder {
    let journal: RunJournal
    let show: @Sendable (RunEvent) -> Void
    let showOutput: @Sendable (_ line: String, _ target: String, _ step: String) -> Void
    private let unwritten = Mutex<[EventDraft]>([])

    init(
        journal: RunJournal, show: @escaping @Sendable (RunEvent) -> Void,
        showOutput: @escaping @Sendable (_ line: String, _ target: String, _ step: String) -> Void
    ) {
        self.journal = journal
        self.show = show
        self.showOutput = showOutput
    }

    private static let host = ProcessProbe.hostName

    func show(output line: String, target: String, step: String) {
        showOutput(line, target, step)
    }

    func record(_ event: RunEvent) async throws {
        var detail: [String: JSONValue] = [:]
        for (key, value) in event.detail {
            detail[key] = .string(key == "output" ? EventDraft.outputTail(journal.redactor.redact(value)) : value)
        }
        if event.kind == .stepStarted {
            // Where the step runs, for whoever drives the run next: the command's own process
            // does not exist yet (this is recorded before it starts); it carries SLUICE_RUN_ID,
            // which is how `resume` and `rollback` find it if this runner dies.
            detail["host"] = .string(Self.host)
            detail["runner_pid"] = .integer(Int64(ProcessProbe.currentPID))
        }
        let draft = journal.draft(
            event.kind, target: event.target, stage: event.stage, step: event.step, status: event.status?.rawValue,
            exitCode: event.exitCode.map(Int.init), durationMilliseconds: event.duration.map { Int64($0.timeInterval * 1000) },
            detail: detail)
        if event.mayWaitForNextEvent {
            unwritten.withLock { $0.append(draft) }
        } else {
            try await journal.record(contentsOf: takeUnwritten() + [draft])
        }
        show(event)
    }

    /// Makes every event recorded so far durable.
    func flush() async throws {
        try await journal.record(contentsOf: takeUnwritten())
    }

    private func takeUnwritten() -> [EventDraft] {
        unwritten.withLock { drafts in
            defer { drafts.removeAll() }
            return drafts
        }
    }

    func saveBackup(_ snapshot: FileSnapshot, target: String, step: String) async throws {
        let now = Timestamp.format(Date())
        // No secret in the store: a secret value in the old file or its path becomes a token,
        // filled in again from the variable's source when the backup is restored.
        let seal = FileSecretSeal(values: journal.secrets)
        let path = seal.seal(snapshot.path)
        let backup = snapshot.existed
            ? FileBackup.existing(
                runID: journal.runID, target: target, step: step, path: path, content: seal.seal(snapshot.content ?? Data()),
                mode: Int(snapshot.mode ?? 0o644), owner: snapshot.owner.map { Int($0) }, group: snapshot.group.map { Int($0) },
                takenAt: now)
            : FileBackup.absent(runID: journal.runID, target: target, step: step, path: path, takenAt: now)
        _ = try await journal.store.storeBackup(backup, actor: journal.actor, redactor: journal.redactor)
    }
}
