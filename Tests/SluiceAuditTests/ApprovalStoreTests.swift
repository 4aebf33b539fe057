import Foundation
import GRDB
import SluiceCore
import Testing
@testable import SluiceAudit

@Suite("Approvals keep the files they cover")
struct ApprovalStoreTests {
    static let files = [
        ContentDigest.File(role: "runbook", path: "runbook.yaml", sha256: "aaa"),
        ContentDigest.File(role: "script", path: "scripts/deploy.sh", sha256: "bbb"),
    ]

    @Test func anApprovalRecordsItsFilesTheApproverAndWhoRecordedIt() async throws {
        // Given a store
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let digest = ContentDigest(files: Self.files)

        // When carol records bob's approval
        let recorded = try await store.recordApproval(
            ApprovalRecord(runbookID: "alma", contentHash: digest.hash, approver: "bob", comment: "reviewed", approvedAt: "", files: digest.files),
            actor: "carol", redactor: .none)

        // Then the row gives the digest back, and the event names both people and every file
        #expect(recorded.digest == digest)
        #expect(try await store.latestApproval(runbookID: "alma") == recorded)
        let event = try #require(try await store.events().last)
        #expect(event.kind == "approval.recorded")
        #expect(event.actor == "carol")
        let detail = try #require(try JSONSerialization.jsonObject(with: Data(event.detail.utf8)) as? [String: Any])
        #expect(detail["approver"] as? String == "bob")
        #expect((detail["files"] as? [[String: String]])?.map { $0["path"] ?? "" } == ["runbook.yaml", "scripts/deploy.sh"])
        #expect(try await store.verify().isIntact)
    }

    @Test func theLatestApprovalIsTheMostRecentOfAnyContent() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        #expect(try await store.latestApproval(runbookID: "alma") == nil)
        for (hash, approver) in [("one", "bob"), ("two", "dana"), ("one", "erin")] {
            _ = try await store.recordApproval(
                ApprovalRecord(runbookID: "alma", contentHash: hash, approver: approver, comment: nil, approvedAt: ""), redactor: .none)
        }
        _ = try await store.recordApproval(
            ApprovalRecord(runbookID: "other", contentHash: "x", approver: "frank", comment: nil, approvedAt: ""), redactor: .none)
        #expect(try await store.latestApproval(runbookID: "alma")?.approver == "erin")
        // Without --as, the approver is the actor, as before
        #expect(try await store.events().first?.actor == "bob")
    }

    @Test func aStoreMadeBeforeApprovalsKeptFilesIsMigratedAndItsApprovalsStillCount() async throws {
        // Given a store with only the first migration and an approval in it
        let world = try TestWorld()
        defer { world.remove() }
        try FileManager.default.createDirectory(atPath: (world.storePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: world.storePath)
        try AuditStore.migrator.migrate(queue, upTo: "v1-audit-store")
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO approvals (runbook_id, content_hash, approver, comment, approved_at) VALUES ('alma', 'one', 'bob', NULL, '2026-11-20T09:00:00.000Z')")
        }
        try queue.close()

        // When Sluice opens it
        let store = try world.openStore()

        // Then the old approval is read, without files, and new ones keep theirs
        let old = try #require(try await store.latestApproval(runbookID: "alma"))
        #expect(old.approver == "bob")
        #expect(old.digest == nil)
        #expect(try await store.approvals(runbookID: "alma", contentHash: "one").count == 1)
        let digest = ContentDigest(files: Self.files)
        _ = try await store.recordApproval(
            ApprovalRecord(runbookID: "alma", contentHash: digest.hash, approver: "dana", comment: nil, approvedAt: "", files: digest.files),
            redactor: .none)
        #expect(try await store.latestApproval(runbookID: "alma")?.digest == digest)
    }

    @Test func theSchemaRejectsFilesThatAreNotAJSONList() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try world.openStore()
        let queue = try world.rawConnection()
        #expect(throws: DatabaseError.self) {
            try queue.write { db in
                try db.execute(sql: "INSERT INTO approvals (runbook_id, content_hash, approver, approved_at, content_files) VALUES ('a', 'h', 'bob', 't', '{\"not\": \"a list\"}')")
            }
        }
    }
}
