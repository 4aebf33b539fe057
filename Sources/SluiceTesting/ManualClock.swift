import Synchronization

/// A clock whose time moves only when a test moves it: retries, health intervals, bakes, guard
/// watches and waits take no real time at all, and happen in the same order on every run.
///
/// Two ways to drive it:
///
/// - By hand: ``advance(by:)`` and ``advance(to:)`` move the time and wake every sleeper whose
///   deadline has come. ``waitForSleepers(_:)`` waits until the code under test is asleep on the
///   clock, so that a test knows it can move the time on.
/// - Automatically: ``run(_:)`` runs a body (an engine run, say) on a single thread of its own,
///   and whenever nothing there can go on, moves the time to the earliest deadline. The body runs
///   to its end without a test driving time, and runs the same way every time (see ``run(_:)``).
///
/// Sleeping (``sleep(until:tolerance:)``):
///
/// - A task already cancelled throws `CancellationError` at once.
/// - A deadline not later than ``now`` returns at once.
/// - Otherwise the task waits until the time is advanced to the deadline or beyond. Cancelled
///   while it waits, it throws `CancellationError` at once and no longer counts as a sleeper.
/// - Sleepers whose deadlines come in one advance are woken earliest deadline first, and those
///   with the same deadline in the order they began to sleep.
///
/// Time never goes back: advancing to an instant before ``now`` is a programming error.
public final class ManualClock: Clock, Sendable {
    /// A point on the clock: how far it is from the clock's start.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// The time since the clock started (its `now` when made, unless given).
        public var offset: Duration

        public init(offset: Duration) { self.offset = offset }

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (left: Instant, right: Instant) -> Bool { left.offset < right.offset }

