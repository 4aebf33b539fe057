import Foundation
@testable import SluiceTesting
import Testing

@Suite("Tests on a thread of their own", .ownThread)
struct OwnThreadTraitTests {
    /// The test whose thread the caller runs on (Thread.current is not for async code).
    static func threadName() -> String? { OwnThreadTrait.currentTest }

    @Test func aBlockingTestRunsOnItsOwnThread() {
        // A synchronous test body, as the end-to-end tests have: it runs on the trait's thread
        #expect(OwnThreadTrait.currentTest == "aBlockingTestRunsOnItsOwnThread()")
    }

    @Test func anAsyncTestAndWhatItAwaitsComeBackToItsThread() async throws {
        #expect(Self.threadName() == "anAsyncTestAndWhatItAwaitsComeBackToItsThread()")
        try await Task.sleep(for: .milliseconds(1))
        #expect(Self.threadName() == "anAsyncTestAndWhatItAwaitsComeBackToItsThread()")
        // Its child tasks run there too
        let child = await withTaskGroup(of: String?.self) { group in
            group.addTask { Self.threadName() }
            return await group.next() ?? nil
        }
        #expect(child == "anAsyncTestAndWhatItAwaitsComeBackToItsThread()")
    }

    @Test(arguments: [1, 2]) func eachCaseHasAThread(_ number: Int) {
        #expect(OwnThreadTrait.currentTest == "eachCaseHasAThread(_:)")
    }
}

@Suite("A few places at once", .timeLimit(.minutes(1)))
struct PlacesTests {
    @Test func atMostTheCountRunAtOnceTheOthersInTheOrderTheyCame() async {
        // Given two places and four bodies of 1 s each, on a manual clock
        let clock = ManualClock()
        let places = Places(2)
        let log = ManualClockTests.Log()
        // When they all ask at once
        await clock.run {
            await withTaskGroup(of: Void.self) { group in
                for name in ["a", "b", "c", "d"] {
                    group.addTask {
                        try? await places.withPlace {
                            log.append("\(name) starts at \(clock.now.offset)")
                            try? await clock.sleep(for: .seconds(1))
                        }
                    }
                }
            }
        }
        // Then two ran at a time, in the order they came
        #expect(log.all == ["a starts at 0.0 seconds", "b starts at 0.0 seconds", "c starts at 1.0 seconds", "d starts at 1.0 seconds"])
    }

    @Test func aTaskCancelledWhileItWaitsThrowsAndTakesNoPlace() async throws {
        let places = Places(1)
        let clock = ManualClock()
        let holder = Task { try await places.withPlace { try await clock.sleep(for: .seconds(1)) } }
        try await clock.waitForSleepers(1)
        let waiter = Task { try await places.withPlace { "ran" } }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        clock.advance(by: .seconds(1))
        try await holder.value
        #expect(try await places.withPlace { "ran" } == "ran")
    }
}

@Suite("Tests that only compute, on a thread of their own", .ownThread(queued: false))
struct UnqueuedOwnThreadTests {
    @Test func itRunsOnItsOwnThreadWithoutAPlace() {
        #expect(OwnThreadTrait.currentTest == "itRunsOnItsOwnThreadWithoutAPlace()")
    }
}
