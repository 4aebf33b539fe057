import Foundation
import Synchronization
import Testing

/// Runs each test on a thread of its own instead of the pool every test shares, and at most a
/// few such tests at once.
///
/// Swift's concurrency pool has a thread per core (two on a small machine). A test that blocks
/// its thread, waiting for a process to exit, reading a pipe, sleeping between polls, holds one
/// of them for as long as it waits, and with two such tests at once nothing else runs: the tests
/// that measure a timeout or wait for a real server then see their timers fire late. A test with
/// this trait blocks only its own thread. On a suite it applies to every test in it.
///
/// These are the tests that start processes (the built binary, nginx, PostgreSQL): run all at
/// once, a hundred of them would ask a two-core machine for hundreds of processes, and their own
/// margins of real time (a signal sent as a step starts, a lab's services coming up) would no
/// longer hold. So at most ``width`` of them run at the same time, whatever `swift test`'s own
/// parallelism; the others wait for a place, in the order they came.
///
/// It changes where and how many, not what tests may share: they still run at the same time as
/// each other (use `.serialized` for those that must not).
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
    /// How many tests with this trait run at once: three per core, or `SLUICE_TEST_WIDTH`.
    public static let width: Int = {
        if let text = ProcessInfo.processInfo.environment["SLUICE_TEST_WIDTH"], let width = Int(text), width > 0 { return width }
        return max(2, 3 * ProcessInfo.processInfo.activeProcessorCount)
    }()

    static let places = Places(OwnThreadTrait.width)

    /// Whether the test waits for one of the ``width`` places: false for a test that only
    /// computes (it starts no process, and its time limit must not count a wait for a place).
    public var queued = true

    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // A suite's own scope holds no test: only its test cases get a thread each.
        guard testCase != nil else { return try await function() }
        let executor = ThreadExecutor(name: "test \(test.name)")
        if queued {
            try await Self.places.withPlace { try await executor.run(function) }
        } else {
            try await executor.run(function)
        }
    }
}

extension OwnThreadTrait {
    /// The name of the test whose own thread the caller runs on, or nil on any other thread.
    public static var currentTest: String? {
        ThreadExecutor.currentName.flatMap { $0.hasPrefix("test ") ? String($0.dropFirst(5)) : nil }
    }
}

extension Trait where Self == OwnThreadTrait {
    /// Runs each test on a thread of its own, a few at once: for tests that block their thread
    /// (see ``OwnThreadTrait``).
    public static var ownThread: Self { Self() }

    /// Runs each test on a thread of its own, without waiting for a place: for tests that only
    /// compute, long enough to hold a thread of the pool (see ``OwnThreadTrait``).
    public static func ownThread(queued: Bool) -> Self { Self(queued: queued) }
}

/// A counting semaphore for tasks: at most `count` bodies at once, the others waiting in order.
final class Places: Sendable {
    private struct State {
        var free: Int
        var next = 0
        /// The tasks waiting for a place, by the order they came.
        var waiting: [Int: CheckedContinuation<Void, any Error>] = [:]
        /// Waiters cancelled before they were registered.
        var cancelled: Set<Int> = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: count)) }

    /// Runs `body` once a place is free, and frees it after.
    ///
    /// - Throws: `CancellationError` when cancelled while waiting; what `body` throws.
    func withPlace<T>(_ body: () async throws -> T) async throws -> T {
        try await take()
        defer { give() }
        return try await body()
    }

    private func take() async throws {
        let key = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let answer = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(key) != nil { return .failure(CancellationError()) }
                    if state.free > 0, state.waiting.isEmpty {
                        state.free -= 1
                        return .success(())
                    }
                    state.waiting[key] = continuation
                    return nil
                }
                if let answer { continuation.resume(with: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let waiter = state.waiting.removeValue(forKey: key) else {
                    state.cancelled.insert(key)
                    return nil
                }
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
        state.withLock { _ = $0.cancelled.remove(key) }
    }

    private func give() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard let first = state.waiting.keys.min() else {
                state.free += 1
                return nil
            }
            return state.waiting.removeValue(forKey: first)
        }
        next?.resume()
    }
}
