import Foundation
import SluiceTestSupport
import SluiceTesting
import Testing

@Suite("Webhook notifications from apply, to real servers on 127.0.0.1", .ownThread)
struct NotifyTests {
    static func time(_ text: String?) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return text.flatMap(formatter.date)
    }

    @Test func everyListedEventReachesTheWebhookInTheOrderOfTheAuditLog() async throws {
        // Given a webhook listening for five kinds of event
        let receiver = try await WebhookReceiver()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: \(receiver.url)
                events: [run.started, stage.started, step.finished, stage.finished, run.finished]
            """)
        // When carol applies the runbook
        let result = try world.apply(["--as", "carol"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        // Then the webhook received exactly those events of the audit log, in its order
        let listed: Set<String> = ["run.started", "stage.started", "step.finished", "stage.finished", "run.finished"]
        let audited = try world.events().filter { listed.contains($0["kind"] as? String ?? "") }
        let messages = receiver.messages()
        #expect(messages.map { $0["event"] as? String } == audited.map { $0["kind"] as? String })
        #expect(messages.map { $0["seq"] as? Int } == audited.map { $0["seq"] as? Int })
        #expect(messages.map { $0["target"] as? String } == audited.map { $0["target"] as? String })
        #expect(messages.map { $0["step"] as? String } == audited.map { $0["step"] as? String })
        #expect(messages.map { $0["event"] as? String } == [
            "run.started", "stage.started", "step.finished", "step.finished", "stage.finished",
            "stage.started", "step.finished", "step.finished", "stage.finished", "run.finished",
        ])
        // And each carries the run, the runbook, who acts, the stage, the outcome and the time
        let runID = try #require(audited.first?["run_id"] as? String)
        #expect(messages.allSatisfy { $0["run_id"] as? String == runID && $0["runbook"] as? String == "gates" && $0["actor"] as? String == "carol" })
        #expect(messages[2]["stage"] as? String == "canary")
        #expect(messages[2]["outcome"] as? String == "succeeded")
        #expect(messages.last?["outcome"] as? String == "succeeded")
        #expect(messages.allSatisfy { Self.time($0["time"] as? String) != nil })
        #expect(!result.stderr.contains("warning"))
    }

    @Test func rollbackOfAPastRunTellsTheRunbooksWebhooks() async throws {
        // Given a run applied with a webhook listening for a rollback's events
        let receiver = try await WebhookReceiver()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: \(receiver.url)
                events: [rollback.requested, rollback.started, run.finished]
            """)
        let applied = try world.apply()
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let run = try #require(world.runs().first?["id"] as? String)

        // When dana rolls it back
        let rolledBack = try world.run(["rollback", run, "--reason", "bad config"], user: "dana")
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")

        // Then the webhook heard the apply finish, then the rollback, in the audit log's order
        let messages = receiver.messages()
        #expect(messages.map { $0["event"] as? String } == ["run.finished", "rollback.requested", "rollback.started", "run.finished"])
        #expect(messages.map { $0["outcome"] as? String } == ["succeeded", nil, nil, "rolled_back"])
        #expect(messages.dropFirst().allSatisfy { $0["actor"] as? String == "dana" && $0["run_id"] as? String == run })
        #expect(!rolledBack.stderr.contains("warning"))
    }

    @Test func rollbackWithTheRunbookGoneSaysNoOneIsToldAndGoesOn() async throws {
        let receiver = try await WebhookReceiver()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: \(receiver.url)
                events: [run.finished]
            """)
        #expect(try world.apply().status == 0)
        let run = try #require(world.runs().first?["id"] as? String)
        try FileManager.default.removeItem(at: world.folder.url.appendingPathComponent("runbook.yaml"))

        let rolledBack = try world.run(["rollback", run])
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        #expect(rolledBack.stderr.contains("runbook.yaml is gone, so its webhooks, if it had any, are not told of this rollback"), "\(rolledBack.stderr)")
        #expect(receiver.messages().map { $0["event"] as? String } == ["run.finished"])  // the apply's only
        #expect(world.read("out/web1.conf") == nil)  // undone all the same
    }

    @Test func rollbackWithAnotherRunbookAtThePathTellsNoOne() async throws {
        let receiver = try await WebhookReceiver()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: \(receiver.url)
                events: [run.finished]
            """)
        #expect(try world.apply().status == 0)
        let run = try #require(world.runs().first?["id"] as? String)
        // Someone put another runbook, with the same webhook, where this one was.
        try world.folder.write("runbook.yaml", world.read("runbook.yaml")!.replacingOccurrences(of: "id: gates", with: "id: other"))

        let rolledBack = try world.run(["rollback", run])
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        #expect(rolledBack.stderr.contains("runbook.yaml is now runbook `other`, not `gates`, so its webhooks, if it had any, are not told of this rollback"), "\(rolledBack.stderr)")
        #expect(receiver.messages().map { $0["event"] as? String } == ["run.finished"])  // the apply's only
    }

    @Test func aFailedNotificationIsAuditedAtOnceSoARunnerKilledLaterKeepsIt() async throws {
        // Given a webhook on a closed port for run.started, and a deploy that kills the runner
        // as soon as the notification's failure (after its one retry, 1 s later) is in the store,
        // while the run is still going on: it waits for that, not for a guess at how long it takes
        let closed = try ClosedPort()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: http://127.0.0.1:\(closed.port)/hook
                events: [run.started]
            """)
        try world.folder.write("scripts/deploy.sh", """
            #!/bin/sh
            i=0
            until [ "$(sqlite3 "$SLUICE_STORE" "SELECT count(*) FROM events WHERE kind = 'notify.failed'" 2>/dev/null)" = 1 ]; do
                i=$((i + 1)); [ $i -lt 600 ] || { echo "notify.failed never reached the store" >&2; exit 1; }
                sleep 0.1
            done
            p=$PPID  # the runner, or the shell it started this script with
            while [ "$(cat /proc/$p/comm)" != sluice ]; do
                p=$(awk '{ print $4 }' /proc/$p/stat); [ "$p" -gt 1 ] || exit 1
            done
            kill -9 "$p"

            """, executable: true)

        // When the change is applied and its runner is killed
        let result = try world.apply()
        #expect(result.crashed && result.status == SIGKILL, "\(result.stdout)\(result.stderr)")

        // Then the failure to notify is in the audit store all the same
        let failures = try world.events().filter { $0["kind"] as? String == "notify.failed" }
        #expect(failures.map { GatesWorld.detail($0)["event"] as? String } == ["run.started"], "\(failures)")
        #expect(try world.run(["audit", "verify"]).status == 0)
        withExtendedLifetime(closed) {}
    }

    @Test func deadWebhooksNeitherFailNorSlowTheRunBeyondTheBound() async throws {
        // Given one webhook on a closed port and one that accepts connections but never answers
        let closed = try ClosedPort()
        let closedPort = closed.port
        let silent = try LoopbackListener()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: http://127.0.0.1:\(closedPort)/hook
                events: [run.started, run.finished]
              - webhook: http://127.0.0.1:\(silent.port)/hook?token=s3cret
                events: [run.started, run.finished]
            """)

        // When the change is applied
        let result = try world.apply()

        // Then it succeeds
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(world.read("log") == "deploy web1\ndeploy web2\n")
        let events = try world.events()
        let runFinished = try #require(events.first { $0["kind"] as? String == "run.finished" })
        // The run did not wait for the silent webhook: it finished before that webhook's first
        // notification failed (which takes two 5 s timeouts, or the bound after the run)
        let silentFailures = events.indices.filter {
            events[$0]["kind"] as? String == "notify.failed" && GatesWorld.detail(events[$0])["webhook"] as? String == "http://127.0.0.1:\(silent.port)"
        }
        let finishedAt = try #require(events.firstIndex { $0["kind"] as? String == "run.finished" })
        #expect(silentFailures.count == 2)
        #expect(silentFailures.allSatisfy { $0 > finishedAt }, "\(events.map { $0["kind"] as? String ?? "" })")
        // And apply waited for the silent webhook only until its bound (5s, 1s, 5s): its last
        // notification was given up when the bound passed, not answered or timed out
        let lastToSilent = try #require(silentFailures.last.map { GatesWorld.detail(events[$0]) })
        let abandoned = ["no answer by the end of the run and 11s more", "not sent: the run ended and earlier notifications to this webhook were still outstanding after 11s"]
        #expect(lastToSilent["event"] as? String == "run.finished")
        #expect(abandoned.contains { (lastToSilent["reason"] as? String)?.hasPrefix($0) == true }, "\(lastToSilent)")

        // And each undelivered notification is logged and audited, without the URL's path or query
        #expect(result.stderr.contains("warning: notifying http://127.0.0.1:\(closedPort) (runbook.yaml:9:5) of run.started #"))
        #expect(result.stderr.contains("failed: connection refused (tried 2 times); the run goes on"))
        #expect(result.stderr.contains("warning: notifying http://127.0.0.1:\(silent.port) (runbook.yaml:11:5) of run."))
        #expect(!result.stderr.contains("s3cret"))
        let failures = events.filter { $0["kind"] as? String == "notify.failed" }
        #expect(failures.count == 4)
        #expect(failures.allSatisfy { $0["run_id"] as? String == runFinished["run_id"] as? String && $0["actor"] as? String == "alice" })
        let details = failures.map(GatesWorld.detail)
        #expect(Set(details.compactMap { $0["webhook"] as? String }) == ["http://127.0.0.1:\(closedPort)", "http://127.0.0.1:\(silent.port)"])
        #expect(details.allSatisfy { ($0["event"] as? String)?.hasPrefix("run.") == true && $0["reason"] is String })
        #expect(!events.contains { "\($0["detail"] ?? "")".contains("s3cret") })
        // And the audit chain still verifies
        #expect(try world.run(["audit", "verify"]).status == 0)
        withExtendedLifetime(closed) {}
    }
}
