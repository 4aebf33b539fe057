import Foundation
import SluiceCore
import Testing
@testable import SluiceAudit

@Suite struct LockTests {
    static let runA = RunID("r-20261121-083015-aaaa")!
    static let runB = RunID("r-20261121-083016-bbbb")!

    @Test func acquisitionIsAllOrNothing() async throws {
        // Given run A holding target b
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        _ = try await store.acquireLocks(on: ["b"], for: .current(runID: Self.runA), ttl: .seconds(30), actor: "alice",
                                         redactor: .none)

        // When run B asks for a, b and c
        let result = try await store.acquireLocks(
            on: ["a", "b", "c"], for: .current(runID: Self.runB), ttl: .seconds(30), actor: "bob", redactor: .none)

        // Then it is blocked by b alone, and neither a nor c was taken
        guard case .blocked(let conflicts) = result else {
            Issue.record("expected a conflict, got \(result)")
            return
        }
        #expect(conflicts.map(\.lock.target) == ["b"])
        #expect(conflicts.map(\.state) == [.live])
        #expect(try await store.locks().map(\.target) == ["b"])
    }

    @Test func theSameRunCanRetakeItsLocks() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let holder = LockHolder.current(runID: Self.runA)
        _ = try await store.acquireLocks(on: ["a"], for: holder, ttl: .seconds(30), actor: "alice", redactor: .none)

        let again = try await store.acquireLocks(on: ["a", "b"], for: holder, ttl: .seconds(30), actor: "alice",
                                                 redactor: .none)

        guard case .acquired(let locks, _) = again else {
            Issue.record("expected the run to retake its own lock, got \(again)")
            return
        }
        #expect(locks.map(\.target) == ["a", "b"])
        // One lock.acquired per target newly taken, none for the one already held
        #expect(try await store.events().map(\.target) == ["a", "b"])
    }

    @Test func releaseFreesTheRunsLocksAndRecordsIt() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let acquired = try await store.acquireLocks(on: ["a", "b"], for: .current(runID: Self.runA), ttl: .seconds(30),
                                                    actor: "alice", redactor: .none)
        let token = try #require(acquired.token)

        let released = try await store.releaseLocks(of: Self.runA, token: token, actor: "alice", redactor: .none)

        #expect(released == ["a", "b"])
        #expect(try await store.locks().isEmpty)
        #expect(try await store.events().map(\.kind) == ["lock.acquired", "lock.acquired", "lock.released", "lock.released"])
    }

    @Test func heartbeatRefreshesAndReportsWhatIsStillHeld() async throws {
        // Given a lock taken at t0
        let world = try TestWorld()
        defer { world.remove() }
        let clock = MutableClock(Date(timeIntervalSince1970: 1_795_249_815))
        let store = try world.openStore(clock: { clock.now })
        let acquired = try await store.acquireLocks(on: ["a", "b"], for: .current(runID: Self.runA), ttl: .seconds(30),
                                                    actor: "alice", redactor: .none)
        let token = try #require(acquired.token)

        // When time passes and the run beats
        clock.advance(by: 20)
        let held = try await store.heartbeat(Self.runA, token: token)

        // Then the heartbeat moved and the lock is live well past the original TTL
        #expect(held == ["a", "b"])
        clock.advance(by: 20)
        let lock = try #require(try await store.lock(on: "a"))
        #expect(lock.heartbeatAt == Timestamp.format(Date(timeIntervalSince1970: 1_795_249_835)))
        #expect(store.state(of: lock) == .live)
    }

    @Test func anExpiredLockFromAnotherHostIsUnverifiableAndCannotBeForced() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let remote = LockHolder(runID: Self.runA, host: "elsewhere.example", pid: 4242)
        _ = try await store.acquireLocks(on: ["a"], for: remote, ttl: .milliseconds(1), actor: "alice", redactor: .none)
        let later = try world.openStore(clock: { Date().addingTimeInterval(60) })
        let lock = try #require(try await later.lock(on: "a"))

        #expect(later.state(of: lock) == .unverifiable)
        await #expect(throws: AuditStoreError.self) {
            try await later.forceUnlock(target: "a", actor: "carol", reason: "host gone")
        }
    }

    @Test func unlockingAnUnlockedTargetSaysSo() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        do {
            try await store.forceUnlock(target: "nothing", actor: "carol", reason: "test")
            Issue.record("expected lockNotFound")
        } catch let error as AuditStoreError {
            guard case .lockNotFound(let target) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(target == "nothing")
        }
    }
}

extension LockAcquisition {
    /// The acquisition's token, when it acquired.
    var token: LeaseToken? {
        guard case .acquired(_, let token) = self else { return nil }
        return token
    }
}

/// A clock tests move by hand.
final class MutableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    var now: Date { lock.withLock { current } }

    func advance(by seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}
