import Foundation
import GRDB
import SluiceCore
import Testing
@testable import SluiceAudit

/// Tampering with the events table the way someone with write access to the file would: a
/// plain SQLite connection, append-only triggers dropped first.
@Suite struct ChainTamperTests {
    static let eventCount = 10

    /// Renumbers the events after seq 5 to make room, then inserts a copy of event 5 at seq 6
    /// with actor `mallory` and the given `prev_hash` and `hash` (SQL expressions over row 5).
    static func insertAfterFifth(in world: TestWorld, prevHash: String, hash: String) throws {
        try world.tamper("""
            UPDATE events SET seq = -seq WHERE seq > 5;
            UPDATE events SET seq = -seq + 1 WHERE seq < 0;
            INSERT INTO events (seq, time, run_id, actor, kind, target, stage, step, status, exit_code, duration_ms,
                                detail, prev_hash, hash)
            SELECT 6, time, run_id, 'mallory', kind, target, stage, step, status, exit_code, duration_ms, detail,
                   \(prevHash), \(hash) FROM events WHERE seq = 5;
            """)
    }

    @Test func untouchedStoreVerifies() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        let report = try await store.verify()

        #expect(report.isIntact)
        #expect(report.eventCount == Self.eventCount)
        #expect(report.headSeq == Int64(Self.eventCount))
    }

    @Test func emptyStoreVerifies() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let report = try await world.openStore().verify()
        #expect(report.isIntact)
        #expect(report.eventCount == 0)
    }

    /// Every column of event 5 changed to another plausible value.
    @Test(arguments: [
        ("time", "'2030-01-01T00:00:00.000Z'"),
        ("run_id", "'r-20261121-083015-ffff'"),
        ("actor", "'mallory'"),
        ("kind", "'step.started'"),
        ("target", "'ap01-x'"),
        ("stage", "'rest'"),
        ("step", "'other step'"),
        ("status", "'failed'"),
        ("exit_code", "1"),
        ("duration_ms", "1"),
        ("detail", "'{}'"),
        ("prev_hash", "'" + String(repeating: "1", count: 64) + "'"),
        ("hash", "'" + String(repeating: "2", count: 64) + "'"),
        ("seq", "500"),
        ("exit_code", "'zero'"),
        ("target", "NULL"),
    ])
    func changingAnyColumnIsReported(column: String, value: String) async throws {
        // Given an intact store of ten events
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        // When one column of event 5 is changed behind the store's back
        try world.tamper("UPDATE events SET \(column) = \(value) WHERE seq = 5")

        // Then verification fails and names event 5
        let report = try await store.verify()
        let problem = try #require(report.problem)
        #expect(problem.seq == 5)
        if column != "seq" { #expect(problem.kind == .changed) }
    }

    @Test(arguments: [1, 5, 10])
    func deletingAnEventIsReportedAsMissing(seq: Int) async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        try world.tamper("DELETE FROM events WHERE seq = \(seq)")

        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == Int64(seq))
        #expect(problem.kind == .missing)
    }

    @Test func deletingAnEventAndRenumberingIsReported() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        try world.tamper("""
            DELETE FROM events WHERE seq = 5;
            UPDATE events SET seq = -seq WHERE seq > 5;
            UPDATE events SET seq = -seq - 1 WHERE seq < 0;
            UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'events';
            """)

        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == 5)
        #expect(problem.kind == .missing)
    }

    @Test func insertingAnEventInTheMiddleIsReported() async throws {
        // Given an intact store
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)
        let fifth = try #require(try await store.events().first { $0.seq == 5 })

        // When a forged event with a correctly computed hash is slipped in after seq 5, later
        // events renumbered to make room
        var forged = fifth
        forged.seq = 6
        forged.actor = "mallory"
        forged.prevHash = fifth.hash
        forged.hash = forged.expectedHash
        try Self.insertAfterFifth(in: world, prevHash: "'\(forged.prevHash)'", hash: "'\(forged.hash)'")

        // Then verification names the inserted event
        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == 6)
        #expect(problem.kind == .inserted)
    }

    @Test func insertingAnEventWithABogusHashIsReported() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        try Self.insertAfterFifth(in: world, prevHash: "hash", hash: "'\(String(repeating: "3", count: 64))'")

        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == 6)
        #expect(problem.kind == .inserted)
    }

    @Test func appendingAForgedEventAtTheEndIsReported() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        try world.tamper("""
            INSERT INTO events (seq, time, run_id, actor, kind, target, stage, step, status, exit_code, duration_ms,
                                detail, prev_hash, hash)
            SELECT 11, time, run_id, 'mallory', kind, target, stage, step, status, exit_code, duration_ms, detail,
                   hash, '\(String(repeating: "3", count: 64))' FROM events WHERE seq = 10;
            """)

        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == 11)
    }

    @Test(arguments: [(4, 5), (5, 6), (2, 9), (1, 10)])
    func swappingTwoEventsIsReportedAsReordered(first: Int, second: Int) async throws {
        // Given an intact store
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        // When two events trade places (their seq numbers are swapped)
        try world.tamper("""
            UPDATE events SET seq = -1 WHERE seq = \(first);
            UPDATE events SET seq = \(first) WHERE seq = \(second);
            UPDATE events SET seq = \(second) WHERE seq = -1;
            """)

        // Then verification names the first of them as reordered
        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == Int64(first))
        #expect(problem.kind == .reordered)
    }

    @Test func deletingTheLastEventIsReportedAsMissing() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)

        try world.tamper("DELETE FROM events WHERE seq = \(Self.eventCount)")

        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == Int64(Self.eventCount))
        #expect(problem.kind == .missing)
    }

    @Test func aDeletedTailStaysVisibleAfterLaterAppends() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: Self.eventCount)
        try world.tamper("DELETE FROM events WHERE seq >= 9")

        try await store.append(Fixtures.draft(11), redactor: .none)

        let problem = try #require(try await store.verify().problem)
        #expect(problem.seq == 9)
        #expect(problem.kind == .missing)
    }

    @Test func theSchemaRefusesUpdatesAndDeletesOfEvents() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Fixtures.store(in: world, events: 3)
        let queue = try world.rawConnection()

        #expect(throws: DatabaseError.self) {
            try queue.write { try $0.execute(sql: "UPDATE events SET actor = 'mallory' WHERE seq = 2") }
        }
        #expect(throws: DatabaseError.self) {
            try queue.write { try $0.execute(sql: "DELETE FROM events WHERE seq = 2") }
        }
    }
}
