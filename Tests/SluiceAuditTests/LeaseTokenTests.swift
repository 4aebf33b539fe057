import Foundation
import GRDB
import SluiceCore
import Testing
@testable import SluiceAudit

/// Fencing tokens: each acquisition or takeover of a target lock or a run's lease writes a fresh
/// token, and a heartbeat, renewal or release with any other token changes nothing.
@Suite struct LeaseTokenTests {
    static let runA = RunID("r-20261121-083015-aaaa")!
    static let start = Date(timeIntervalSince1970: 1_795_249_815)

    static func runRecord(_ id: RunID) -> RunRecord {
        RunRecord(
            id: id, runbookID: "alma-loan-config", title: "Roll out the loan-policy configuration", kind: .change,
            mode: .apply, actor: "alice", host: "runner-1.example", pid: 100, contentHash: "sha256:abc",
            runbookPath: "Runbooks/alma.yaml", startedAt: Timestamp.format(start))
    }

    static func token(of result: RunLeaseResult) -> LeaseToken? {
        guard case .acquired(let token) = result else { return nil }
        return token
    }

    /// The lease a third process is refused with: who holds the run, as the store has it.
    static func holder(of runID: RunID, in store: AuditStore) async throws -> RunLease? {
        let asked = try await store.acquireRunLease(runID, host: "someone-else.example", pid: 999, ttl: .seconds(30))
        guard case .heldBy(let lease) = asked else { return nil }
        return lease
    }

    @Test func everyAcquisitionWritesAFreshToken() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        try await store.createRun(Self.runRecord(Self.runA))
        let holder = LockHolder.current(runID: Self.runA)

