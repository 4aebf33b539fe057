import Foundation
import SluiceCore
import SluiceTesting
import Testing
@testable import SluiceAudit

/// Several real processes on one store file, through the `sluice-store-bench` helper.
@Suite(.serialized, .ownThread) struct MultiProcessTests {
    @Test func fourProcessesAppending2000EventsEachKeepEveryEventAndTheChain() async throws {
        // Given a store created before the writers start
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()

        // When four processes append 2,000 events each at the same time (8 tasks apiece)
        let writers = try (0..<4).map { index in
            try Helper.start("sluice-store-bench", ["append", world.storePath, "2000", "8", "process-\(index)"])
        }
        var reported: [[String]] = []
        for writer in writers {
            var buffer = Data()
            reported.append(writer.finish(buffer: &buffer))
            // Then none failed: a busy store never surfaced an error to a caller
            #expect(writer.process.terminationStatus == 0, "writer failed: \(writer.errorText)")
        }

        // And all 8,000 events are present, each reported seq exactly once, the chain intact
        let events = try await store.events()
        #expect(events.count == 8000)
        let seqs = reported.flatMap { $0 }.compactMap { Int64($0) }
        #expect(seqs.count == 8000)
        #expect(Set(seqs) == Set(events.map(\.seq)))
        for index in 0..<4 {
            #expect(events.filter { $0.target == "process-\(index)" }.count == 2000)
        }
        let report = try await store.verify()
        #expect(report.isIntact, "\(String(describing: report.problem))")
    }

    @Test func fourProcessesCreatingOneNewStoreAtOnceAllSucceed() async throws {
        // Given no store yet
        let world = try TestWorld()
        defer { world.remove() }

        // When four processes create it and append at the same moment
        let writers = try (0..<4).map { index in
            try Helper.start("sluice-store-bench", ["append", world.storePath, "50", "2", "new-\(index)"])
        }

        // Then none fails on the race to set the store up, and the chain holds all their events
        for writer in writers {
            var buffer = Data()
            #expect(writer.finish(buffer: &buffer).count == 50, "writer failed: \(writer.errorText)")
        }
        let store = try AuditStore(path: world.storePath, createIfMissing: false)
        #expect(try await store.eventCount() == 200)
        #expect(try await store.verify().isIntact)
    }

    @Test func killingAWriterLosesNoEventWhoseAppendReturned() async throws {
        // Given a store, and a child process appending in a loop that reports each returned seq
        let world = try TestWorld()
        defer { world.remove() }
        _ = try world.openStore()
        let child = try Helper.start("sluice-store-bench", ["append", world.storePath, "1000000", "4", "doomed"])

        // When it is killed with SIGKILL in the middle of its work
        var buffer = Data()
        let beforeKill = child.readLines(atLeast: 300, into: &buffer)
        #expect(beforeKill.count >= 300, "child stopped early: \(child.errorText)")
        kill(child.pid, SIGKILL)
        let reported = child.finish(buffer: &buffer).compactMap { Int64($0) }
        #expect(child.process.terminationReason == .uncaughtSignal)

        // Then the store opens, verifies, and holds every event whose append had returned
        let reopened = try AuditStore(path: world.storePath, createIfMissing: false)
        let report = try await reopened.verify()
        #expect(report.isIntact, "\(String(describing: report.problem))")
        let stored = Set(try await reopened.events().map(\.seq))
        let lost = reported.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "events reported as appended but missing: \(lost.prefix(10))")
        #expect(reported.count >= 300)

