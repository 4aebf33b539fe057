import Testing
@testable import SluiceCore

@Suite("The approval gate")
struct ApprovalGateTests {
    static let approved = ContentDigest(files: [
        ContentDigest.File(role: "runbook", path: "runbook.yaml", sha256: "aaa"),
        ContentDigest.File(role: "script", path: "scripts/deploy.sh", sha256: "bbb"),
        ContentDigest.File(role: "source", path: "files/app.conf", sha256: "ccc"),
        ContentDigest.File(role: "inventory", path: "targets.yaml", sha256: "ddd"),
    ])

    static func prior(_ digest: ContentDigest? = approved) -> PriorApproval {
        PriorApproval(approver: "bob", approvedAt: "2026-11-20T09:00:00.000Z", contentHash: approved.hash, digest: digest)
    }

    static func changing(_ role: String, to sha: String) -> ContentDigest {
        ContentDigest(files: approved.files.map { $0.role == role ? ContentDigest.File(role: $0.role, path: $0.path, sha256: sha) : $0 })
    }

    @Test func notRequiredIsAlwaysAllowed() {
        let verdict = ApprovalGate.evaluate(Approval(required: false), actor: "alice", content: Self.approved, approversOfContent: [], latest: nil)
        #expect(verdict == .notRequired)
        #expect(verdict.refusal(runbookID: "x", runbookFile: "r.yaml") == nil)
    }

    @Test func anApprovalOfThisContentBySomeoneElseAllows() {
        let verdict = ApprovalGate.evaluate(Approval(required: true), actor: "alice", content: Self.approved, approversOfContent: ["alice", "bob"], latest: Self.prior())
        #expect(verdict == .approved(by: ["bob"]))
        #expect(verdict.allowsApply)
    }

    @Test(arguments: ["alice", "Alice", " alice "])
    func selfApprovalIsRefusedNamingThePerson(_ approver: String) throws {
        let verdict = ApprovalGate.evaluate(Approval(required: true, distinctApprover: true), actor: "alice", content: Self.approved, approversOfContent: [approver], latest: Self.prior())
        #expect(verdict == .selfApproved(by: "alice"))
        let message = try #require(verdict.refusal(runbookID: "x", runbookFile: "r.yaml"))
        #expect(message.contains("the only approval of this content is by alice"))
    }

    @Test func selfApprovalIsAllowedWhenTheRunbookSaysSo() {
        let verdict = ApprovalGate.evaluate(Approval(required: true, distinctApprover: false), actor: "alice", content: Self.approved, approversOfContent: ["alice"], latest: nil)
        #expect(verdict == .approved(by: ["alice"]))
    }

    @Test func neverApprovedSaysHowToApprove() throws {
        let verdict = ApprovalGate.evaluate(Approval(required: true), actor: "alice", content: Self.approved, approversOfContent: [], latest: nil)
        #expect(verdict == .neverApproved)
        let message = try #require(verdict.refusal(runbookID: "alma", runbookFile: "r.yaml"))
        #expect(message == "approval is required and runbook alma has never been approved. Have someone review `sluice plan r.yaml` and run `sluice approve r.yaml --by NAME`.")
    }

    @Test(arguments: [
        ("runbook", "runbook runbook.yaml changed"), ("script", "script scripts/deploy.sh changed"),
        ("source", "source files/app.conf changed"), ("inventory", "inventory targets.yaml changed"),
    ])
    func aChangeSinceTheLastApprovalNamesTheFile(_ role: String, _ expected: String) throws {
        let verdict = ApprovalGate.evaluate(Approval(required: true), actor: "alice", content: Self.changing(role, to: "eee"), approversOfContent: [], latest: Self.prior())
        #expect(verdict == .changed(since: Self.prior(), changes: [expected]))
        let message = try #require(verdict.refusal(runbookID: "x", runbookFile: "r.yaml"))
        #expect(message.contains("since the most recent approval (by bob at 2026-11-20T09:00:00.000Z): \(expected)."))
    }

    @Test func anApprovalWithoutItsFilesStillRefusesSayingSo() throws {
        let verdict = ApprovalGate.evaluate(Approval(required: true), actor: "alice", content: Self.changing("script", to: "eee"), approversOfContent: [], latest: Self.prior(nil))
        #expect(verdict == .changed(since: Self.prior(nil), changes: []))
        let message = try #require(verdict.refusal(runbookID: "x", runbookFile: "r.yaml"))
        #expect(message.contains("differs from what was approved; that approval does not list its files"))
    }
}
