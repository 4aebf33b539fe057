import Testing

/// Runs each test on a thread of its own instead of the pool every test shares.
///
/// Swift's concurrency pool has a thread per core (two on a small machine). A test that blocks
/// its thread, waiting for a process to exit, reading a pipe, sleeping between polls, holds one
/// of them for as long as it waits, and with two such tests at once nothing else runs: the tests
/// that measure a timeout or wait for a real server then see their timers fire late. A test with
/// this trait blocks only its own thread. On a suite it applies to every test in it.
///
/// It changes where a test runs, not what it may share: tests still run at the same time as
/// each other (use `.serialized` for those that must not).
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // A suite's own scope holds no test: only its test cases get a thread each.
        guard testCase != nil else { return try await function() }
        try await ThreadExecutor(name: "test \(test.name)").run(function)
    }
}

extension OwnThreadTrait {
    /// The name of the test whose own thread the caller runs on, or nil on any other thread.
    public static var currentTest: String? {
        ThreadExecutor.currentName.flatMap { $0.hasPrefix("test ") ? String($0.dropFirst(5)) : nil }
    }
}

extension Trait where Self == OwnThreadTrait {
    /// Runs each test on a thread of its own: for tests that block their thread (see ``OwnThreadTrait``).
    public static var ownThread: Self { Self() }
}
