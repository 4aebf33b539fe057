import Foundation
import SluiceTesting
import Testing

/// Runbooks/maintenance-restart.yaml against four nginx login instances. The incident: servers
/// came back from planned maintenance with a broken login that nobody noticed until users could
/// not log in.
@Suite("Integration: maintenance-restart (nginx, a real login)", .ownThread)
struct MaintenanceRestartTests {
    static let targets = ["auth-01", "auth-02", "auth-03", "auth-04"]
    /// The window is weekend nights in Amsterdam, with a year-end freeze: the tests run at any
    /// time, as an operator on call would, with an audited override.
    static let override = ["--override-window", "--reason", "integration test"]

    /// The lab's timings: bakes of 2s instead of 30s and 15s.
    static func prepare(_ lab: Lab) throws {
        try lab.edit("maintenance-restart.yaml", replacing: "      bake: 30s", with: "      bake: 2s")
        try lab.edit("maintenance-restart.yaml", replacing: "      bake: 15s", with: "      bake: 2s")
    }

    @Test func restartsEveryInstanceAndProvesUsersCanLogIn() throws {
        try Lab.run(targets: Self.targets) { lab in
            // Given four running login instances
            try Self.prepare(lab)
            let pids = Dictionary(uniqueKeysWithValues: Self.targets.map { ($0, lab.masterPID($0)) })

            // When the maintenance is applied
            let result = try lab.sluice(["apply", "maintenance-restart.yaml", "--yes"] + Self.override)

            // Then it succeeds: every instance was restarted (a new master), its logs archived while
            // stopped, and it answers a real login
            #expect(result.status == 0, "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            for target in Self.targets {
                let pid = lab.masterPID(target)
                #expect(pid != nil && pid != pids[target]!, "\(target) was not restarted")
                let archive = lab.prefix(target).appendingPathComponent("logs/archive/\(run)").path
                #expect((try? FileManager.default.contentsOfDirectory(atPath: archive))?.contains("access.log.gz") == true, "\(target)")
                let login = try lab.http(target, "/login", post: "username=someone&password=x")
                #expect(login?.status == 200 && login?.body.contains("\"token\"") == true, "\(target): \(String(describing: login))")
            }
            // And the probe account's password was never shown or stored
            let store = try lab.storeText()
            #expect(!result.output.contains(lab.probePassword))
            #expect(!store.contains(lab.probePassword))
        }
    }

    @Test func aLoginBrokenByTheRestartIsCaughtAndTheRolloutStopsAtThatInstance() throws {
        try Lab.run(targets: Self.targets) { lab in
            // Given auth-01 has a configuration change on disk that its running nginx has not
            // loaded and that breaks /login (it passes nginx -t; only a restart reveals it).
            // Before anything changes, login still works there, so preflight passes.
            try Self.prepare(lab)
            // (A failing login gate: 10 attempts 1s apart instead of 3s, so it is declared in
            // about 10s instead of 30s, on the way and again in recovery.)
            try lab.edit("maintenance-restart.yaml", replacing: "      attempts: 10\n      interval: 3s", with: "      attempts: 10\n      interval: 1s")
            let conf = lab.prefix("auth-01").appendingPathComponent("conf/nginx.conf").path
            try lab.edit(conf, replacing: #"return 200 '{"token":"lab-$request_id","instance":"auth-01"}\n';"#, with: #"return 503 "login backend unavailable\n";"#)
            let pids = Dictionary(uniqueKeysWithValues: Self.targets.map { ($0, lab.masterPID($0)) })

            // When the maintenance is applied
            let result = try lab.sluice(["apply", "maintenance-restart.yaml", "--yes"] + Self.override)

            // Then the instance came back answering its port, and the real login gate caught it
            let run = try Lab.runID(in: result.stdout)
            let events = try lab.events(of: run)
            #expect(events.index("step.finished", target: "auth-01", step: "healthy after restart", status: "succeeded") != nil, "\(events)")
            #expect(events.index("step.finished", target: "auth-01", step: "users can log in", status: "failed") != nil, "\(events)")
            // And that instance was rolled back (brought up again) and recovery checked it again;
            // a restart cannot undo a broken configuration, so the run ends asking an operator to act
            #expect(events.index("rollback.step.finished", target: "auth-01", step: "start login service", status: "succeeded") != nil, "\(events)")
            #expect(events.index("rollback.step.finished", target: "auth-01", step: "stop login service", status: "succeeded") != nil, "\(events)")
            #expect(events.index("recovery.step.finished", target: "auth-01", step: "users can log in", status: "failed") != nil, "\(events)")
            #expect(result.status == 3, "\(result.output)")
            #expect(result.stdout.contains("An operator must act"))
            #expect(result.stdout.contains("auth-01 / users can log in: recovery unhealthy"))
            #expect(result.stdout.contains("answered HTTP 503"))
            #expect(lab.masterPID("auth-01") != nil)
            #expect(try lab.http("auth-01", "/health")?.status == 200)
            // And no other instance was restarted: the rollout stopped before the next stage
            #expect(events.index("stage.started") == events.lastIndex { $0.kind == "stage.started" }, "a second stage started: \(events)")
            for target in Self.targets.dropFirst() {
                #expect(lab.masterPID(target) == pids[target]!, "\(target) was restarted")
                #expect(!events.touched(target), "\(target) was touched")
            }
            #expect(!result.output.contains(lab.probePassword))
        }
    }
}
