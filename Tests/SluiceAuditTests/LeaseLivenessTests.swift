import Foundation
import SluiceCore
import Testing
@testable import SluiceAudit

/// The one liveness rule target locks and run leases share, over plain values: no store, no
/// process, the clock given.
@Suite struct LeaseLivenessTests {
    static let heartbeat = Date(timeIntervalSince1970: 1_795_249_815)

    static func lock(heartbeatAt: String = Timestamp.format(heartbeat), ttlMilliseconds: Int64 = 30_000) -> TargetLock {
        TargetLock(
            target: "web-1", runID: RunID("r-20261121-083015-aaaa")!, host: "ops-1", pid: 4242,
            acquiredAt: heartbeatAt, heartbeatAt: heartbeatAt, ttlMilliseconds: ttlMilliseconds, token: .random())
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var holder: HolderProcess
        /// Seconds from the heartbeat to the store's now.
        var age: TimeInterval
        var expected: LockState
        var testDescription: String { "\(holder), heartbeat \(age) s old: \(expected)" }
    }

    @Test(arguments: [
        // On this host the process decides, whatever the heartbeat's age
        Case(holder: .goneHere, age: 0, expected: .stale),
        Case(holder: .goneHere, age: 3600, expected: .stale),
        Case(holder: .runningHere, age: 0, expected: .live),
        Case(holder: .runningHere, age: 3600, expected: .live),
        // Elsewhere the heartbeat decides, by the store's clock, the TTL included
        Case(holder: .elsewhere, age: 0, expected: .live),
        Case(holder: .elsewhere, age: 30, expected: .live),
        Case(holder: .elsewhere, age: 31, expected: .unverifiable),
        Case(holder: .elsewhere, age: 3600, expected: .unverifiable),
        // A store clock behind the heartbeat's (another runner's clock ran ahead) is not expiry
        Case(holder: .elsewhere, age: -60, expected: .live),
    ])
    func theHolderOnThisHostOrTheHeartbeatElsewhereDecides(_ example: Case) {
        let now = Self.heartbeat.addingTimeInterval(example.age)
        #expect(Self.lock().state(at: now, holder: example.holder) == example.expected)
    }

    @Test func anUnreadableHeartbeatElsewhereIsUnverifiableButOnThisHostTheProcessStillDecides() {
        let lock = Self.lock(heartbeatAt: "yesterday")
        #expect(lock.state(at: Self.heartbeat, holder: .elsewhere) == .unverifiable)
        #expect(lock.state(at: Self.heartbeat, holder: .runningHere) == .live)
        #expect(lock.state(at: Self.heartbeat, holder: .goneHere) == .stale)
    }

    @Test func aRunLeaseIsJudgedByTheSameRule() {
        let lease = RunLease(
            runID: RunID("r-20261121-083015-aaaa")!, host: "elsewhere.example", pid: 4242,
            acquiredAt: Timestamp.format(Self.heartbeat), heartbeatAt: Timestamp.format(Self.heartbeat),
            ttlMilliseconds: 1000, token: .random())
        #expect(lease.state(at: Self.heartbeat.addingTimeInterval(1), holder: .elsewhere) == .live)
        #expect(lease.state(at: Self.heartbeat.addingTimeInterval(2), holder: .elsewhere) == .unverifiable)
    }

    @Test func theProbeTellsThisHostFromAnother() {
        #expect(HolderProcess.probe(host: ProcessProbe.hostName, pid: ProcessProbe.currentPID) == .runningHere)
        #expect(HolderProcess.probe(host: "not-" + ProcessProbe.hostName, pid: ProcessProbe.currentPID) == .elsewhere)
        // A pid that cannot exist: above the kernel's limit (pid_max is at most 2^22)
        #expect(HolderProcess.probe(host: ProcessProbe.hostName, pid: 99_999_999) == .goneHere)
    }
}
