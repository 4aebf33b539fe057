import Foundation
import SluiceTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runbooks/mail-relay-fix.yaml against three nginx relay front ends and their queue folders. The
/// incident: a mail relay's queue filled the disk and exhausted the database's connections.
@Suite("Integration: mail-relay-fix (nginx, queue guards)", .ownThread)
struct MailRelayFixTests {
    static let relays = ["relay-01", "relay-02", "relay-03"]
    static let relayConf = "conf/locations/mail-relay.conf"
    /// 11 MiB: above the runbook's park_above_kib of 10240.
    static let bigMessage = Data(repeating: UInt8(ascii: "x"), count: 11 * 1024 * 1024)

    /// The lab's timings: guards every 1s instead of 10s, and a bake of `bake` instead of 20s.
    static func prepare(_ lab: Lab, bake: String) throws {
        try lab.edit("mail-relay-fix.yaml", replacing: "      bake: 20s", with: "      bake: \(bake)")
        try lab.edit("mail-relay-fix.yaml", replacing: "    every: 10s", with: "    every: 1s", count: 2)
    }

    /// Puts three small messages and an oversized one into relay-01's queue.
    static func fillQueue(_ lab: Lab) throws {
        let queue = lab.labRoot.appendingPathComponent("spool/relay-01/queue")
        for index in 1...3 {
            try Data("Subject: message \(index)\n\nhello\n".utf8).write(to: queue.appendingPathComponent("m\(index).eml"))
        }
        try FileManager.default.createDirectory(at: queue.appendingPathComponent("deferred"), withIntermediateDirectories: true)
        try bigMessage.write(to: queue.appendingPathComponent("deferred/big.eml"))
    }

    /// 12,001 messages about to arrive at relay-03 (the guard's limit for all queues together is
    /// 12,000), made beforehand beside the spool; ``flood(_:)`` moves them in at once.
    static func prepareFlood(_ lab: Lab) throws {
        let folder = lab.labRoot.appendingPathComponent("flood")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for index in 0..<12_001 {
            FileManager.default.createFile(atPath: folder.appendingPathComponent("f\(index)").path, contents: Data("x\n".utf8))
        }
    }

    /// Whether the canary has passed its last health step, so that its stage now bakes.
    static func canaryDone(_ lab: Lab) -> Bool {
        lab.hasEvent("step.finished", target: "relay-01", step: "relay queue below its limit", status: "succeeded")
    }

    /// Moves the prepared messages into relay-03's queue in one rename, so that the next guard
    /// check sees all of them.
    static func flood(_ lab: Lab) -> Bool {
        rename(
            lab.labRoot.appendingPathComponent("flood").path,
            lab.labRoot.appendingPathComponent("spool/relay-03/queue/incoming").path) == 0
    }

