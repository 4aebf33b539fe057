import Foundation
import SluiceTesting
import Testing

/// Runbooks/certificate-install.yaml against six nginx balancers in three data centres. The
/// incident: a load balancer accepted more TLS certificates than its configuration allowed, and
/// failed.
@Suite("Integration: certificate-install (nginx with TLS, openssl)", .ownThread)
struct CertificateInstallTests {
    static let balancers = ["lb-ams-1", "lb-ams-2", "lb-fra-1", "lb-fra-2", "lb-lon-1", "lb-lon-2"]
    static let names = ["loans.example.test", "portal.example.test"]

    /// The lab's timings: bakes of 2s instead of 20s (after ams and after fra).
    static func prepare(_ lab: Lab) throws {
        try lab.edit("certificate-install.yaml", replacing: "      bake: 20s", with: "      bake: 2s", count: 2)
    }

    /// The balancer's TLS port in this lab (inventory: 8441 for lb-ams-1 ... 8446 for lb-lon-2).
    static func tlsPort(_ lab: Lab, _ balancer: String) -> Int {
        Lab.documentedTLSPorts.lowerBound + balancers.firstIndex(of: balancer)! + lab.offset
    }

    /// Whether the balancer serves `name`'s new certificate, asked with openssl by the runbook's
    /// own checker, independently of sluice.
    static func serves(_ lab: Lab, _ balancer: String, _ name: String) throws -> Bool {
        try Command.run(
            "/bin/sh", ["scripts/check-served-cert.sh", "127.0.0.1", "\(tlsPort(lab, balancer))", name, "files/certs/\(name).crt"],
            in: lab.runbooks, environment: lab.environment, timeLimit: 30
        ).status == 0
    }

    @Test func installsBothCertificatesOneDataCentreAtATime() throws {
        try Lab.run(targets: Self.balancers) { lab in
            // Given six balancers serving no TLS
            try Self.prepare(lab)

            // When the change is applied
            let result = try lab.sluice(["apply", "certificate-install.yaml", "--yes"])

            // Then it succeeds, one data centre after another
            #expect(result.status == 0, "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            let stages = try lab.events(of: run).filter { $0.kind == "stage.started" }.compactMap(\.stage)
            #expect(stages == ["ams", "fra", "lon"])
            // And every balancer holds the pair byte for byte (keys private) and serves both names
            for balancer in Self.balancers {
                for name in Self.names {
                    for (ext, mode) in [("crt", 0o644), ("key", 0o600)] {
                        let installed = lab.prefix(balancer).appendingPathComponent("conf/certs/\(name).\(ext)").path
                        let source = lab.runbooks.appendingPathComponent("files/certs/\(name).\(ext)").path
                        #expect(FileManager.default.contents(atPath: installed) == FileManager.default.contents(atPath: source), "\(balancer) \(name).\(ext)")
                        #expect((try? FileManager.default.attributesOfItem(atPath: installed)[.posixPermissions] as? Int) == mode, "\(balancer) \(name).\(ext)")
                    }
                    #expect(try Self.serves(lab, balancer, name), "\(balancer) does not serve \(name)")
                }
                #expect(try lab.http(balancer, "/health")?.status == 200)
            }
        }
    }

