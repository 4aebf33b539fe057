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
        try await ThreadExecutor(name: "ManualClock.run", whenIdle: { self.advanceToNextDeadline() }).run(body)
    }
}
