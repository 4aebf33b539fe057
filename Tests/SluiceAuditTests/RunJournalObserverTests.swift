import Foundation
import SluiceCore
import Synchronization
import Testing
@testable import SluiceAudit

@Suite("A run's journal tells its observer")
struct RunJournalObserverTests {
    final class Recorder: RunObserver {
        let seen = Mutex<[String]>([])
        /// The run's journal without an observer, as the webhooks' observer gets it.
        let audit: RunJournal

        init(audit: RunJournal) {
            self.audit = audit
        }

        func observe(_ event: RecordedEvent) {
            let output = event.detailMembers["output"].map { " " + $0 } ?? ""
            seen.withLock { $0.append(event.kind + (event.status.map { ":" + $0 } ?? "") + output) }
            // The end of the run reaches the observer as its last event, not as a call of its own.
            if event.kind == "run.finished" { seen.withLock { $0.append("finished") } }
        }
    }

    @Test func everyCommittedEventIsObservedRedactedAndTheEndOfTheRunOnce() async throws {
        // Given a journal with an observer and a secret
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let runID = try #require(RunID("r-20261121-080000-0001"))
        try await store.createRun(RunStoreTests.run(runID.rawValue, startedAt: "2026-11-21T08:00:00.000Z"))
        let redactor = Redactor(secrets: ["hunter2"])
        let recorder = Recorder(audit: RunJournal(store: store, runID: runID, actor: "alice", redactor: redactor))
        let journal = RunJournal(store: store, runID: runID, actor: "alice", redactor: redactor, observer: recorder)

        // When the run records its events
        try await journal.record(.runStarted)
        try await journal.record(.stepFinished, target: "web1", step: "deploy", status: "succeeded", detail: ["output": "token hunter2"])
        try await journal.record(.runFinished, status: "succeeded")
        // What the observer's side records itself, after the run (webhooks' `notify.failed`), is
        // not observed again.
        _ = try? await recorder.audit.record(.notifyFailed, status: "failed")

        // Then the observer saw each, as stored, then the end of the run; its own event is stored
        #expect(recorder.seen.withLock { $0 } == ["run.started", "step.finished:succeeded token ***", "run.finished:succeeded", "finished"])
        #expect(try await store.events(of: runID).map(\.kind) == ["run.started", "step.finished", "run.finished", "notify.failed"])
    }
}
