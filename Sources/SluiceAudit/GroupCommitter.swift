/// Batches concurrent appends into shared transactions (group commit) without weakening the
/// durability contract: every caller resumes only after the transaction holding its event
/// committed.
///
/// There is no background task. The first caller to find the committer idle becomes the
/// leader: it commits its own event together with everything queued meanwhile. Callers that
/// arrive while a transaction is in flight queue up; when it commits, the leader resumes the
/// callers of its batch with their results and wakes the first queued caller to lead the next
/// batch. So one fsync serves many events, and no caller waits for batches after its own.
actor GroupCommitter {
    private enum Wake: Sendable {
        case done(Result<RecordedEvent, any Error>)
        case lead
    }

    private struct Waiter {
        let event: PreparedEvent
        let continuation: CheckedContinuation<Wake, Never>
    }

    private var queue: [Waiter] = []
    private var queueStart = 0
    private var busy = false
    private var lastBatchSize = 1
    private let maximumBatch: Int
    private let commit: @Sendable ([PreparedEvent]) async throws -> [RecordedEvent]

    init(maximumBatch: Int, commit: @escaping @Sendable ([PreparedEvent]) async throws -> [RecordedEvent]) {
        precondition(maximumBatch > 0, "a batch must hold at least one event, not \(maximumBatch)")
        self.maximumBatch = maximumBatch
        self.commit = commit
    }

    /// How many appends wait for the transaction in flight to finish (for tests).
    var queuedCount: Int { queue.count - queueStart }

    /// Appends `event` and returns it as recorded, after its transaction committed.
    func append(_ event: PreparedEvent) async throws -> RecordedEvent {
        if busy {
            let wake = await withCheckedContinuation { continuation in
                queue.append(Waiter(event: event, continuation: continuation))
            }
            switch wake {
            case .done(let result):
                return try result.get()
            case .lead:
                break
            }
        } else {
            busy = true
            if lastBatchSize > 1 {
                // Others were appending a moment ago, and the callers the last batch just
                // resumed are about to append again: let them queue first, so that they join
                // this transaction rather than wait for the next fsync. A lone writer (batches
                // of one) never pays for this.
                await Task.yield()
            }
        }
        return try await lead(with: event)
    }

    private func lead(with own: PreparedEvent) async throws -> RecordedEvent {
        let followers = dequeue(upTo: maximumBatch - 1)
        lastBatchSize = followers.count + 1
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
        if let next = dequeue(upTo: 1).first {
            next.continuation.resume(returning: .lead)
        } else {
            busy = false
        }
        return try result.get()[0]
    }

    private func dequeue(upTo count: Int) -> [Waiter] {
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