    @Test func parksOversizedMailCapsTheSizeRestartsAndVerifiesEveryRelay() throws {
        try Lab.run(targets: Self.relays) { lab in
            // Given relay-01's queue holds three messages and one oversized message
            try Self.prepare(lab, bake: "3s")
            try Self.fillQueue(lab)
            let pids = Dictionary(uniqueKeysWithValues: Self.relays.map { ($0, lab.masterPID($0)) })

            // When the fix is applied
            let result = try lab.sluice(["apply", "mail-relay-fix.yaml", "--yes"])

            // Then it succeeds, the guards never tripped, and the oversized message is parked
            // under the run, the others still queued
            #expect(result.status == 0, "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            #expect(try lab.events(of: run).index("guard.failed") == nil)
            let spool = lab.labRoot.appendingPathComponent("spool/relay-01")
            #expect(FileManager.default.contents(atPath: spool.appendingPathComponent("parked/\(run)/deferred/big.eml").path) == Self.bigMessage)
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("queue").path).sorted() == ["deferred", "m1.eml", "m2.eml", "m3.eml"])
            // And every relay was restarted with the size cap, answers, and takes a test message
            for relay in Self.relays {
                #expect(lab.masterPID(relay) != nil && lab.masterPID(relay) != pids[relay]!, "\(relay) was not restarted")
                #expect(String(decoding: lab.file(relay, Self.relayConf) ?? Data(), as: UTF8.self).contains("client_max_body_size 10m;"))
                #expect(try lab.http(relay, "/relay/limits")?.body == "max_message_size=10m queue_max=5000\n")
                #expect(try lab.http(relay, "/submit", post: "Subject: hi\n\nhello\n")?.status == 202)
            }
        }
    }

    @Test func aQueueFloodingDuringTheCanaryBakeTripsTheGuardAndTheCanaryIsRolledBack() throws {
        try Lab.run(targets: Self.relays) { lab in
            // Given relay-01 (the canary) holds an oversized message, and every relay's state is known
            try Self.prepare(lab, bake: "10s")
            try Self.fillQueue(lab)
            try Self.prepareFlood(lab)
            let before = try lab.snapshot()
            let spoolBefore = try lab.snapshot("spool")
            let pids = Dictionary(uniqueKeysWithValues: Self.relays.map { ($0, lab.masterPID($0)) })

            // When the fix is applied, and mail floods relay-03 once the canary is done and baking
            let flooded = LockedBox(false)
            let result = try lab.sluice(["apply", "mail-relay-fix.yaml", "--yes"]) {
                guard Self.canaryDone(lab) else { return false }
                flooded.value = Self.flood(lab)
                return true
            }

            // Then the queue guard trips during the canary's bake, the rollout stops there and,
            // per the runbook's on_failure, rolls back
            #expect(flooded.value)
            #expect(result.status == 1, "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            let events = try lab.events(of: run)
            let tripped = try #require(events.index("guard.failed", step: "mail queues below their limit"), "\(events)")
            #expect(events[tripped].stage == "canary")
            #expect(events[tripped].detail.contains("12004 messages queued, above the limit of 12000"), "\(events[tripped].detail)")
            let lastCanaryStep = try #require(events.index("step.finished", target: "relay-01", step: "relay queue below its limit"))
            #expect(lastCanaryStep < tripped)
            // The canary stage ended there, as failed, before the rollback
            let canaryEnded = try #require(events.index("stage.finished"), "\(events)")
            #expect(events[canaryEnded].status == "failed" && tripped < canaryEnded, "\(events)")
            let stopped = try #require(events.index("rollback.started"))
            #expect(events[stopped].detail.contains("a guard failed during stage canary"))
            #expect(result.stdout.contains("Run \(run) rolled_back"))
            // And the canary is back as it was: its endpoint configuration byte for byte, the
            // oversized message in its place, nginx running and taking mail
            #expect(try lab.snapshot() == before, "relay files differ after the rollback")
            var spoolAfter = try lab.snapshot("spool")
            spoolAfter = spoolAfter.filter { !$0.key.hasPrefix("relay-03/queue/incoming") }
            #expect(spoolAfter == spoolBefore, "the spool differs after the rollback")
            #expect(try lab.http("relay-01", "/relay/limits")?.status == 404)
            #expect(try lab.http("relay-01", "/submit", post: "Subject: hi\n\nhello\n")?.status == 202)
            // And the other relays were never touched
            for relay in Self.relays.dropFirst() {
                #expect(lab.masterPID(relay) == pids[relay]!, "\(relay) was restarted")
                #expect(!events.touched(relay), "\(relay) was touched")
            }
        }
    }

    @Test func withOnFailureHaltTheTrippedGuardStopsTheRolloutAndKeepsTheCanaryAsItIs() throws {
        try Lab.run(targets: Self.relays) { lab in
            // Given the same runbook set to halt instead of rolling back
            try Self.prepare(lab, bake: "10s")
            try lab.edit("mail-relay-fix.yaml", replacing: "  on_failure: rollback", with: "  on_failure: halt")
            try Self.fillQueue(lab)
            try Self.prepareFlood(lab)
            let confs = Dictionary(uniqueKeysWithValues: Self.relays.map { ($0, lab.file($0, Self.relayConf)) })

            // When the queues flood during the canary's bake
            let result = try lab.sluice(["apply", "mail-relay-fix.yaml", "--yes"]) {
                Self.canaryDone(lab) && Self.flood(lab)
            }

            // Then the run halts: the canary keeps the fix, nothing else started, the targets stay locked
            #expect(result.status == 1, "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            #expect(result.stdout.contains("Run \(run) halted"))
            let events = try lab.events(of: run)
            #expect(events.index("guard.failed", step: "mail queues below their limit") != nil, "\(events)")
            #expect(events.index("rollback.started") == nil && events.index("rollback.step.finished") == nil, "\(events)")
            #expect(String(decoding: lab.file("relay-01", Self.relayConf) ?? Data(), as: UTF8.self).contains("client_max_body_size 10m;"))
            #expect(FileManager.default.fileExists(atPath: lab.labRoot.appendingPathComponent("spool/relay-01/parked/\(run)/deferred/big.eml").path))
            for relay in Self.relays.dropFirst() {
                #expect(lab.file(relay, Self.relayConf) == confs[relay]!, "\(relay)")
                #expect(!events.touched(relay), "\(relay) was touched")
            }
            let again = try lab.sluice(["apply", "mail-relay-fix.yaml", "--yes"])
            #expect(again.status == 4, "\(again.output)")
            #expect(again.stderr.contains("held by \(run)"))
        }
    }
}
