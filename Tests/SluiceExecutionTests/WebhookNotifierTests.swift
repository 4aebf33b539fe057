import Foundation
import NIOCore
import NIOPosix
import SluiceCore
import SluiceTestSupport
import SluiceTesting
import Synchronization
import Testing
@testable import SluiceExecution

@Suite("Webhook notifications, against real HTTP servers on 127.0.0.1")
struct WebhookNotifierTests {
    static let here = SourceLocation(file: "runbook.yaml", line: 40, column: 5)

    static func message(_ event: String, seq: Int64, target: String? = nil, outcome: String? = nil) -> WebhookMessage {
        WebhookMessage(
            runID: "r-20261121-080000-0001", runbook: "alma", actor: "alice", event: event, stage: target == nil ? nil : "canary",
            target: target, step: target == nil ? nil : "deploy", outcome: outcome, time: "2026-11-21T08:00:0\(seq).000Z", seq: seq)
    }

    final class Log: Sendable {
        let lines = Mutex<[String]>([])
        var write: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
    }

    @Test func everyListedEventArrivesInOrderAsJSONAndNothingElse() async throws {
        // Given a webhook that lists three kinds
        let receiver = try await WebhookReceiver()
        let notifier = WebhookNotifier(
            notify: [SluiceCore.Notification(webhook: receiver.url, events: ["run.started", "step.finished", "run.finished"], location: Self.here)],
            redactor: .none, log: { _ in })

        // When a run's events are sent, one of them not listed
        notifier.send(Self.message("run.started", seq: 1))
        notifier.send(Self.message("stage.started", seq: 2))
        notifier.send(Self.message("step.finished", seq: 3, target: "web1", outcome: "succeeded"))
        notifier.send(Self.message("step.finished", seq: 4, target: "web2", outcome: "failed"))
        notifier.send(Self.message("run.finished", seq: 5, outcome: "completed_with_failures"))
        let failures = await notifier.drain(clock: ContinuousClock())

        // Then the listed ones arrived, in order, each a complete JSON object
        #expect(failures.isEmpty)
        let messages = receiver.messages()
        #expect(messages.map { $0["event"] as? String } == ["run.started", "step.finished", "step.finished", "run.finished"])
        #expect(messages.map { $0["seq"] as? Int } == [1, 3, 4, 5])
        #expect(messages.map { $0["target"] as? String } == [nil, "web1", "web2", nil])
        #expect(messages[3]["outcome"] as? String == "completed_with_failures")
        for message in messages {
            #expect(Set(message.keys) == ["run_id", "runbook", "actor", "event", "stage", "target", "step", "outcome", "time", "seq", "hash", "text"])
            #expect(message["run_id"] as? String == "r-20261121-080000-0001")
            #expect(message["runbook"] as? String == "alma")
            #expect(message["actor"] as? String == "alice")
        }
        #expect(messages[1]["text"] as? String == "sluice r-20261121-080000-0001: alma stage canary / web1 / deploy: step.finished succeeded (by alice)")
        let request = try #require(receiver.requests().first)
        #expect(request.path == "/hook")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["x-sluice-event"] == "run.started")
    }

