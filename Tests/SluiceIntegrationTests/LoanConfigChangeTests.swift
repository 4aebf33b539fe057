import Foundation
import SluiceTesting
import Testing

/// Runbooks/loan-config-change.yaml against four nginx front ends and redis. The incident: a
/// mistaken configuration took the loan service down, it was rolled back by hand, batch jobs were
/// held during recovery, and the cache was refreshed a day late.
@Suite("Integration: loan-config-change (nginx, redis)", .ownThread)
struct LoanConfigChangeTests {
    static let targets = ["ap01-a", "ap01-b", "ap02-a", "ap02-b"]
    static let policyFile = "conf/locations/loan-policy.conf"

    /// The lab's timings (bake 2s, not 20s).
    static func prepare(_ lab: Lab) throws {
        try lab.edit("loan-config-change.yaml", replacing: "      bake: 20s", with: "      bake: 2s")
    }

    /// The approval the runbook requires, of its content as it now is, by someone other than the
    /// one applying (without it apply refuses: the success test checks that first).
    static func approve(_ lab: Lab) throws {
        let approved = try lab.sluice(["approve", "loan-config-change.yaml", "--by", "reviewer", "--comment", "integration test"])
        #expect(approved.status == 0, "\(approved.output)")
    }

    @Test func rollsOutTheNewPolicyWithTheBatchQueueHeldAndEveryCacheRefreshed() throws {
        try Lab.run(targets: Self.targets, redis: true) { lab in
            // Given the lab's old policy, answers cached under it in redis, and the approval still required
            let refused = try lab.sluice(["apply", "loan-config-change.yaml", "--yes"])
            #expect(refused.status == 4, "\(refused.output)")
            #expect(refused.stderr.contains("approval is required"))
            try Self.prepare(lab)
            #expect(try lab.redis("GET", "loan-policy:ap02-b:rates") == "2026.10-r1")

            // When it is approved and applied, looking at the batch queue while it runs
            try Self.approve(lab)
            let heldBy = LockedBox<String?>(nil)
            let result = try lab.sluice(["apply", "loan-config-change.yaml", "--yes"]) {
                if let holder = try? lab.redis("GET", "batch:loan-batch:paused"), !holder.isEmpty { heldBy.value = holder }
                return false
            }

            // Then it succeeds, and every front end serves the new policy and is healthy
            #expect(result.status == 0, "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            for target in Self.targets {
                let file = String(decoding: lab.file(target, Self.policyFile) ?? Data(), as: UTF8.self)
                #expect(file.contains("return 200 \"loan-policy 2026.11-r2 on \(target)\\n\";"), "\(target): \(file)")
                #expect(try lab.http(target, "/loan-policy/version")?.body == "loan-policy 2026.11-r2 on \(target)\n")
                #expect(try lab.http(target, "/health")?.status == 200)
                // And its cache was dropped by this run, once
                #expect(try lab.redis("EXISTS", "loan-policy:\(target):rates", "loan-policy:\(target):limits") == "0")
                #expect(try lab.redis("GET", "sluice:cache-generation:loan-policy:\(target)") == "1")
                #expect(try lab.redis("GET", "sluice:cache-refreshed-by:loan-policy:\(target)").hasPrefix("\(run) apply "))
            }
            // And the batch queue was held by this run while targets changed, and released at the end
            #expect(heldBy.value == run)
            #expect(try lab.redis("EXISTS", "batch:loan-batch:paused") == "0")
            // And the redis password reached neither the output nor the audit store
            let store = try lab.storeText()
            for secret in lab.secrets {
                #expect(!result.output.contains(secret))
                #expect(!store.contains(secret))
            }
            #expect(try lab.sluice(["audit", "verify"]).status == 0)
        }
    }

    @Test func aConfigurationThatPassesNginxTestButBreaksTheServiceIsUndoneAndTheCacheRefreshedBeforeRecovery() throws {
        try Lab.run(targets: Self.targets, redis: true) { lab in
            // Given a new policy file with a mistake nginx -t cannot see: the version endpoint is
            // sent to a policy service that is not running
            try Self.prepare(lab)
            let nothingListening = try Self.freePort()
            try lab.edit(
                "files/loan-policy.conf",
                replacing: #"    return 200 "loan-policy {{ vars.policy_version }} on {{ target.name }}\n";"#,
                with: "    proxy_pass http://127.0.0.1:\(nothingListening)/policy-version;")
            let before = Dictionary(uniqueKeysWithValues: Self.targets.map { ($0, lab.file($0, Self.policyFile)) })
            let pids = Dictionary(uniqueKeysWithValues: Self.targets.map { ($0, lab.masterPID($0)) })

            // When it is approved (the mistake is not visible to a reviewer either) and applied
            try Self.approve(lab)
            let result = try lab.sluice(["apply", "loan-config-change.yaml", "--yes"])

            // Then the canary fails its health gate and the run is rolled back
            #expect(result.status == 1, "\(result.output)")
            #expect(result.stdout.contains("rolled_back; failed: ap01-a"))
            let run = try Lab.runID(in: result.stdout)
            let events = try lab.events(of: run)
            #expect(events.index("step.finished", target: "ap01-a", step: "write loan-policy config", status: "succeeded") != nil, "nginx -t accepted the mistake")
            #expect(events.index("step.finished", target: "ap01-a", step: "serving the new policy", status: "failed") != nil)
            // And the old file is back byte for byte, and nginx reloaded it: the old policy is served again
            #expect(lab.file("ap01-a", Self.policyFile) == before["ap01-a"]!)
            #expect(try lab.http("ap01-a", "/loan-policy/version")?.body == "loan-policy 2026.10-r1\n")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: lab.prefix("ap01-a").appendingPathComponent("conf/locations").path)
            #expect(leftovers == ["loan-policy.conf"])
            // And recovery refreshed the cache after the restore and before declaring the target
            // healthy; only then was the batch queue released
            let restored = try #require(events.index("rollback.step.finished", target: "ap01-a", step: "write loan-policy config", status: "succeeded"), "\(events)")
            let refreshed = try #require(events.index("recovery.step.finished", target: "ap01-a", step: "refresh loan-policy cache", status: "succeeded"), "\(events)")
            let healthy = try #require(events.index("recovery.step.finished", target: "ap01-a", step: "healthy after recovery", status: "succeeded"), "\(events)")
            let released = try #require(events.index("hold.resumed", status: "succeeded"), "\(events)")
            #expect(restored < refreshed && refreshed < healthy && healthy < released, "\(events)")
            #expect(try lab.redis("EXISTS", "loan-policy:ap01-a:rates", "loan-policy:ap01-a:limits") == "0")
            #expect(try lab.redis("GET", "sluice:cache-refreshed-by:loan-policy:ap01-a").hasPrefix("\(run) recovery "))
            #expect(try lab.redis("EXISTS", "batch:loan-batch:paused") == "0")
            // And the other front ends were never touched: same file, same process, same cache
            for target in Self.targets.dropFirst() {
                #expect(lab.file(target, Self.policyFile) == before[target]!, "\(target)")
                #expect(lab.masterPID(target) == pids[target]!, "\(target)")
                #expect(try lab.http(target, "/loan-policy/version")?.body == "loan-policy 2026.10-r1\n")
                #expect(try lab.redis("GET", "loan-policy:\(target):rates") == "2026.10-r1")
                #expect(!events.touched(target), "\(target) was touched")
            }
            #expect(try lab.sluice(["audit", "verify"]).status == 0)
        }
    }

    /// A port on 127.0.0.1 where nothing listens.
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 24_000...32_000)
            if Lab.isFree(port) { return port }
        }
        throw LabError("found no free port")
    }
}
