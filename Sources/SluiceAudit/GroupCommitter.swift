/// Batches concurrent appends into shared transactions (group commit) without weakening the
/// durability contract: every caller resumes only after the transaction holding its event
/// committed.
///
/// There is no background task. The first caller to find the committer idle becomes the
/// leader: it commits its own event together with everything queued meanwhile. Callers that
/// arrive while a transaction is in flight queue up; when it commits, the leader resumes the
/// callers of its batch with their results and wakes the first queued caller to lead the next
/// batch. So one fsync serves many events, and no caller waits for batches after its own.
import Synchronization

final class GroupCommitter: Sendable {
    private enum Wake: Sendable {
        case done(Result<RecordedEvent, any Error>)
        case lead
    }

    private struct Waiter {
        let event: PreparedEvent
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
        // Either lead now, or queue until a leader hands over a result or the lead. The check
        // and the enqueueing happen under one lock, so a wake-up can never be missed.
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let leadNow = state.withLock { state in
                if state.busy {
                    state.queue.append(Waiter(event: event, continuation: continuation))
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
        return try await lead(with: event)
    }

    private func lead(with own: PreparedEvent) async throws -> RecordedEvent {
        let followers = state.withLock { state in
            let followers = state.dequeue(upTo: maximumBatch - 1)
            state.lastBatchSize = followers.count + 1
            return followers
        }
        let result: Result<[RecordedEvent], any Error>
        do {
            let recorded = try await commit([own] + followers.map(\.event))
            precondition(recorded.count == followers.count + 1,
                         "a batch of \(followers.count + 1) events committed as \(recorded.count)")
            result = .success(recorded)
        } catch {
            result = .failure(error)
        }
        for (index, follower) in followers.enumerated() {
            follower.continuation.resume(returning: .done(result.map { $0[index + 1] }))
        }
        let next = state.withLock { state in
            let next = state.dequeue(upTo: 1).first
            if next == nil { state.busy = false }
            return next
        }
        next?.continuation.resume(returning: .lead)
        return try result.get()[0]
    }
}
