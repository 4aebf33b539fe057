import SluiceAudit
import SluiceCore
import SluiceExecution
import Synchronization

/// Keeps a run's target locks and its run lease fresh while it runs, and reads what each
/// heartbeat found: a lock gone from the store or held by another run, or a lease this process
/// no longer holds, is lost. A lost lock is recorded (`lock.lost`), told to the operator, and
/// given to the engine, which starts no further step on that target; the run halts.
///
/// A heartbeat that cannot be written is not a loss by itself (the store may be busy for a
/// moment); one that has not been written for longer than the locks' TTL is, because past that
/// another runner may take the locks as stale.
struct LockKeeper {
    let store: any LeaseStore
    let journal: RunJournal
    /// The targets the run locked.
    let targets: [String]
    /// The tokens the run's lease and its target locks were taken with.
    let leases: HeldLeases.Tokens
    let stop: StopSignal
    let interval: Duration
    let ttl: Duration
    /// Tells the operator of a lost lock, as soon as it is known.
    let note: @Sendable (String) -> Void

    var runID: RunID { journal.runID }

    /// Heartbeats every `interval` until the task is cancelled.
    func keep() async {
        let clock = ContinuousClock()
        var lastRenewed = clock.now
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: interval)) != nil else { return }
            let lost: [String: String]
            do {
                lost = try await findLost()
                lastRenewed = clock.now
            } catch {
                guard lastRenewed.duration(to: clock.now) > ttl else { continue }
                let why = "its heartbeat could not be written for more than \(ttl.components.seconds) s (\(error)), so another runner may take it as stale"
                lost = Dictionary(uniqueKeysWithValues: targets.map { ($0, why) })
            }
            await lose(lost.filter { stop.lostLock(on: $0.key) == nil })
        }
    }

    /// Refreshes the heartbeat and returns each lock the run no longer holds, with why.
    private func findLost() async throws -> [String: String] {
        let held = Set(try await store.heartbeat(runID, token: leases.targets))
        let leaseHeld = try await store.renewRunLease(runID, token: leases.run)
        var lost: [String: String] = [:]
        for target in targets where !held.contains(target) {
            if let holder = try await store.lock(on: target) {
                // Held by this run with another token: another process took the run over.
                lost[target] = holder.runID == runID
                    ? Self.leaseLost(runID) : "it is held by run \(holder.runID) now (on \(holder.host), pid \(holder.pid))"
            } else {
                lost[target] = "it is gone from the store (freed with `sluice unlock`, or removed by hand)"
            }
        }
        if !leaseHeld {
            // Another process drives the run now: none of its targets is this process's to change.
            for target in targets where lost[target] == nil {
                lost[target] = Self.leaseLost(runID)
            }
        }
        return lost
    }

    private static func leaseLost(_ runID: RunID) -> String {
        "this process no longer holds the run's lease: another sluice process drives run \(runID)"
    }

    private func lose(_ lost: [String: String]) async {
        guard !lost.isEmpty else { return }
        for (target, why) in lost.sorted(by: { $0.key < $1.key }) {
            note("lock lost on \(target): \(why). No further step starts on \(target); the run halts.")
            _ = try? await journal.record(.lockLost, target: target, status: EventStatus.lost.rawValue, detail: ["reason": .string(why)])
        }
        stop.loseLocks(lost)
    }
}

/// The tokens of the leases a run session took in ``RunSession/lockTargets()``: every heartbeat,
/// renewal and release passes them, so that a process whose leases were taken over changes
/// nothing with them.
final class HeldLeases: Sendable {
    /// The run's lease and its target locks, as taken.
    struct Tokens: Sendable {
        var run: LeaseToken
        var targets: LeaseToken
    }

    private let held = Mutex<(run: LeaseToken?, targets: LeaseToken?)>((nil, nil))

    /// The run's lease's token, once taken.
    var run: LeaseToken? { held.withLock { $0.run } }

    /// Both tokens, once both were taken.
    var tokens: Tokens? {
        held.withLock { held in held.run.flatMap { run in held.targets.map { Tokens(run: run, targets: $0) } } }
    }

    /// Keeps the token the run's lease was taken with.
    func holdRun(_ token: LeaseToken) { held.withLock { $0.run = token } }

    /// Keeps the token the run's target locks were taken with.
    func holdTargets(_ token: LeaseToken) { held.withLock { $0.targets = token } }
}
