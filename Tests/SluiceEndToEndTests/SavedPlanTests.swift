import Foundation
import SluiceTesting
import Testing

@Suite("apply --plan refuses a stale plan, naming what changed", .ownThread)
struct SavedPlanTests {
    @Test(arguments: [
        ("runbook.yaml", "runbook runbook.yaml changed"),
        ("scripts/deploy.sh", "script scripts/deploy.sh changed"),
        ("files/app.conf", "source files/app.conf changed"),
        ("targets.yaml", "inventory targets.yaml changed"),
    ])
    func aChangeAfterThePlanIsRefusedNamingTheFile(_ file: String, _ expected: String) throws {
        // Given a saved plan
        let world = try GatesWorld()
        let plan = try world.run(["plan", "runbook.yaml", "--out", "plan.json"])
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        // When one of the files it covers changes
        let path = world.folder.url.appendingPathComponent(file)
        let handle = try FileHandle(forWritingTo: path)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("# changed after the plan\n".utf8))
        try handle.close()
        // Then applying that plan is refused, naming the file, and nothing runs
        let result = try world.apply(["--plan", "plan.json"])
        #expect(result.status == 4, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("refused: the plan plan.json is stale: \(expected). Plan again and review it."))
        #expect(world.read("log") == nil)
    }

    @Test func aScriptNoLongerUsedIsNamedToo() throws {
        let world = try GatesWorld()
        #expect(try world.run(["plan", "runbook.yaml", "--out", "plan.json"]).status == 0)
        var text = try #require(world.read("runbook.yaml"))
        text = text.replacingOccurrences(of: "run: scripts/deploy.sh {{ target.name }}", with: "run: echo deploy {{ target.name }} >> log")
        try world.folder.write("runbook.yaml", text)
        let result = try world.apply(["--plan", "plan.json"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("is stale: runbook runbook.yaml changed; script scripts/deploy.sh is no longer used."))
    }

    @Test func anUnchangedPlanIsApplied() throws {
        let world = try GatesWorld()
        #expect(try world.run(["plan", "runbook.yaml", "--out", "plan.json"]).status == 0)
        let result = try world.apply(["--plan", "plan.json"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(world.read("log") == "deploy web1\ndeploy web2\n")
    }
}
