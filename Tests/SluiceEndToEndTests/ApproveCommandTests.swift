import Foundation
import SluiceTesting
import Testing

@Suite("sluice approve and apply's approval gate, run as a program", .ownThread)
struct ApproveCommandTests {
    static let required = "approval: { required: true }"

    @Test func anApprovalBySomeoneElseLetsTheChangeRun() throws {
        // Given a runbook that needs approval, approved by bob
        let world = try GatesWorld(extra: Self.required)
        let approve = try world.run(["approve", "runbook.yaml", "--by", "bob", "--comment", "reviewed the plan"], user: "bob")
        #expect(approve.status == 0, "\(approve.stdout)\(approve.stderr)")
        #expect(approve.stdout.contains("Approved gates by bob: content "))
        #expect(approve.stdout.contains("  script scripts/deploy.sh  sha256 "))
        #expect(approve.stdout.contains("  source files/app.conf  sha256 "))
        #expect(approve.stdout.contains("  inventory targets.yaml  sha256 "))
        #expect(approve.stdout.contains("apply accepts it while these files stay exactly as they are, when someone other than bob applies."))

        // When alice plans and applies
        let plan = try world.run(["plan", "runbook.yaml"])
        let apply = try world.apply()

        // Then plan shows the approval, apply runs, and the approval is in the audit store
        #expect(plan.stdout.contains("approval  approved for this content by bob"))
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        #expect(world.read("log") == "deploy web1\ndeploy web2\n")
        let recorded = try #require(try world.events().first { $0["kind"] as? String == "approval.recorded" })
        #expect(recorded["actor"] as? String == "bob")
        let detail = GatesWorld.detail(recorded)
        #expect(detail["runbook_id"] as? String == "gates")
        #expect(detail["approver"] as? String == "bob")
        #expect(detail["comment"] as? String == "reviewed the plan")
        #expect((detail["files"] as? [[String: String]])?.compactMap { $0["path"] }.sorted() == ["files/app.conf", "runbook.yaml", "scripts/deploy.sh", "targets.yaml"])
    }

    @Test func withoutAnyApprovalApplyRefusesAndSaysHowToGetOne() throws {
        let world = try GatesWorld(extra: Self.required)
        let result = try world.apply()
        #expect(result.status == 4)
        #expect(result.stderr.contains("refused: approval is required and runbook gates has never been approved. Have someone review `sluice plan runbook.yaml` and run `sluice approve runbook.yaml --by NAME`."))
        #expect(world.read("log") == nil)
    }

    @Test(arguments: [
        ("runbook.yaml", "runbook runbook.yaml changed"),
        ("scripts/deploy.sh", "script scripts/deploy.sh changed"),
        ("files/app.conf", "source files/app.conf changed"),
        ("targets.yaml", "inventory targets.yaml changed"),
    ])
    func aChangeAfterApprovalIsRefusedNamingTheFile(_ file: String, _ expected: String) throws {
        // Given an approved runbook
        let world = try GatesWorld(extra: Self.required)
        #expect(try world.run(["approve", "runbook.yaml", "--by", "bob"], user: "bob").status == 0)
        // When one of the files it covers changes (a comment keeps it valid)
        let path = world.folder.url.appendingPathComponent(file)
        let handle = try FileHandle(forWritingTo: path)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("# changed after the approval\n".utf8))
        try handle.close()
        // Then apply refuses, naming the file and the approval it compared with
        let result = try world.apply()
        #expect(result.status == 4, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("refused: approval is required and the content changed since the most recent approval (by bob at "))
        #expect(result.stderr.contains("): \(expected). Review the change with `sluice plan runbook.yaml`, then have it approved again: `sluice approve runbook.yaml --by NAME`."))
        #expect(world.read("log") == nil)
        // And plan says the same
        let plan = try world.run(["plan", "runbook.yaml"])
        #expect(plan.stdout.contains("changed since the approval by bob at "))
        #expect(plan.stdout.contains(expected))
        // And approving the new content lets it run
        #expect(try world.run(["approve", "runbook.yaml", "--by", "bob"], user: "bob").status == 0)
        #expect(try world.apply().status == 0)
    }

    @Test func selfApprovalIsRefusedNamingThePerson() throws {
        // Given alice approved her own change
        let world = try GatesWorld(extra: Self.required)
        #expect(try world.run(["approve", "runbook.yaml", "--by", "alice"]).status == 0)
        // When alice applies it (under any spelling of her name)
        for user in ["alice", "Alice"] {
            let result = try world.apply(user: user)
            // Then it is refused, naming her
            #expect(result.status == 4)
            #expect(result.stderr.contains("refused: approval is required from someone other than the person applying, and the only approval of this content is by \(user) (approval.distinct_approver is true)."))
        }
        #expect(world.read("log") == nil)
        // But bob may apply what alice approved
        #expect(try world.apply(user: "bob").status == 0)
    }

    @Test func selfApprovalIsAllowedWhenTheRunbookSaysSo() throws {
        let world = try GatesWorld(extra: "approval: { required: true, distinct_approver: false }")
        #expect(try world.run(["approve", "runbook.yaml", "--by", "alice"]).status == 0)
        #expect(try world.apply().status == 0)
    }

    @Test func approvingAnInvalidRunbookExitsTwoAndRecordsNothing() throws {
        let world = try GatesWorld(extra: "approval: { required: yes }")
        let result = try world.run(["approve", "runbook.yaml", "--by", "bob"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("runbook.yaml:8:23: error: `approval.required` must be true or false, not `yes`"))
        #expect(!FileManager.default.fileExists(atPath: world.store))
    }

    @Test func approveNeedsANameForTheApprover() throws {
        let world = try GatesWorld(extra: Self.required)
        #expect(try world.run(["approve", "runbook.yaml"]).status == 64)
        #expect(try world.run(["approve", "runbook.yaml", "--by", " "]).status == 64)
    }
}
