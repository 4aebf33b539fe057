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

    /// Holds the first transaction open until `followers` more appends are queued, then lets
    /// everything commit; returns the size of each transaction and the targets returned.
    static func batchSizes(maximumBatch: Int, followers: Int) async throws -> (sizes: [Int], targets: [String]) {
        let gate = Gate()
        let log = BatchLog()
        let committer = GroupCommitter(maximumBatch: maximumBatch) { events in
            let recorded = await log.record(events)
            await gate.wait()
            return recorded
        }
        let targets = try await withThrowingTaskGroup(of: RecordedEvent.self) { group in
            group.addTask { try await committer.append(Self.event(0)) }
            while await log.sizes.isEmpty { await Task.yield() }
            for index in 1...followers {
                group.addTask { try await committer.append(Self.event(index)) }
            }
            while committer.queuedCount < followers { await Task.yield() }
            await gate.open()
            var targets: [String] = []
            for try await event in group { targets.append(event.target ?? "") }
            return targets
        }
        return (await log.sizes, targets)
    }

    @Test func appendsQueuedDuringACommitShareTheNextTransaction() async throws {
        // Given a committer whose first transaction is held open
        // When ten more appends arrive while it is in flight
        let (sizes, targets) = try await Self.batchSizes(maximumBatch: 512, followers: 10)

        // Then they are committed together, and each caller gets its own event back
        #expect(sizes == [1, 10])
        #expect(Set(targets) == Set((0...10).map { "ap01-\($0)" }))
    }

    @Test func aBatchNeverExceedsTheMaximum() async throws {
        let (sizes, targets) = try await Self.batchSizes(maximumBatch: 4, followers: 10)
        #expect(sizes == [1, 4, 4, 2])
        #expect(targets.count == 11)
    }

    @Test func eventsHandedOverTogetherCommitTogetherInOrderAndEachCallerGetsItsOwn() async throws {
        let log = BatchLog()
        let committer = GroupCommitter(maximumBatch: 512) { events in await log.record(events) }
        let results = try await withThrowingTaskGroup(of: [RecordedEvent].self) { group in
            for caller in 0..<8 {
                group.addTask { try await committer.append((0..<3).map { Self.event(caller * 10 + $0) }) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8)
        for recorded in results {
            // A caller's three events are its own, in its order, with consecutive sequence numbers.
            let base = try #require(recorded.first?.target?.split(separator: "-").last.flatMap { Int($0) })
            #expect(recorded.map(\.target) == (base..<base + 3).map { "ap01-\($0)" })
            #expect(recorded.map(\.seq) == Array(recorded[0].seq..<recorded[0].seq + 3))
        }
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
