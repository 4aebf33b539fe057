import SluiceCore
import Testing
@testable import SluiceAudit

/// The group committer with a fake commit, so that batching is observed without timing.
@Suite struct GroupCommitterTests {
    actor Gate {
        private var isOpen = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func wait() async {
            if isOpen { return }
            await withCheckedContinuation { waiters.append($0) }
        }

        func open() {
            isOpen = true
            for waiter in waiters { waiter.resume() }
            waiters = []
        }
    }

    actor BatchLog {
        private(set) var sizes: [Int] = []
        private var nextSeq: Int64 = 0

        func record(_ events: [PreparedEvent]) -> [RecordedEvent] {
            sizes.append(events.count)
            return events.map { event in
                nextSeq += 1
                return RecordedEvent(
                    seq: nextSeq, time: "", runID: event.runID, actor: event.actor, kind: event.kind, target: event.target,
                    stage: nil, step: nil, status: nil, exitCode: nil, durationMilliseconds: nil, detail: event.detail,
                    prevHash: "", hash: "")
            }
        }
    }

    static func event(_ index: Int) -> PreparedEvent {
        PreparedEvent(Fixtures.draft(index), redactor: .none)
    }

    @Test func appendsQueuedDuringACommitShareTheNextTransaction() async throws {
        // Given a committer whose first transaction is held open
        let gate = Gate()
        let log = BatchLog()
        let committer = GroupCommitter(maximumBatch: 512) { events in
            let recorded = await log.record(events)
            await gate.wait()
            return recorded
        }

        try await withThrowingTaskGroup(of: RecordedEvent.self) { group in
            group.addTask { try await committer.append(Self.event(0)) }
            while await log.sizes.isEmpty { await Task.yield() }

            // When ten more appends arrive while it is in flight
            for index in 1...10 {
                group.addTask { try await committer.append(Self.event(index)) }
            }
            while await committer.queuedCount < 10 { await Task.yield() }
            await gate.open()

            // Then they are committed together, and each caller gets its own event back
            var targets: [String] = []
            for try await event in group { targets.append(event.target ?? "") }
            #expect(Set(targets) == Set((0...10).map { "ap01-\($0)" }))
        }
        #expect(await log.sizes == [1, 10])
    }

    @Test func aBatchNeverExceedsTheMaximum() async throws {
        let gate = Gate()
        let log = BatchLog()
        let committer = GroupCommitter(maximumBatch: 4) { events in
            let recorded = await log.record(events)
            await gate.wait()
            return recorded
        }

        try await withThrowingTaskGroup(of: RecordedEvent.self) { group in
            group.addTask { try await committer.append(Self.event(0)) }
            while await log.sizes.isEmpty { await Task.yield() }
            for index in 1...10 {
                group.addTask { try await committer.append(Self.event(index)) }
            }
            while await committer.queuedCount < 10 { await Task.yield() }
            await gate.open()
            try await group.waitForAll()
        }
        #expect(await log.sizes == [1, 4, 4, 2])
    }

    struct Failure: Error {}

    @Test func aFailedTransactionFailsEveryAppendInItAndTheNextBatchStillRuns() async throws {
        // Given a committer whose first two transactions fail
        actor Attempts {
            var count = 0
            func next() -> Int { count += 1; return count }
        }
        let attempts = Attempts()
        let log = BatchLog()
        let committer = GroupCommitter(maximumBatch: 512) { events in
            if await attempts.next() <= 2 { throw Failure() }
            return await log.record(events)
        }

        // When appends are made one after another
        await #expect(throws: Failure.self) { try await committer.append(Self.event(1)) }
        await #expect(throws: Failure.self) { try await committer.append(Self.event(2)) }
        let recorded = try await committer.append(Self.event(3))

        // Then the committer recovers for later appends
        #expect(recorded.target == "ap01-3")
    }
}