    @Test func aBalancerOverItsCertificateLimitRefusesTheWholeChangeBeforeAnythingChanges() throws {
        try Lab.run(targets: Self.balancers) { lab in
            // Given lb-fra-2, in the second data centre, already has 19 certificates: with the two
            // new ones it would hold 21, over its limit of 20
            try Self.prepare(lab)
            let certs = lab.prefix("lb-fra-2").appendingPathComponent("conf/certs")
            let pem = try Data(contentsOf: lab.runbooks.appendingPathComponent("files/certs/portal.example.test.crt"))
            for index in 1...19 {
                try pem.write(to: certs.appendingPathComponent("customer-\(index).pem"))
            }
            let before = try lab.snapshot()
            let pids = Dictionary(uniqueKeysWithValues: Self.balancers.map { ($0, lab.masterPID($0)) })

            // When the change is planned, then applied
            let plan = try lab.sluice(["plan", "certificate-install.yaml"])
            let result = try lab.sluice(["apply", "certificate-install.yaml", "--yes"])

            // Then the dry run already names the balancer and the numbers
            #expect(plan.status == 1, "\(plan.output)")
            #expect(plan.stdout.contains("19 certificates configured + 2 new = 21, over the limit of 20"), "\(plan.output)")
            // And apply refuses (exit 4) before touching anything, not even the ams balancers
            #expect(result.status == 4, "\(result.output)")
            #expect(result.stdout.contains("Preflight failed"))
            let events = try lab.events(of: Lab.runID(in: result.stdout))
            #expect(events.index("preflight.finished", target: "lb-fra-2", step: "certificates within the balancer's limit", status: "failed") != nil, "\(events)")
            #expect(events.index("step.started") == nil, "\(events)")
            #expect(try lab.snapshot() == before, "files changed")
            for balancer in Self.balancers {
                #expect(lab.masterPID(balancer) == pids[balancer]!, "\(balancer) was restarted")
                #expect(Lab.isFree(Self.tlsPort(lab, balancer)), "\(balancer) listens for TLS")
            }
        }
    }

    @Test func crossingAStageFailureThresholdStopsTheRolloutAndRollsBackEveryDataCentreDone() throws {
        try Lab.run(targets: Self.balancers) { lab in
            // Given the fra stage tolerates one failed balancer, and both fra balancers have
            // drifted: their nginx.conf no longer includes sites/, so the new TLS listener is
            // written and reloaded but never served
            try Self.prepare(lab)
            try lab.edit("certificate-install.yaml", replacing: "      select: { dc: fra }\n      parallel: 1\n", with: "      select: { dc: fra }\n      parallel: 1\n      max_failures: 1\n")
            for balancer in ["lb-fra-1", "lb-fra-2"] {
                try lab.edit(lab.prefix(balancer).appendingPathComponent("conf/nginx.conf").path, replacing: "    include sites/*.conf;\n", with: "    # sites/ not included on this balancer\n")
            }
            let before = try lab.snapshot()
            let pids = Dictionary(uniqueKeysWithValues: Self.balancers.map { ($0, lab.masterPID($0)) })

            // When the change is applied
            let result = try lab.sluice(["apply", "certificate-install.yaml", "--yes"])

            // Then both fra balancers fail their served-certificate check; the first failure is
            // tolerated (that balancer rolled back at once, the rollout goes on), the second is
            // one too many
            #expect(result.status == 1, "\(result.output)")
            #expect(result.stdout.contains("rolled_back; failed: lb-fra-1, lb-fra-2"))
            let events = try lab.events(of: Lab.runID(in: result.stdout))
            let firstUndone = try #require(events.index("recovery.step.finished", target: "lb-fra-1", status: "succeeded"), "\(events)")
            let secondStarted = try #require(events.index("step.started", target: "lb-fra-2"), "\(events)")
            #expect(firstUndone < secondStarted, "\(events)")
            let stopped = try #require(events.index("rollback.started"), "\(events)")
            #expect(events[stopped].detail.contains("stage fra had more failed targets than it tolerates"))
            // And the rollout stopped: lon was never touched
            #expect(!events.contains { $0.stage == "lon" } && !events.touched("lb-lon-1") && !events.touched("lb-lon-2"), "\(events)")
            // And the whole run was undone: the ams balancers too, last done first
            let amsTwo = try #require(events.index("rollback.step.finished", target: "lb-ams-2", step: "copy certificates and keys", status: "succeeded"), "\(events)")
            let amsOne = try #require(events.index("rollback.step.finished", target: "lb-ams-1", step: "copy certificates and keys", status: "succeeded"), "\(events)")
            #expect(stopped < amsTwo && amsTwo < amsOne)
            // And every balancer is as before, byte for byte, running its old process, serving no TLS
            #expect(try lab.snapshot() == before, "files differ after the rollback")
            for balancer in Self.balancers {
                #expect(lab.masterPID(balancer) == pids[balancer]!, "\(balancer)")
                #expect(try lab.http(balancer, "/health")?.status == 200)
                #expect(Lab.isFree(Self.tlsPort(lab, balancer)), "\(balancer) still listens for TLS")
            }
            #expect(try lab.sluice(["audit", "verify"]).status == 0)
        }
    }
}
