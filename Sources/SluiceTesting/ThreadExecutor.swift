import Foundation

/// A task executor with one thread of its own: the tasks that prefer it run there, one piece at
/// a time, in the order the pieces became ready.
///
/// For ``ManualClock/run(_:)`` (which moves its clock whenever the thread has nothing to run)
/// and for ``OwnThreadTrait`` (a test that blocks its thread waiting for a process, without
/// holding one of the few threads every other test shares).
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private enum Phase {
        /// Waiting for the body's first piece: nothing is run on being idle yet.
        case starting
        case running
        /// The body ended: the thread runs what is queued and stops; a piece that comes later
        /// (a task that outlived the body) goes to the global executor.
        case ended
    }

    private let name: String
    /// Called on the thread whenever nothing is queued while the body runs; returns whether it
    /// made something ready (for ManualClock.run, by moving the clock).
    private let whenIdle: (() -> Bool)?
    /// Guards `jobs`, `next` and `phase`; signalled when either changes from another thread.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0
    private var phase = Phase.starting

    init(name: String, whenIdle: (() -> Bool)? = nil) {
        self.name = name
        self.whenIdle = whenIdle
    }

    /// Starts the thread. Call once, before the body is scheduled on the executor.
    func start() {
        let thread = Thread { [self] in
            Thread.current.threadDictionary[Self.nameKey] = name
            while let job = take() { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
        thread.name = name
        thread.start()
    }

    private static let nameKey = "SluiceTesting.ThreadExecutor"

    /// The name of the thread executor whose thread the caller runs on, or nil on any other thread.
    static var currentName: String? { Thread.current.threadDictionary[nameKey] as? String }

    func enqueue(_ job: consuming ExecutorJob) {
        condition.lock()
        if phase == .ended, next == jobs.count {
            condition.unlock()
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(UnownedJob(job))
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the thread, and ends the thread once it returned.
    func run<T, Failure: Error>(_ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        start()
        return try await withTaskExecutorPreference(self) { () async throws(Failure) -> T in
            setPhase(.running)
            defer { setPhase(.ended) }
            return try await body()
        }
    }

    private func setPhase(_ new: Phase) {
        condition.lock()
        phase = new
        condition.signal()
        condition.unlock()
    }

    /// The next piece of work, waiting (or calling `whenIdle`) while there is none; nil once the
    /// body ended and nothing is left.
    private func take() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while next == jobs.count {
            switch phase {
            case .ended:
                return nil
            case .running where whenIdle != nil:
                // Every task here waits. A task woken by `whenIdle` is enqueued (a resumed task
                // goes to its preferred executor, this one) before `whenIdle` returns.
                condition.unlock()
                let madeReady = whenIdle?() ?? false
                condition.lock()
                if !madeReady, next == jobs.count, phase == .running { condition.wait() }
            case .running, .starting:
                condition.wait()
            }
        }
        let job = jobs[next]
        next += 1
        if next == jobs.count {
            // Keep the array from growing for the whole run.
            jobs.removeAll(keepingCapacity: true)
            next = 0
        }
        return job
    }
}