        public var description: String { "ManualClock.Instant(\(offset))" }
    }

    private struct Sleeper {
        var deadline: Instant
        /// The order it began to sleep in, so that equal deadlines wake in that order.
        var sequence: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Waiter {
        /// Whether the sleepers' deadlines are what the waiter waits for.
        var isMet: @Sendable ([Instant]) -> Bool
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Instant
        var nextSequence: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        /// Sleepers and waiters cancelled before they were registered: they must not wait at all.
        var cancelledEarly: Set<UInt64> = []
        var waiters: [UInt64: Waiter] = [:]
    }

    private let state: Mutex<State>

    /// A clock that reads `now`: zero from its start unless given.
    public init(now: Instant = Instant(offset: .zero)) {
        state = Mutex(State(now: now))
    }

    public var now: Instant { state.withLock { $0.now } }

    public var minimumResolution: Duration { .nanoseconds(1) }

    /// The deadlines of the tasks asleep on the clock now, earliest first.
    public var deadlines: [Instant] { state.withLock { Self.deadlines($0) } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let sequence = state.withLock { state -> UInt64 in
            defer { state.nextSequence += 1 }
            return state.nextSequence
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Registered { case now, alreadyDue, cancelled }
                let (outcome, waiters) = state.withLock { state -> (Registered, [Waiter]) in
                    if state.cancelledEarly.remove(sequence) != nil { return (.cancelled, []) }
                    if deadline <= state.now { return (.alreadyDue, []) }
                    state.sleepers[sequence] = Sleeper(deadline: deadline, sequence: sequence, continuation: continuation)
                    return (.now, Self.takeSatisfiedWaiters(&state))
                }
                switch outcome {
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .alreadyDue: continuation.resume()
                case .now: for waiter in waiters { waiter.continuation.resume() }
                }
            }
        } onCancel: {
            let (sleeper, ready) = state.withLock { state -> (Sleeper?, [Waiter]) in
                guard let sleeper = state.sleepers.removeValue(forKey: sequence) else {
                    // Not asleep yet (it is about to be: it must not), or woken already.
                    state.cancelledEarly.insert(sequence)
                    return (nil, [])
                }
                // One sleeper fewer may be what a waiter waits for.
                return (sleeper, Self.takeSatisfiedWaiters(&state))
            }
            sleeper?.continuation.resume(throwing: CancellationError())
            for waiter in ready { waiter.continuation.resume() }
        }
        // A sleeper woken by an advance before its cancellation ran leaves a stale mark behind.
        state.withLock { _ = $0.cancelledEarly.remove(sequence) }
    }

    /// Moves the time on by `duration` (not negative) and wakes every sleeper whose deadline has
    /// come, earliest first.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "ManualClock cannot go back: advance(by: \(duration))")
        let woken = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            return Self.takeDue(&state)
        }
        wake(woken)
    }

    /// Moves the time on to `instant` (not before ``now``) and wakes every sleeper whose deadline
    /// has come, earliest first. The sleepers all read the new time when they run: to have each
    /// one run at its own deadline, advance to each in turn, or use ``run(_:)``.
    public func advance(to instant: Instant) {
        let woken = state.withLock { state in
            precondition(instant >= state.now, "ManualClock cannot go back from \(state.now) to \(instant)")
            state.now = instant
            return Self.takeDue(&state)
        }
        wake(woken)
    }

    /// Moves the time to the earliest sleeper's deadline and wakes the sleepers due then; returns
    /// false, changing nothing, when no task sleeps on the clock.
    @discardableResult
    public func advanceToNextDeadline() -> Bool {
        let woken = state.withLock { state -> ([Sleeper], [Waiter]) in
            guard let first = state.sleepers.values.min(by: Self.wakeOrder) else { return ([], []) }
            state.now = max(state.now, first.deadline)
            return Self.takeDue(&state)
        }
        wake(woken)
        return !woken.0.isEmpty
    }

    /// Returns once at least `count` tasks sleep on the clock (at once if they do already): for a
    /// test that drives the time by hand and must know the code under test is waiting.
    ///
    /// - Throws: `CancellationError` when the waiting task is cancelled (a test's time limit).
    public func waitForSleepers(_ count: Int = 1) async throws {
        try await waitForSleepers { $0.count >= count }
    }

    /// Returns once a task sleeps until exactly `deadline` (at once if one does already): for a
    /// test that must know which wait the code under test has reached, a retry's delay say.
    ///
    /// - Throws: `CancellationError` when the waiting task is cancelled (a test's time limit).
    public func waitForSleeper(until deadline: Instant) async throws {
        try await waitForSleepers { $0.contains(deadline) }
    }

    /// Returns once the deadlines of the tasks asleep on the clock (earliest first) meet `isMet`
    /// (at once if they do already): for a test that must know exactly which waits the code
    /// under test has reached.
    ///
    /// - Throws: `CancellationError` when the waiting task is cancelled (a test's time limit).
    public func waitForSleepers(where isMet: @escaping @Sendable ([Instant]) -> Bool) async throws {
        let key = state.withLock { state -> UInt64 in
            defer { state.nextSequence += 1 }
            return state.nextSequence
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let answer = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelledEarly.remove(key) != nil { return .failure(CancellationError()) }
                    if isMet(Self.deadlines(state)) { return .success(()) }
                    state.waiters[key] = Waiter(isMet: isMet, continuation: continuation)
                    return nil
                }
                if let answer { continuation.resume(with: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let waiter = state.waiters.removeValue(forKey: key) else {
                    state.cancelledEarly.insert(key)
                    return nil
                }
                return waiter
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
        state.withLock { _ = $0.cancelledEarly.remove(key) }
    }

    /// How many tasks wait in ``waitForSleepers(where:)`` now, for the clock's own tests.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    // MARK: Helpers

    private static func wakeOrder(_ left: Sleeper, _ right: Sleeper) -> Bool {
        (left.deadline, left.sequence) < (right.deadline, right.sequence)
    }

    /// Removes and returns the sleepers due at the state's time, in wake order, and the waiters
    /// the sleepers left then satisfy.
    private static func takeDue(_ state: inout State) -> ([Sleeper], [Waiter]) {
        let now = state.now
        let due = state.sleepers.values.filter { $0.deadline <= now }.sorted(by: wakeOrder)
        for sleeper in due { state.sleepers.removeValue(forKey: sleeper.sequence) }
        return (due, due.isEmpty ? [] : takeSatisfiedWaiters(&state))
    }

    /// Wakes the sleepers due (in wake order), then the waiters satisfied, outside the lock.
    private func wake(_ woken: ([Sleeper], [Waiter])) {
        for sleeper in woken.0 { sleeper.continuation.resume() }
        for waiter in woken.1 { waiter.continuation.resume() }
    }

    private static func deadlines(_ state: State) -> [Instant] {
        state.sleepers.values.sorted(by: wakeOrder).map(\.deadline)
    }

    private static func takeSatisfiedWaiters(_ state: inout State) -> [Waiter] {
        let deadlines = deadlines(state)
        let ready = state.waiters.filter { $0.value.isMet(deadlines) }
        for key in ready.keys { state.waiters.removeValue(forKey: key) }
        return ready.sorted { $0.key < $1.key }.map(\.value)
    }
}