        // When the same process takes the same locks and the same lease twice
        let first = try #require(try await store.acquireLocks(on: ["a"], for: holder, ttl: .seconds(30), actor: "alice", redactor: .none).token)
        let second = try #require(try await store.acquireLocks(on: ["a"], for: holder, ttl: .seconds(30), actor: "alice", redactor: .none).token)
        let firstLease = try #require(Self.token(of: try await store.acquireRunLease(
            Self.runA, host: holder.host, pid: holder.pid, ttl: .seconds(30))))
        let secondLease = try #require(Self.token(of: try await store.acquireRunLease(
            Self.runA, host: holder.host, pid: holder.pid, ttl: .seconds(30))))

        // Then each acquisition got its own token, and the lock holds the latest
        #expect(first != second)
        #expect(firstLease != secondLease)
        #expect(try await store.lock(on: "a")?.token == second)
        #expect(second.rawValue.utf8.count == 32)
    }

    @Test func locksTakenBackByAnotherProcessOfTheRunAreNoLongerTheFirstOnesToBeatOrRelease() async throws {
        // Given run A's first runner holding a and b, and a second runner of run A (a resume on
        // another machine) that took them back 20 s later
        let world = try TestWorld()
        defer { world.remove() }
        let clock = MutableClock(Self.start)
        let store = try world.openStore(clock: { clock.now })
        let firstRunner = LockHolder(runID: Self.runA, host: "runner-1.example", pid: 100)
        let secondRunner = LockHolder(runID: Self.runA, host: "runner-2.example", pid: 200)
        let old = try #require(try await store.acquireLocks(
            on: ["a", "b"], for: firstRunner, ttl: .seconds(30), actor: "alice", redactor: .none).token)
        clock.advance(by: 20)
        let new = try #require(try await store.acquireLocks(
            on: ["a", "b"], for: secondRunner, ttl: .seconds(30), actor: "bob", redactor: .none).token)
        let takenBackAt = Timestamp.format(clock.now)

        // When the first runner beats and then releases with its old token
        clock.advance(by: 20)
        let heldByFirst = try await store.heartbeat(Self.runA, token: old)
        let releasedByFirst = try await store.releaseLocks(of: Self.runA, token: old, actor: "alice", redactor: .none)

        // Then it holds nothing, and the second runner's locks are untouched: same heartbeat,
        // still there, no lock.released recorded
        #expect(heldByFirst.isEmpty)
        #expect(releasedByFirst.isEmpty)
        let locks = try await store.locks()
        #expect(locks.map(\.target) == ["a", "b"])
        #expect(locks.allSatisfy { $0.token == new && $0.host == "runner-2.example" && $0.heartbeatAt == takenBackAt })
        #expect(try await store.events().allSatisfy { $0.kind != EventKind.lockReleased.rawValue })

        // And the second runner beats and releases with its own
        #expect(try await store.heartbeat(Self.runA, token: new) == ["a", "b"])
        #expect(try await store.lock(on: "a")?.heartbeatAt == Timestamp.format(clock.now))
        #expect(try await store.releaseLocks(of: Self.runA, token: new, actor: "bob", redactor: .none) == ["a", "b"])
        #expect(try await store.locks().isEmpty)
    }

    @Test func aRunLeaseTakenOverIsNoLongerTheFirstHoldersToRenewOrRelease() async throws {
        // Given a driver on another host whose lease expired, and a second driver that took the
        // run over a minute later
        let world = try TestWorld()
        defer { world.remove() }
        let clock = MutableClock(Self.start)
        let store = try world.openStore(clock: { clock.now })
        try await store.createRun(Self.runRecord(Self.runA))
        let old = try #require(Self.token(of: try await store.acquireRunLease(
            Self.runA, host: "runner-1.example", pid: 100, ttl: .seconds(1))))
        clock.advance(by: 60)
        let new = try #require(Self.token(of: try await store.acquireRunLease(
            Self.runA, host: "runner-2.example", pid: 200, ttl: .seconds(30))))
        let takenOverAt = Timestamp.format(clock.now)

        // When the first driver, still running somewhere, renews and releases with its old token
        clock.advance(by: 10)
        let renewed = try await store.renewRunLease(Self.runA, token: old)
        let released = try await store.releaseRunLease(Self.runA, token: old)

        // Then both say it no longer holds the run, and the second driver's lease is untouched
        #expect(renewed == false)
        #expect(released == false)
        let lease = try #require(try await Self.holder(of: Self.runA, in: store))
        #expect(lease.host == "runner-2.example")
        #expect(lease.token == new)
        #expect(lease.heartbeatAt == takenOverAt)

        // And the second driver renews and releases with its own
        #expect(try await store.renewRunLease(Self.runA, token: new))
        #expect(try await Self.holder(of: Self.runA, in: store)?.heartbeatAt == Timestamp.format(clock.now))
        #expect(try await store.releaseRunLease(Self.runA, token: new))
        #expect(try await Self.holder(of: Self.runA, in: store) == nil)
    }

    @Test func beatingRenewingOrReleasingWhatNobodyHoldsChangesNothingAndSaysSo() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        try await store.createRun(Self.runRecord(Self.runA))
        let stray = LeaseToken.random()

        #expect(try await store.heartbeat(Self.runA, token: stray).isEmpty)
        #expect(try await store.releaseLocks(of: Self.runA, token: stray, actor: "alice", redactor: .none).isEmpty)
        #expect(try await store.renewRunLease(Self.runA, token: stray) == false)
        #expect(try await store.releaseRunLease(Self.runA, token: stray) == false)
        #expect(try await store.eventCount() == 0)
    }

    @Test func aStoreFromBeforeTokensIsMigratedAndItsLocksAndLeasesGetTokensTheirHoldersCanUse() async throws {
        // Given a store at migration v4 with a run, its lease and two of its locks
        let world = try TestWorld()
        defer { world.remove() }
        try FileManager.default.createDirectory(atPath: (world.storePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: world.storePath)
        try AuditStore.migrator.migrate(queue, upTo: "v4-run-leases")
        let time = Timestamp.format(Self.start)
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO runs (id, runbook_id, title, kind, mode, actor, host, pid, content_hash, runbook_path, started_at)
                    VALUES (?, 'alma', 'Alma', 'change', 'apply', 'alice', 'runner-1.example', 100, 'sha256:abc', 'alma.yaml', ?);
                INSERT INTO run_leases (run_id, host, pid, acquired_at, heartbeat_at, ttl_ms) VALUES (?, 'runner-1.example', 100, ?, ?, 60000);
                INSERT INTO locks (target, run_id, host, pid, acquired_at, heartbeat_at, ttl_ms) VALUES ('a', ?, 'runner-1.example', 100, ?, ?, 60000);
                INSERT INTO locks (target, run_id, host, pid, acquired_at, heartbeat_at, ttl_ms) VALUES ('b', ?, 'runner-1.example', 100, ?, ?, 60000);
                """, arguments: [Self.runA.rawValue, time, Self.runA.rawValue, time, time,
                                 Self.runA.rawValue, time, time, Self.runA.rawValue, time, time])
        }
        try queue.close()

        // When Sluice opens it, a second later
        let store = try world.openStore(clock: { Self.start.addingTimeInterval(1) })

        // Then each lock and the lease has a token of its own, which heartbeats and renews them
        let locks = try await store.locks()
        #expect(locks.map(\.target) == ["a", "b"])
        #expect(locks.allSatisfy { $0.token.rawValue.utf8.count == 32 })
        #expect(Set(locks.map(\.token)).count == 2)
        #expect(try await store.heartbeat(Self.runA, token: locks[0].token) == ["a"])
        let lease = try #require(try await Self.holder(of: Self.runA, in: store))
        #expect(lease.token.rawValue.utf8.count == 32)
        #expect(try await store.renewRunLease(Self.runA, token: .random()) == false)
        #expect(try await store.renewRunLease(Self.runA, token: lease.token))
    }
}