        // And the store still takes appends that chain onto what survived
        try await reopened.append(Fixtures.draft(1), redactor: .none)
        #expect(try await reopened.verify().isIntact)
    }

    @Test func twoProcessesRacingForOverlappingTargetsExactlyOneWins() async throws {
        // Given two processes ready to lock overlapping target sets
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let first = try Helper.start(
            "sluice-store-bench", ["lock", world.storePath, "r-20261121-083015-0001", "a,b,c", "60000", "hold"])
        let second = try Helper.start(
            "sluice-store-bench", ["lock", world.storePath, "r-20261121-083015-0002", "c,d", "60000", "hold"])
        defer {
            first.closeInput()
            second.closeInput()
        }

        // When both are told to go at once
        first.send("go")
        second.send("go")
        var firstBuffer = Data()
        var secondBuffer = Data()
        let outcomes = [first.readLines(atLeast: 1, into: &firstBuffer).first,
                        second.readLines(atLeast: 1, into: &secondBuffer).first]

        // Then exactly one acquired, and the loser took nothing (all or nothing)
        #expect(outcomes.filter { $0 == "acquired" }.count == 1, "outcomes: \(outcomes)")
        #expect(outcomes.filter { $0 == "blocked" }.count == 1, "outcomes: \(outcomes)")
        let locks = try await store.locks()
        let holders = Set(locks.map(\.runID.rawValue))
        #expect(holders.count == 1)
        let expected = outcomes[0] == "acquired" ? ["a", "b", "c"] : ["c", "d"]
        #expect(locks.map(\.target) == expected)
        let acquiredEvents = try await store.events().filter { $0.kind == EventKind.lockAcquired.rawValue }
        #expect(acquiredEvents.count == expected.count)
    }

    @Test func aDeadHoldersLockIsStaleAndCanBeForced() async throws {
        // Given a process that locked a target with a short TTL and then exited
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        let holder = try Helper.start(
            "sluice-store-bench", ["lock", world.storePath, "r-20261121-083015-0003", "db-1", "1"])
        holder.send("go")
        var buffer = Data()
        #expect(holder.finish(buffer: &buffer) == ["acquired"])
        let lock = try #require(try await store.lock(on: "db-1"))
        #expect(lock.pid == holder.pid)

        // When its heartbeat has expired (a clock one minute ahead stands in for waiting)
        let later = try world.openStore(clock: { Date().addingTimeInterval(60) })

        // Then the lock is stale, it blocks a new run all the same, and unlock frees it with an event
        #expect(later.state(of: lock) == .stale)
        let blocked = try await later.acquireLocks(
            on: ["db-1"], for: .current(runID: RunID("r-20261121-083015-0004")!), ttl: .seconds(30), actor: "bob",
            redactor: .none)
        #expect(blocked == .blocked([LockConflict(lock: lock, state: .stale)]))
        let forced = try await later.forceUnlock(target: "db-1", actor: "carol", reason: "runner host rebooted")
        #expect(forced.lock.runID.rawValue == "r-20261121-083015-0003")
        #expect(forced.event.kind == "lock.forced")
        #expect(try await later.lock(on: "db-1") == nil)
        let event = try #require(try await later.events().last)
        #expect(event.kind == "lock.forced")
        #expect(event.actor == "carol")
        #expect(event.detail.contains("runner host rebooted"))
        #expect(try await later.verify().isIntact)
    }

    @Test func aLiveHoldersLockCannotBeForced() async throws {
        // Given a running process holding a lock whose heartbeat has expired
        let world = try TestWorld()
        defer { world.remove() }
        let holder = try Helper.start(
            "sluice-store-bench", ["lock", world.storePath, "r-20261121-083015-0005", "db-2", "1", "hold"])
        defer { holder.closeInput() }
        holder.send("go")
        var buffer = Data()
        #expect(holder.readLines(atLeast: 1, into: &buffer) == ["acquired"])
        let later = try world.openStore(clock: { Date().addingTimeInterval(60) })
        let lock = try #require(try await later.lock(on: "db-2"))

        // When an operator tries to force it
        // Then it is refused because the process is still there, and the lock stays
        #expect(holder.process.isRunning, "holder exited with \(holder.process.terminationStatus): \(holder.errorText)")
        #expect(later.state(of: lock) == .live)
        await #expect(throws: AuditStoreError.self) {
            try await later.forceUnlock(target: "db-2", actor: "carol", reason: "looks stuck")
        }
        #expect(try await later.lock(on: "db-2") == lock)
        #expect(try await later.events().allSatisfy { $0.kind != "lock.forced" })
    }
}
