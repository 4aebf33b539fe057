import Synchronization

/// What stops a run from outside the engine: the operator's request (the first Ctrl-C, SIGTERM
/// or SIGHUP), after which no new step starts; or the loss of a lock the run holds (its
/// heartbeat found it gone or taken), after which no step at all starts on that target and the
/// run halts.
public final class StopSignal: Sendable {
    private let requested = Latch()
    private let lockLost = Latch()
    /// Each target whose lock was lost, with why.
    private let lost = Mutex<[String: String]>([:])

    /// A signal nothing has fired yet.
    public init() {}

    /// Asks the run to stop (the first Ctrl-C, SIGTERM or SIGHUP).
    public func request() { requested.fire() }

    /// Tells the run that its locks on these targets (target: why) are no longer its own.
    public func loseLocks(_ targets: [String: String]) {
        guard !targets.isEmpty else { return }
        lost.withLock { $0.merge(targets) { first, _ in first } }
        lockLost.fire()
    }

    /// Why the lock on `target` was lost, or `nil` while the run still holds it.
    public func lostLock(on target: String) -> String? { lost.withLock { $0[target] } }

    /// Every target whose lock was lost, with why.
    public var lostLocks: [String: String] { lost.withLock { $0 } }

    /// Waits until a stop is requested (true) or `ended` fires (false), whichever comes first,
    /// and no longer: the engine returns only once this watcher has.
    func wait(orUntil ended: Latch) async -> Bool {
        await Self.first(of: requested, or: ended)
    }

    /// Waits until a lock is lost (true) or `ended` fires (false).
    func waitForLostLock(orUntil ended: Latch) async -> Bool {
        await Self.first(of: lockLost, or: ended)
    }

    /// Waits until `awaited` fires (true) or `ended` does (false), whichever comes first.
    static func first(of awaited: Latch, or ended: Latch) async -> Bool {
        await withCheckedContinuation { continuation in
            let answer = FirstAnswer(continuation)
            awaited.onFire { answer.give(true) }
            ended.onFire { answer.give(false) }
        }
    }
}

/// A one-shot event: once fired it stays fired, and each action registered on it runs once.
final class Latch: Sendable {
    private let state = Mutex<(fired: Bool, actions: [@Sendable () -> Void])>((false, []))

    var isFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.actions = [] }
            return state.actions
        }
        for action in actions { action() }
    }

    /// Runs `action` when the latch fires, or at once if it has.
    func onFire(_ action: @escaping @Sendable () -> Void) {
        let firedAlready = state.withLock { state in
            if !state.fired { state.actions.append(action) }
            return state.fired
        }
        if firedAlready { action() }
    }
}

/// Resumes a continuation with the first answer given; later ones are dropped.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func give(_ answer: Bool) {
        continuation.withLock { waiting in
            defer { waiting = nil }
            return waiting
        }?.resume(returning: answer)
    }
}

extension Clock where Duration == Swift.Duration {
    /// Sleeps for `duration`, or until `latch` fires; returns whether the latch cut it short.
    func sleep(for duration: Duration, unless latch: Latch?) async -> Bool {
        guard let latch else {
            try? await sleep(for: duration)
            return false
        }
        let slept = Latch()
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await self.sleep(for: duration)
                slept.fire()
                return false
            }
            group.addTask { await StopSignal.first(of: latch, or: slept) }
            let stopped = await group.next() ?? false
            group.cancelAll()
            return stopped
        }
    }
}

/// Runs `main` beside `companion` (a heartbeat, a ticker) and returns `main`'s answer once it
/// has one; the companion, which runs until it is cancelled, is cancelled then, and awaited.
public func whileRunning<T: Sendable>(
    _ companion: @escaping @Sendable () async -> Void, _ main: @escaping @Sendable () async -> T
) async -> T {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await main() }
        group.addTask {
            await companion()
            return nil
        }
        var answer: T?
        for await finished in group {
            if let finished {
                answer = finished
                group.cancelAll()
            }
        }
        guard let answer else { preconditionFailure("the main task of whileRunning gave no answer") }
        return answer
    }
}
