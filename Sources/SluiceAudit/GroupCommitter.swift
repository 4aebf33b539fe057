/// Batches concurrent appends into shared transactions (group commit) without weakening the
/// durability contract: every caller resumes only after the transaction holding its events
/// committed. A caller may hand over several events at once; they commit together, in order.
///
/// There is no background task. The first caller to find the committer idle becomes the
/// leader: it commits its own event together with everything queued meanwhile. Callers that
/// arrive while a transaction is in flight queue up; when it commits, the leader resumes the
/// callers of its batch with their results and wakes the first queued caller to lead the next
/// batch. So one fsync serves many events, and no caller waits for batches after its own.
import Synchronization

final class GroupCommitter: Sendable {
    private enum Wake: Sendable {
        case done(Result<[RecordedEvent], any Error>)
        case lead
    }

    private struct Waiter {
        let events: [PreparedEvent]
        let continuation: CheckedContinuation<Wake, Never>
    }

    /// The queue and whether a transaction is in flight. A lock, not an actor: every append
    /// would otherwise hop onto the actor's executor and back, and on a small machine those
    /// thread switches, not the fsync, bound how fast many tasks can append.
    private struct State {
        var queue: [Waiter] = []
        var queueStart = 0
        var busy = false
        var lastBatchSize = 1

        mutating func dequeue(upTo count: Int) -> [Waiter] {
            let end = min(queue.count, queueStart + count)
            let taken = Array(queue[queueStart..<end])
            queueStart = end
            if queueStart == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueStart = 0
            }
            return taken
        }
    }

    private let state = Mutex(State())
    private let maximumBatch: Int
    private let commit: @Sendable ([PreparedEvent]) async throws -> [RecordedEvent]

    init(maximumBatch: Int, commit: @escaping @Sendable ([PreparedEvent]) async throws -> [RecordedEvent]) {
        precondition(maximumBatch > 0, "a batch must hold at least one event, not \(maximumBatch)")
        self.maximumBatch = maximumBatch
        self.commit = commit
    }

    var queuedCount: Int { state.withLock { $0.queue.count - $0.queueStart } }

    func append(_ event: PreparedEvent) async throws -> RecordedEvent {
        let recorded = try await append([event])
        guard let first = recorded.first else { preconditionFailure("one event committed as none") }
        return first
    }

    /// Commits `events` in one transaction, possibly with other callers' events, and returns
    /// them as recorded, in order.
    func append(_ events: [PreparedEvent]) async throws -> [RecordedEvent] {
        // Either lead now, or queue until a leader hands over a result or the lead. The check
        // and the enqueueing happen under one lock, so a wake-up can never be missed.
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let leadNow = state.withLock { state in
                if state.busy {
                    state.queue.append(Waiter(events: events, continuation: continuation))
                    return false
                }
                state.busy = true
                return true
            }
            if leadNow { continuation.resume(returning: .lead) }
        }
        if case .done(let result) = wake { return try result.get() }
        if state.withLock({ $0.lastBatchSize > 1 }) {
            // Others were appending a moment ago, and the callers the last batch just resumed
            // are about to append again: let them queue first, so that they join this
            // transaction rather than wait for the next fsync. A lone writer never pays for this.
            await Task.yield()
        }
        return try await lead(with: events)
    }

    private func lead(with own: [PreparedEvent]) async throws -> [RecordedEvent] {
        let followers = state.withLock { state in
            let followers = state.dequeue(upTo: maximumBatch - 1)
            state.lastBatchSize = followers.count + 1
            return followers
        }
        let batch = own + followers.flatMap(\.events)
        let result: Result<[RecordedEvent], any Error>
        do {
            let recorded = try await commit(batch)
            precondition(recorded.count == batch.count, "a batch of \(batch.count) events committed as \(recorded.count)")
            result = .success(recorded)
        } catch {
            result = .failure(error)
        }
        var start = own.count
        for follower in followers {
            let range = start..<(start + follower.events.count)
            follower.continuation.resume(returning: .done(result.map { Array($0[range]) }))
            start = range.upperBound
        }
        let next = state.withLock { state in
            let next = state.dequeue(upTo: 1).first
            if next == nil { state.busy = false }
            return next
        }
        next?.continuation.resume(returning: .lead)
        return try Array(result.get().prefix(own.count))
    }
}
