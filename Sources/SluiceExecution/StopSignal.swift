import Synchronization

/// The operator's request to stop a run: the first Ctrl-C or SIGTERM sets it, and the engine
/// stops starting steps.
public final class StopSignal: Sendable {
    private let requested = Latch()

    public init() {}

    public func request() { requested.fire() }

    /// Waits until a stop is requested (true) or `ended` fires (false), whichever comes first,
    /// and no longer: the engine returns only once this watcher has.
    func wait(orUntil ended: Latch) async -> Bool {
        await Self.first(of: requested, or: ended)
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
