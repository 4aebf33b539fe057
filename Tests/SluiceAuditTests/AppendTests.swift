import Foundation
import GRDB
import SluiceCore
import Testing
@testable import SluiceAudit

@Suite struct AppendTests {
    @Test func appendsAreChainedFromGenesis() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()

        let first = try await store.append(Fixtures.draft(1), redactor: .none)
        let second = try await store.append(Fixtures.draft(2), redactor: .none)

        #expect(first.seq == 1)
        #expect(first.prevHash == EventChain.genesisHash)
        #expect(second.seq == 2)
        #expect(second.prevHash == first.hash)
        #expect(second.hash == second.expectedHash)
        #expect(try await store.events() == [first, second])
    }

    @Test func anAppendedEventIsCommittedWhenAppendReturns() async throws {
        // Given a store
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()

        // When an append returns
        let event = try await store.append(Fixtures.draft(1), redactor: .none)

        // Then another connection, outside this process's store object, already sees it
        let seen = try await world.rawConnection().read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM events WHERE hash = ?", arguments: [event.hash])
        }
        #expect(seen == event.seq)
    }

    @Test func freeTextIsRedactedBeforeItIsWrittenAndIdentifiersAreNot() async throws {
        // Given an event whose secret appears in the detail's values, at every depth
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let secret = "s3cr3t-token"
        let redactor = Redactor(secrets: [secret, "web"])
        let draft = EventDraft(
            runID: Fixtures.run, actor: "alice", kind: .stepFinished,
            target: "web1", stage: "webs", step: "restart web", status: "succeeded", exitCode: 0, durationMilliseconds: 5,
            detail: ["command": .string("curl -H 'Authorization: \(secret)'"), "output": .string("token=\(secret)\n"),
                     "nested": ["list": [.string(secret)]]])

        // When it is appended
        let event = try await store.append(draft, redactor: redactor)

        // Then no byte of the database file, its WAL or the returned event holds the secret,
        // while the names (which a secret, "web" here, happens to be part of) are kept verbatim,
        // for resume and rollback match them
        #expect(event.detail.contains("token=***"))
        #expect(event.detail.contains("Authorization: ***"))
        #expect([event.target, event.stage, event.step, event.actor] == ["web1", "webs", "restart web", "alice"])
        let rows = try await world.rawConnection().read { db in
            try String.fetchAll(db, sql: "SELECT detail FROM events")
        }
        #expect(rows.count == 1)
        #expect(rows.allSatisfy { !$0.contains(secret) })
        for suffix in ["", "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: world.storePath + suffix))) ?? Data()
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "secret found in audit.sqlite\(suffix)")
        }
        #expect(try await store.verify().isIntact)
    }

    @Test func outputTailKeepsTheLast4KiBOnACharacterBoundary() {
        // "é" is two bytes; the 4 KiB cut falls between them, so the tail starts after it
        let output = String(repeating: "a", count: 5000) + "é" + String(repeating: "b", count: 4095)
        let tail = EventDraft.outputTail(output)
        #expect(tail == String(repeating: "b", count: 4095))
        let whole = String(repeating: "a", count: 5000) + "é" + String(repeating: "b", count: 4094)
        #expect(EventDraft.outputTail(whole) == "é" + String(repeating: "b", count: 4094))
        #expect(EventDraft.outputTail("short") == "short")
    }

    @Test func anEmptyActorIsRefusedWithoutWritingAnything() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        var draft = Fixtures.draft(1)
        draft.actor = ""

        await #expect(throws: AuditStoreError.self) { try await store.append(draft, redactor: .none) }
        #expect(try await store.eventCount() == 0)
    }

    @Test func concurrentAppendsShareTransactionsAndKeepTheChain() async throws {
        // Given one store used by 32 tasks at once
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()

        // When each appends 50 events
        let recorded = try await withThrowingTaskGroup(of: [RecordedEvent].self) { group in
            for task in 0..<32 {
                group.addTask {
                    var mine: [RecordedEvent] = []
                    for index in 0..<50 { mine.append(try await store.append(Fixtures.draft(task * 100 + index), redactor: .none)) }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }

        // Then every returned event is stored as returned, the seqs are 1...1600 without gaps,
        // and the chain verifies
        let stored = try await store.events()
        #expect(stored.count == 1600)
        #expect(Set(recorded) == Set(stored))
        #expect(stored.map(\.seq) == Array(1...1600))
        #expect(try await store.verify().isIntact)
    }

    @Test func theStoreIsDurableWALWithFullSync() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()

        let settings = try await store.pool.write { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(settings.0 == "wal")
        #expect(settings.1 == 2) // FULL
    }

    @Test func createsTheFolderWithMode0700AndTheFilesWith0600() async throws {
        // Given a store path whose folder does not exist yet, and a permissive umask
        let world = try TestWorld()
        defer { world.remove() }
        let previousMask = umask(0o022)
        defer { umask(previousMask) }

        // When the store is created and written to
        let store = try world.openStore()
        try await store.append(Fixtures.draft(1), redactor: .none)

        // Then folder and files are private to their owner
        func mode(_ path: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        let folder = (world.storePath as NSString).deletingLastPathComponent
        #expect(try mode(folder) == 0o700)
        #expect(try mode(world.storePath) == 0o600)
        #expect(try mode(world.storePath + "-wal") == 0o600)
        #expect(try mode(world.storePath + "-shm") == 0o600)
    }

    @Test func openingAMissingStoreForReadingFails() throws {
        let world = try TestWorld()
        defer { world.remove() }
        #expect(throws: AuditStoreError.self) { try AuditStore(path: world.storePath, createIfMissing: false) }
        #expect(!FileManager.default.fileExists(atPath: world.storePath))
    }

    @Test func reopeningAnExistingStoreKeepsItsEvents() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Fixtures.store(in: world, events: 3)

        let reopened = try AuditStore(path: world.storePath, createIfMissing: false)
        try await reopened.append(Fixtures.draft(4), redactor: .none)

        #expect(try await reopened.eventCount() == 4)
        #expect(try await reopened.verify().isIntact)
    }
}

@Suite struct CancellationTests {
    @Test func aCancelledCallerStillGetsItsEventCommittedAndSoDoOthersInItsBatch() async throws {
        // Given appends from tasks that are cancelled as soon as they start
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let tasks = (0..<8).map { index in
            Task { try await store.append(Fixtures.draft(index), redactor: .none) }
        }
        for task in tasks { task.cancel() }

        // When they finish
        var returned: [RecordedEvent] = []
        for task in tasks { returned.append(try await task.value) }

        // Then every append ran to its commit: cancellation never abandons a started transaction
        #expect(Set(try await store.events()) == Set(returned))
        #expect(returned.count == 8)
        #expect(try await store.verify().isIntact)
    }
}
