import Synchronization
import Testing
@testable import SluiceTesting

@Suite("The manual clock", .timeLimit(.minutes(1)))
struct ManualClockTests {
    typealias Instant = ManualClock.Instant

    /// Appends lines from many tasks at once.
    final class Log: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func aSleeperWakesOnlyOnceTheTimeReachesItsDeadline() async throws {
        // Given a task asleep until 5 s
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(until: Instant(offset: .seconds(5))) }
        try await clock.waitForSleepers(1)

        // When the time moves to 4 s, it still sleeps
        clock.advance(by: .seconds(4))
        #expect(clock.deadlines == [Instant(offset: .seconds(5))])

        // Then at 5 s it wakes
        clock.advance(to: Instant(offset: .seconds(5)))
        try await sleeper.value
        #expect(clock.deadlines.isEmpty)
        #expect(clock.now == Instant(offset: .seconds(5)))
    }

    @Test func aDeadlineThatHasPassedReturnsAtOnce() async throws {
        let clock = ManualClock(now: Instant(offset: .seconds(10)))
        try await clock.sleep(until: Instant(offset: .seconds(3)))
        try await clock.sleep(for: .zero)
        #expect(clock.deadlines.isEmpty)
        #expect(clock.now == Instant(offset: .seconds(10)))
    }

    @Test func aCancelledSleeperThrowsAndNoLongerCounts() async throws {
        // Given a task asleep for an hour
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(3600)) }
        try await clock.waitForSleepers(1)

        // When it is cancelled
        sleeper.cancel()

        // Then it throws CancellationError at once, and the clock has no sleeper left
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.deadlines.isEmpty)
        #expect(clock.now == Instant(offset: .zero))
    }

    @Test func aTaskCancelledBeforeItSleepsThrowsAtOnce() async {
        let clock = ManualClock()
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(1))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.deadlines.isEmpty)
    }

    @Test func advancingToTheNextDeadlineWakesTheEarliestSleepersOnly() async throws {
        // Given sleepers until 2 s and 7 s
        let clock = ManualClock()
        let early = Task { try await clock.sleep(for: .seconds(2)) }
        let late = Task { try await clock.sleep(for: .seconds(7)) }
        try await clock.waitForSleepers(2)

        // When the clock moves to the next deadline
        #expect(clock.advanceToNextDeadline())

        // Then only the first woke, at 2 s
        try await early.value
        #expect(clock.now == Instant(offset: .seconds(2)))
        #expect(clock.deadlines == [Instant(offset: .seconds(7))])
        late.cancel()
        _ = try? await late.value
        #expect(!clock.advanceToNextDeadline())
        #expect(clock.now == Instant(offset: .seconds(2)))
    }

    @Test func goingBackInTimeIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            ManualClock(now: ManualClock.Instant(offset: .seconds(5))).advance(to: ManualClock.Instant(offset: .seconds(1)))
        }
        await #expect(processExitsWith: .failure) {
            ManualClock().advance(by: .seconds(-1))
        }
    }

    // MARK: run(_:)

    @Test func runMovesTheTimeOnUntilTheBodyEnds() async {
        // Given a body that sleeps an hour, then a day
        let clock = ManualClock()

        // When it runs on the clock
        let slept = await clock.run {
            try? await clock.sleep(for: .seconds(3600))
            let afterAnHour = clock.now
            try? await clock.sleep(for: .seconds(86_400))
            return afterAnHour
        }

        // Then it ended, the time having moved exactly as far as it slept
        #expect(slept == Instant(offset: .seconds(3600)))
        #expect(clock.now == Instant(offset: .seconds(90_000)))
    }

    @Test func runWakesEachSleeperAtItsOwnDeadlineEarliestFirstThenInTheOrderTheySlept() async {
        // Given four child tasks sleeping 3 s, 1 s, 2 s and 1 s, in that order
        let clock = ManualClock()
        let log = Log()

        // When they run on the clock
        await clock.run {
            await withTaskGroup(of: Void.self) { group in
                for (name, seconds) in [("c", 3), ("a", 1), ("b", 2), ("a2", 1)] {
                    group.addTask {
                        try? await clock.sleep(for: .seconds(seconds))
                        log.append("\(name) at \(clock.now.offset)")
                    }
                }
            }
        }

        // Then each woke at its deadline, equal deadlines in the order they began to sleep
        #expect(log.all == ["a at 1.0 seconds", "a2 at 1.0 seconds", "b at 2.0 seconds", "c at 3.0 seconds"])
    }

    @Test func runIsDeterministic() async {
        // Given two loops interleaving on the clock, one every 1 s and one every 1.5 s, each also
        // yielding between its steps
        func interleave() async -> [String] {
            let clock = ManualClock()
            let log = Log()
            await clock.run {
                await withTaskGroup(of: Void.self) { group in
                    for (name, period) in [("fast", Duration.seconds(1)), ("slow", .milliseconds(1500))] {
                        group.addTask {
                            for step in 0..<6 {
                                log.append("\(name)\(step)@\(clock.now.offset)")
                                await Task.yield()
                                try? await clock.sleep(for: period)
                            }
                        }
                    }
                }
            }
            return log.all
        }

        // When the same body runs five times
        let first = await interleave()
        for _ in 0..<4 { #expect(await interleave() == first) }

        // Then every run did the same, in the same order
        #expect(first.count == 12)
        #expect(first.filter { $0.hasPrefix("slow") }.last == "slow5@7.5 seconds")
    }

    struct Failed: Error, Equatable {}

    @Test func runReturnsWhatTheBodyReturnsAndThrowsWhatItThrows() async throws {
        let clock = ManualClock()
        #expect(await clock.run { 42 } == 42)
        await #expect(throws: Failed()) {
            try await clock.run { () async throws(Failed) -> Int in
                try? await clock.sleep(for: .seconds(1))
                throw Failed()
            }
        }
        #expect(clock.now == Instant(offset: .seconds(1)))
    }

    @Test func cancellationReachesASleeperInARun() async {
        // Given a task group in a run: one child sleeps a day, the other cancels the group after 1 s
        let clock = ManualClock()
        let outcome = await clock.run {
            await withTaskGroup(of: String.self) { group in
                group.addTask {
                    do {
                        try await clock.sleep(for: .seconds(86_400))
                        return "slept"
                    } catch {
                        return "cancelled at \(clock.now.offset)"
                    }
                }
                group.addTask {
                    try? await clock.sleep(for: .seconds(1))
                    return "canceller"
                }
                let first = await group.next()
                group.cancelAll()
                return [first, await group.next()].compactMap { $0 }
            }
        }
        // Then the day-long sleep ended at 1 s, cancelled
        #expect(outcome == ["canceller", "cancelled at 1.0 seconds"])
    }

    @Test func waitingForSleepersEndsWhenTheWaiterIsCancelled() async {
        let clock = ManualClock()
        let waiter = Task { try await clock.waitForSleepers(1) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test func waitForSleeperUntilADeadlineReturnsOnceATaskSleepsUntilExactlyThen() async throws {
        // Given a task that sleeps 1 s, then 2 s more
        let clock = ManualClock()
        let sleeper = Task {
            try await clock.sleep(for: .seconds(1))
            try await clock.sleep(for: .seconds(2))
        }
        // When a test waits for the second sleep, moving the time past the first
        try await clock.waitForSleeper(until: Instant(offset: .seconds(1)))
        clock.advance(by: .seconds(1))
        try await clock.waitForSleeper(until: Instant(offset: .seconds(3)))
        // Then the task sleeps until 3 s, and that was all it waited for
        #expect(clock.deadlines == [Instant(offset: .seconds(3))])
        clock.advance(by: .seconds(2))
        try await sleeper.value
    }

    @Test func aWaiterIsAnsweredWhenASleeperLeavesToo() async throws {
        // Given sleepers until 1 s and 2 s, and a test waiting until only the first is left
        let clock = ManualClock()
        let first = Task { try await clock.sleep(for: .seconds(1)) }
        let second = Task { try await clock.sleep(for: .seconds(2)) }
        try await clock.waitForSleepers(2)
        async let waited: Void = clock.waitForSleepers { $0 == [Instant(offset: .seconds(1))] }
        while clock.waiterCount == 0 { await Task.yield() }

        // When the second is cancelled, the waiter is answered: no sleeper came, one left
        second.cancel()
        try await waited
        #expect(clock.deadlines == [Instant(offset: .seconds(1))])
        _ = try? await second.value
        clock.advance(by: .seconds(1))
        try await first.value
    }

    @Test func waitForSleepersReturnsOnceEnoughTasksSleep() async throws {
        let clock = ManualClock()
        let first = Task { try await clock.sleep(for: .seconds(1)) }
        let second = Task { try await clock.sleep(for: .seconds(1)) }
        try await clock.waitForSleepers(2)
        #expect(clock.deadlines.count == 2)
        clock.advance(by: .seconds(1))
        try await first.value
        try await second.value
        try await clock.waitForSleepers(0)  // none needed: at once
    }
}
