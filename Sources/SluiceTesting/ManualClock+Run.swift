import Foundation

extension ManualClock {
    /// Runs `body` to its end, moving the time on whenever nothing in it can go on without it.
    ///
    /// `body`, and every child task it starts (task groups, `async let`), runs on one thread of
    /// its own, one piece at a time, in the order the pieces became ready. Whenever none of them
    /// can run, the clock moves to the earliest deadline of its sleepers and wakes those due then
    /// (earliest first, equal deadlines in the order they began to sleep), and the woken tasks run
    /// before time moves again. So each sleeper runs at its own deadline, a run goes to its end as
    /// if the time passed, it takes none, and with fakes that answer at once (``RecordingTransport``,
    /// ``ScriptedHealthProber``) it does the same things in the same order every time.
    ///
    /// `body` must depend on nothing outside it: real I/O, a real clock, or an actor with its own
    /// executor would be waited for while the clock moves on. When nothing can run and nobody
    /// sleeps on the clock, the thread waits for another thread to wake one of the tasks; in a
    /// world of fakes that is a deadlock, so a test using this should carry a `.timeLimit`. A
    /// `body` that never ends (a loop sleeping forever) keeps moving the time on.
    ///
    /// One `run` at a time per clock; the clock must not be advanced by hand meanwhile.
    public func run<T, Failure: Error>(_ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        let executor = ClockDrivenExecutor(clock: self)
        executor.start()
        return try await withTaskExecutorPreference(executor) { () async throws(Failure) -> T in
            executor.bodyStarted()
            defer { executor.bodyEnded() }
            return try await body()
        }
    }
}

/// A task executor with one thread of its own, which moves its ``ManualClock`` on whenever it
/// has nothing to run. See ``ManualClock/run(_:)``.
final class ClockDrivenExecutor: TaskExecutor, @unchecked Sendable {
    private enum Phase { case waitingForBody, running, ended }

    private let clock: ManualClock
    /// Guards `jobs` and `phase`; signalled when either changes from another thread.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var nextJob = 0
    private var phase = Phase.waitingForBody

    init(clock: ManualClock) { self.clock = clock }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "ManualClock.run"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Called on the executor's thread when the body begins: from now on an idle executor moves
    /// the clock. Before, the executor only waits for the body's first piece to arrive.
    func bodyStarted() { setPhase(.running) }

    /// Called on the executor's thread when the body ends: the thread finishes what is queued
    /// and stops.
    func bodyEnded() { setPhase(.ended) }

    private func setPhase(_ new: Phase) {
        condition.lock()
        phase = new
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next piece of work, moving the clock on while there is none; nil once the body ended
    /// and nothing is left.
    private func next() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while nextJob == jobs.count {
            switch phase {
            case .ended:
                return nil
            case .running:
                // Nothing can run: every task of the body waits. Waking the earliest sleepers
                // enqueues them (a resumed task goes to its preferred executor, this one) before
                // advanceToNextDeadline returns.
                condition.unlock()
                let moved = clock.advanceToNextDeadline()
                condition.lock()
                if moved { continue }
                if nextJob == jobs.count, phase == .running { condition.wait() }
            case .waitingForBody:
                condition.wait()
            }
        }
        let job = jobs[nextJob]
        nextJob += 1
        if nextJob == jobs.count {
            // Keep the array from growing for the whole run.
            jobs.removeAll(keepingCapacity: true)
            nextJob = 0
        }
        return job
    }
}