    @Test func secretValuesAreNeverSent() async throws {
        let receiver = try await WebhookReceiver()
        let notifier = WebhookNotifier(
            notify: [SluiceCore.Notification(webhook: receiver.url, events: ["step.finished"], location: Self.here)],
            redactor: Redactor(secrets: ["hunter2"]), log: { _ in })
        notifier.send(Self.message("step.finished", seq: 1, target: "web-hunter2", outcome: "failed: token hunter2 refused"))
        #expect(await notifier.drain(clock: ContinuousClock()).isEmpty)
        let body = String(decoding: try #require(receiver.requests().first?.body), as: UTF8.self)
        #expect(!body.contains("hunter2"))
        #expect(body.contains("web-***"))
    }

    @Test func aFailedAttemptIsRetriedOnce() async throws {
        // Given a webhook that fails once, then works
        let receiver = try await WebhookReceiver(answers: [500, 200])
        let notifier = WebhookNotifier(
            notify: [SluiceCore.Notification(webhook: receiver.url, events: ["run.finished"], location: Self.here)],
            redactor: .none, retryDelay: .milliseconds(50), log: { _ in })
        notifier.send(Self.message("run.finished", seq: 1, outcome: "succeeded"))
        // Then the retry delivers it: no failure, the same body twice
        #expect(await notifier.drain(clock: ContinuousClock()).isEmpty)
        let bodies = receiver.requests().map(\.body)
        #expect(bodies.count == 2)
        #expect(bodies.first == bodies.last)
    }

    @Test func aWebhookThatKeepsFailingIsReportedAndLoggedAfterItsRetry() async throws {
        let receiver = try await WebhookReceiver(answers: [503])
        let log = Log()
        let notifier = WebhookNotifier(
            notify: [SluiceCore.Notification(webhook: receiver.url + "?token=abc", events: ["run.finished"], location: Self.here)],
            redactor: .none, retryDelay: .milliseconds(50), log: log.write)
        notifier.send(Self.message("run.finished", seq: 7, outcome: "succeeded"))
        let failures = await notifier.drain(clock: ContinuousClock())
        #expect(failures == [WebhookFailure(
            webhook: "http://127.0.0.1:\(receiver.port)", location: Self.here, event: "run.finished", seq: 7, reason: "HTTP 503", attempts: 2)])
        // The log names where the webhook is declared, and never its path or query
        #expect(log.lines.withLock { $0 } == [
            "notifying http://127.0.0.1:\(receiver.port) (runbook.yaml:40:5) of run.finished #7 failed: HTTP 503 (tried 2 times); the run goes on",
        ])
        // A drain reports each failure once
        #expect(await notifier.drain(clock: ContinuousClock()).isEmpty)
    }

    @Test(.timeLimit(.minutes(1))) func aClosedPortFailsQuickly() async throws {
        // Given a webhook on a port where every connection is refused, timing out after 5 s and
        // retrying after 100 ms on a manual clock
        let closed = try ClosedPort()
        let notifier = WebhookNotifier(
            notify: [SluiceCore.Notification(webhook: "http://127.0.0.1:\(closed.port)/hook", events: ["run.started", "run.finished"], location: Self.here)],
            redactor: .none, timeout: .seconds(5), retryDelay: .milliseconds(100), log: { _ in })
        let clock = ManualClock()
        // When two events are sent and drained, the clock moved on only past each retry's delay
        notifier.send(Self.message("run.started", seq: 1))
        notifier.send(Self.message("run.finished", seq: 2))
        async let drained = notifier.drain(clock: clock)
        for _ in 1...2 {
            try await clock.waitForSleeper(until: clock.now.advanced(by: .milliseconds(100)))
            clock.advance(by: .milliseconds(100))
        }
        let failures = await drained
        // Then both failed after their retry, long before the timeout: the drain needed the two
        // retries' 200 ms of the clock and nothing more
        #expect(failures.map(\.event) == ["run.started", "run.finished"])
        #expect(failures.allSatisfy { $0.reason == "connection refused" && $0.attempts == 2 })
        #expect(clock.now.offset == .milliseconds(200))
        withExtendedLifetime(closed) {}
    }

    struct RunFailed: Error {}

    @Test(.timeLimit(.minutes(1))) func messagesGoOutWhileTheRunGoesOnAndTheRunsOwnErrorComesOutAfterTheDeliveries() async throws {
        // Given a webhook, and a run that sends run.started, goes on until the webhook has it,
        // then sends run.finished and fails
        let receiver = try await WebhookReceiver()
        let notifier = WebhookNotifier(
            notify: [SluiceCore.Notification(webhook: receiver.url, events: ["run.started", "run.finished"], location: Self.here)],
            redactor: .none, log: { _ in })

        // When the run is carried out while delivering
        await #expect(throws: RunFailed.self) {
            try await notifier.delivering(clock: ContinuousClock()) {
                notifier.send(Self.message("run.started", seq: 1))
                await receiver.waitForRequests(1)
                // Then the first message arrived while the run was still going on
                #expect(receiver.messages().map { $0["event"] as? String } == ["run.started"])
                notifier.send(Self.message("run.finished", seq: 2))
                throw RunFailed()
            }
        }

        // And the last one was delivered before the run's error came out; nothing goes out after
        #expect(receiver.messages().map { $0["event"] as? String } == ["run.started", "run.finished"])
        notifier.send(Self.message("run.finished", seq: 3))
        #expect(await notifier.drain(clock: ContinuousClock()).isEmpty)
        #expect(receiver.requests().count == 2)
    }

    @Test(.timeLimit(.minutes(1))) func aServerThatNeverAnswersIsAbandonedAtTheBoundWhileAnotherWebhookGetsEverything() async throws {
        // Given one webhook that accepts and never answers, and one that works, with the bound
        // on a manual clock
        let silent = try await WebhookReceiver(answers: [nil])
        let working = try await WebhookReceiver()
        let notifier = WebhookNotifier(
            notify: [
                SluiceCore.Notification(webhook: silent.url, events: ["run.started", "stage.finished", "run.finished"], location: Self.here),
                SluiceCore.Notification(webhook: working.url, events: ["run.started", "stage.finished", "run.finished"], location: Self.here),
            ],
            redactor: .none, timeout: .milliseconds(400), retryDelay: .milliseconds(100), log: { _ in })
        #expect(notifier.drainBound == .milliseconds(900))
        let clock = ManualClock()
        let bound = clock.now.advanced(by: notifier.drainBound)

        // When three events are sent and the run ends at once
        notifier.send(Self.message("run.started", seq: 1))
        notifier.send(Self.message("stage.finished", seq: 2))
        notifier.send(Self.message("run.finished", seq: 3))
        let ended = Mutex(false)
        async let drained = { () async -> [WebhookFailure] in
            let failures = await notifier.drain(clock: clock)
            ended.withLock { $0 = true }
            return failures
        }()

        // Then the working webhook got all three while the clock stood still, and the drain
        // still waited, for its bound: the silent webhook's first attempt timed out (its client's
        // own timeout) and its retry waits on the clock; nothing else waits but the bound
        await working.waitForRequests(3)
        let retry = clock.now.advanced(by: .milliseconds(100))
        try await clock.waitForSleepers { $0 == [retry, bound] }
        #expect(!ended.withLock { $0 })
        // And once the clock reached the bound (and went no further), the drain gave up: the
        // first event was tried and timed out (or was still in its retry), the others never went out
        clock.advance(to: bound)
        let failures = await drained
        #expect(clock.now == bound)
        #expect(failures.map(\.event) == ["run.started", "stage.finished", "run.finished"])
        #expect(failures.allSatisfy { $0.webhook == "http://127.0.0.1:\(silent.port)" })
        #expect(failures.last?.attempts == 0)
        #expect(failures.last?.reason.hasPrefix("not sent: the run ended") == true)
        #expect(working.messages().map { $0["event"] as? String } == ["run.started", "stage.finished", "run.finished"])
        // And the silent webhook never got as far as the last event
        #expect(!silent.messages().contains { $0["event"] as? String == "run.finished" })
    }
}
