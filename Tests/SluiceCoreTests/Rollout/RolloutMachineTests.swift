import Foundation
import Testing
@testable import SluiceCore

/// Drives a ``RolloutMachine`` the way the engine does, answering each action from a script of
/// what fails, and records every action in order.
struct ScriptedEngine {
    var failingSteps: Set<[Int]> = []
    var incompleteRollbacks: Set<Int> = []
    var preflightFails = false
    var guardFailsBeforeStage: Int?
    var bakeFailsInStage: Int?
    /// Report a stop request after this many actions have been carried out.
    var stopAfter: Int?
    /// Report a lost lock after this many actions have been carried out.
    var lockLostAfter: Int?
    /// Steps the engine does not start (their target's lock was lost), as [target, step].
    var notStartedSteps: Set<[Int]> = []
    /// What the clock reads when the machine asks for the time of day.
    var timeOfDay = Date(timeIntervalSince1970: 0)

    enum Start { case beginning, resuming(RolloutMachine.Progress), rollingBack(RolloutMachine.Progress) }

    func run(_ shape: RolloutMachine.Shape, from start: Start = .beginning) -> [RolloutMachine.Action] {
        var machine: RolloutMachine
        var queue: [RolloutMachine.Action]
        switch start {
        case .beginning:
            machine = RolloutMachine(shape: shape)
            queue = machine.start()
        case .resuming(let progress):
            machine = RolloutMachine(shape: shape, progress: progress)
            queue = machine.resume()
        case .rollingBack(let progress):
            machine = RolloutMachine(shape: shape, progress: progress)
            queue = machine.rollBack()
        }
        var log: [RolloutMachine.Action] = []
        // Timers fire in virtual time, earliest first, when nothing else is left to do.
        var now = Duration.zero
        var timers: [(due: Duration, timer: RolloutMachine.Timer)] = []
        while true {
            if queue.isEmpty, let earliest = timers.indices.min(by: { timers[$0].due < timers[$1].due }) {
                let (due, timer) = timers.remove(at: earliest)
                now = due
                queue += machine.handle(.timerFired(timer))
                continue
            }
            guard !queue.isEmpty else { break }
            let action = queue.removeFirst()
            // Ending waits is the engine's signal to its `wait` steps, not a rollout decision:
            // the tests that drive the machine by hand check when it comes.
            if action == .endWaits { continue }
            log.append(action)
            if log.count == stopAfter { queue += machine.handle(.stopRequested) }
            if log.count == lockLostAfter { queue += machine.handle(.locksLost) }
            let event: RolloutMachine.Event? = switch action {
            case .runPreflight: .preflightFinished(succeeded: !preflightFails)
            case .pauseHolds: .holdsPaused
            case .readClock: .clockRead(timeOfDay)
            case .checkGuards(let stage): .guardsChecked(stage: stage, passed: stage != guardFailsBeforeStage)
            case .runStep(let target, let step) where notStartedSteps.contains([target, step]): .stepNotStarted(target: target, step: step)
            case .runStep(let target, let step): .stepFinished(target: target, step: step, succeeded: !failingSteps.contains([target, step]))
            case .rollBackTarget(let target): .targetRolledBack(target, complete: !incompleteRollbacks.contains(target))
            case .probe(let target, let step):
                .probed(target: target, step: step, healthy: !shape.stages.contains { $0.targets.contains(target) && shape.stages.firstIndex(of: $0) == bakeFailsInStage })
            case .startTimer(let timer, let delay):
                { timers.append((now + delay, timer)); return nil }()
            case .cancelTimer(let timer):
                { timers.removeAll { $0.timer == timer }; return nil }()
            case .startStage, .finishStage, .abandonStage, .startRollback, .resumeHolds, .finish, .refuseStage, .endWaits: nil
            }
            if let event { queue += machine.handle(event) }
        }
        #expect(machine.isFinished)
        #expect(timers.isEmpty, "a timer outlived the run: \(timers)")
        return log
    }
}

@Suite("The rollout state machine")
struct RolloutMachineTests {
    typealias Action = RolloutMachine.Action
    typealias Result = RolloutMachine.RunResult

    /// A canary of one target, then two targets two at a time; every target has steps 0 and 1.
    static func shape(
        onFailure: Rollout.OnFailure = .rollback, scope: Rollout.RollbackScope = .run, tolerated: Int = 0,
        holds: Bool = true, guards: Bool = false, bake: Bool = false
    ) -> RolloutMachine.Shape {
        RolloutMachine.Shape(
            stages: [
                .init(name: "canary", targets: [0], parallel: 1, toleratedFailures: 0, bake: bake ? .seconds(2) : nil),
                .init(name: "rest", targets: [1, 2], parallel: 2, toleratedFailures: tolerated),
            ],
            steps: [[0, 1], [0, 1], [0, 1]], onFailure: onFailure, rollbackScope: scope, hasHolds: holds, hasGuards: guards,
            healthSteps: [[1], [1], [1]])
    }

    @Test func everythingSucceeds() {
        #expect(ScriptedEngine().run(Self.shape()) == [
            .runPreflight, .pauseHolds,
            .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1), .finishStage(0, failures: 0),
            .startStage(1), .runStep(target: 1, step: 0), .runStep(target: 2, step: 0),
            .runStep(target: 1, step: 1), .runStep(target: 2, step: 1), .finishStage(1, failures: 0),
            .resumeHolds, .finish(Result(outcome: .succeeded)),
        ])
    }

    @Test func preflightFailureRefusesBeforeAnythingChanges() {
        #expect(ScriptedEngine(preflightFails: true).run(Self.shape()) == [.runPreflight, .finish(Result(outcome: .refused))])
    }

    @Test(arguments: [0, 1])
    func canaryFailureRollsBackTheCanaryThenStops(_ step: Int) {
        // The failed canary is rolled back at once; the run's rollback then has nothing left to undo.
        let expected: [Action] = [
            .runPreflight, .pauseHolds, .startStage(0),
            .runStep(target: 0, step: 0),
        ] + (step == 1 ? [.runStep(target: 0, step: 1)] : []) + [
            // The failure that crosses the threshold starts the run's rollback with its own undo;
            // the stage then ends as failed.
            .startRollback(reason: .thresholdExceeded(stage: 0)), .rollBackTarget(0),
            .abandonStage(0, failures: 1, reason: .thresholdExceeded(stage: 0)),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [0], stopReason: .thresholdExceeded(stage: 0))),
        ]
        #expect(ScriptedEngine(failingSteps: [[0, step]]).run(Self.shape()) == expected)
    }

    @Test func laterStageFailureRollsBackEveryTouchedTargetInReverseOrder() {
        // Target 1 fails its first step while target 2 is running: target 1 is rolled back at
        // once, target 2 finishes its current step and stops, then the run's scope is undone:
        // target 2, then the canary.
        #expect(ScriptedEngine(failingSteps: [[1, 0]]).run(Self.shape()) == [
            .runPreflight, .pauseHolds,
            .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1), .finishStage(0, failures: 0),
            .startStage(1), .runStep(target: 1, step: 0), .runStep(target: 2, step: 0),
            .startRollback(reason: .thresholdExceeded(stage: 1)), .rollBackTarget(1),
            .abandonStage(1, failures: 1, reason: .thresholdExceeded(stage: 1)), .rollBackTarget(2), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [1], stopReason: .thresholdExceeded(stage: 1))),
        ])
    }

    @Test func haltKeepsTheStateAfterRollingBackTheFailedTarget() {
        #expect(ScriptedEngine(failingSteps: [[1, 1]]).run(Self.shape(onFailure: .halt)) == [
            .runPreflight, .pauseHolds,
            .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1), .finishStage(0, failures: 0),
            .startStage(1), .runStep(target: 1, step: 0), .runStep(target: 2, step: 0),
            .runStep(target: 1, step: 1), .runStep(target: 2, step: 1),
            .rollBackTarget(1), .abandonStage(1, failures: 1, reason: .thresholdExceeded(stage: 1)),
            .resumeHolds, .finish(Result(outcome: .halted, failedTargets: [1], stopReason: .thresholdExceeded(stage: 1))),
        ])
    }

    @Test func targetScopeUndoesOnlyTheFailedTarget() {
        #expect(ScriptedEngine(failingSteps: [[2, 0]]).run(Self.shape(scope: .target)) == [
            .runPreflight, .pauseHolds,
            .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1), .finishStage(0, failures: 0),
            .startStage(1), .runStep(target: 1, step: 0), .runStep(target: 2, step: 0),
            .runStep(target: 1, step: 1), .startRollback(reason: .thresholdExceeded(stage: 1)), .rollBackTarget(2),
            .abandonStage(1, failures: 1, reason: .thresholdExceeded(stage: 1)),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [2], stopReason: .thresholdExceeded(stage: 1))),
        ])
    }

    @Test func toleratedFailureIsRolledBackAloneAndTheRunCompletesWithFailures() {
        #expect(ScriptedEngine(failingSteps: [[1, 0]]).run(Self.shape(tolerated: 1)) == [
            .runPreflight, .pauseHolds,
            .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1), .finishStage(0, failures: 0),
            .startStage(1), .runStep(target: 1, step: 0), .runStep(target: 2, step: 0),
            .rollBackTarget(1), .runStep(target: 2, step: 1), .finishStage(1, failures: 1),
            .resumeHolds, .finish(Result(outcome: .completedWithFailures, failedTargets: [1])),
        ])
    }

    @Test func failingRollbackEndsRollbackIncomplete() {
        let log = ScriptedEngine(failingSteps: [[1, 0]], incompleteRollbacks: [0]).run(Self.shape())
        #expect(log.last == .finish(Result(outcome: .rollbackIncomplete, failedTargets: [1], incompleteRollbacks: [0], stopReason: .thresholdExceeded(stage: 1))))
        // The other targets are still rolled back after the failing one.
        #expect(log.filter { if case .rollBackTarget = $0 { true } else { false } } == [.rollBackTarget(1), .rollBackTarget(2), .rollBackTarget(0)])
    }

    @Test func guardFailingBeforeALaterStageRollsBackWhatWasDone() {
        #expect(ScriptedEngine(guardFailsBeforeStage: 1).run(Self.shape(guards: true)) == [
            .runPreflight, .pauseHolds,
            .checkGuards(stage: 0), .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1), .finishStage(0, failures: 0),
            .checkGuards(stage: 1),
            .startRollback(reason: .guardFailed(stage: 1)), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, stopReason: .guardFailed(stage: 1))),
        ])
    }

    @Test func unhealthyBakeStopsBeforeTheNextStage() {
        #expect(ScriptedEngine(bakeFailsInStage: 0).run(Self.shape(bake: true)) == [
            .runPreflight, .pauseHolds,
            .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1),
            .startTimer(.bakeEnds(stage: 0), after: .seconds(2)), .probe(target: 0, step: 1), .cancelTimer(.bakeEnds(stage: 0)),
            .abandonStage(0, failures: 0, reason: .bakeUnhealthy(stage: 0)),
            .startRollback(reason: .bakeUnhealthy(stage: 0)), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, stopReason: .bakeUnhealthy(stage: 0))),
        ])
    }

    @Test func stopRequestLetsRunningStepsFinishThenRollsBack() {
        // Stop is requested as the canary's first step is handed out: that step finishes, no
        // further step starts, and what was done is undone.
        #expect(ScriptedEngine(stopAfter: 4).run(Self.shape()) == [
            .runPreflight, .pauseHolds, .startStage(0), .runStep(target: 0, step: 0),
            .abandonStage(0, failures: 0, reason: .stopRequested),
            .startRollback(reason: .stopRequested), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, stopReason: .stopRequested)),
        ])
    }

    @Test func aLostLockHaltsTheRunWithoutRollingBackWhateverItsPolicy() {
        // The lock is lost as the canary's first step is handed out: that step finishes, nothing
        // else starts, nothing is undone, and holds are resumed.
        #expect(ScriptedEngine(lockLostAfter: 4).run(Self.shape(onFailure: .rollback)) == [
            .runPreflight, .pauseHolds, .startStage(0), .runStep(target: 0, step: 0),
            .abandonStage(0, failures: 0, reason: .lockLost),
            .resumeHolds, .finish(Result(outcome: .halted, stopReason: .lockLost)),
        ])
    }

    @Test func aLostLockWinsOverAStopAlreadyAskedFor() {
        #expect(ScriptedEngine(stopAfter: 4, lockLostAfter: 4).run(Self.shape()).last
            == .finish(Result(outcome: .halted, stopReason: .lockLost)))
    }

    @Test func aLostLockDuringTheRollbackUndoesOnlyTheTargetAlreadyBeingUndone() {
        // The second stage's target 2 fails; the scope rollback has begun undoing target 1 when
        // a lock is lost: target 0 is left as it is, and the run halts.
        let actions = ScriptedEngine(failingSteps: [[2, 1]], lockLostAfter: 14).run(Self.shape())
        #expect(actions.suffix(4) == [
            .abandonStage(1, failures: 1, reason: .thresholdExceeded(stage: 1)), .rollBackTarget(1),
            .resumeHolds, .finish(Result(outcome: .halted, failedTargets: [2], stopReason: .lockLost)),
        ], "\(actions)")
        #expect(!actions.contains(.rollBackTarget(0)))
    }

    @Test func aStepNotStartedForALostLockLeavesItsTargetStopped() {
        let actions = ScriptedEngine(lockLostAfter: 5, notStartedSteps: [[0, 1]]).run(Self.shape())
        #expect(actions == [
            .runPreflight, .pauseHolds, .startStage(0), .runStep(target: 0, step: 0), .runStep(target: 0, step: 1),
            .abandonStage(0, failures: 0, reason: .lockLost),
            .resumeHolds, .finish(Result(outcome: .halted, stopReason: .lockLost)),
        ])
    }

    @Test func aCheckAnswerThatAStopOvertookChangesNothing() {
        // Stop while the guards before the canary are being checked: the run halts at once
        // (nothing started), and the guards' late answer changes nothing.
        var machine = RolloutMachine(shape: Self.shape(onFailure: .halt, holds: false, guards: true))
        _ = machine.start()
        #expect(machine.handle(.preflightFinished(succeeded: true)) == [.checkGuards(stage: 0)])
        #expect(machine.handle(.stopRequested) == [.endWaits, .finish(Result(outcome: .halted, stopReason: .stopRequested))])
        #expect(machine.handle(.guardsChecked(stage: 0, passed: true)) == [])
        #expect(machine.handle(.timerFired(.guards(stage: 0))) == [])
        #expect(machine.handle(.stopRequested) == [])
        #expect(machine.isFinished)
    }

    @Test func noStageStartsOnceTheWindowsLastStageStartHasPassed() {
        // Given a window whose last stage start is at t = 1000 s
        var shape = Self.shape(onFailure: .rollback, holds: false)
        shape.lastStageStart = Date(timeIntervalSince1970: 1000)
        var machine = RolloutMachine(shape: shape)
        _ = machine.start()
        // When the canary is asked for before it, and the rest after it
        #expect(machine.handle(.preflightFinished(succeeded: true)) == [.readClock(stage: 0)])
        #expect(machine.handle(.clockRead(Date(timeIntervalSince1970: 999))) == [.startStage(0), .runStep(target: 0, step: 0)])
        _ = machine.handle(.stepFinished(target: 0, step: 0, succeeded: true))
        #expect(machine.handle(.stepFinished(target: 0, step: 1, succeeded: true)) == [.finishStage(0, failures: 0), .readClock(stage: 1)])
        // Then the rest is refused at its boundary and the canary rolled back
        #expect(machine.handle(.clockRead(Date(timeIntervalSince1970: 1000))) == [
            .refuseStage(1), .startRollback(reason: .cutoffReached(stage: 1)), .rollBackTarget(0),
        ])
    }

    @Test func aStopWhileTheClockIsReadStopsBeforeTheStage() {
        var shape = Self.shape(onFailure: .halt, holds: false)
        shape.lastStageStart = Date(timeIntervalSince1970: 1000)
        var machine = RolloutMachine(shape: shape)
        _ = machine.start()
        #expect(machine.handle(.preflightFinished(succeeded: true)) == [.readClock(stage: 0)])
        #expect(machine.handle(.stopRequested) == [.endWaits])
        #expect(machine.handle(.clockRead(Date(timeIntervalSince1970: 0))) == [.finish(Result(outcome: .halted, stopReason: .stopRequested))])
    }

    @Test func aLostLockBeforeAnythingChangedRefusesTheRun() {
        #expect(ScriptedEngine(lockLostAfter: 1).run(Self.shape()) == [
            .runPreflight, .finish(Result(outcome: .refused, stopReason: .lockLost)),
        ])
    }

    /// Every combination of where a step fails, the failure policy, the scope and the threshold:
    /// the properties every run must have.
    @Test(arguments: [Rollout.OnFailure.rollback, .halt], [Rollout.RollbackScope.run, .target])
    func invariantsHoldForEveryFailurePosition(_ onFailure: Rollout.OnFailure, _ scope: Rollout.RollbackScope) {
        for tolerated in [0, 1] {
            for target in 0..<3 {
                for step in 0..<2 {
                    let log = ScriptedEngine(failingSteps: [[target, step]]).run(Self.shape(onFailure: onFailure, scope: scope, tolerated: tolerated))
                    guard case .finish(let result)? = log.last else {
                        Issue.record("run did not finish: \(log)")
                        continue
                    }
                    // The failed target is rolled back, once, and named.
                    #expect(log.filter { $0 == .rollBackTarget(target) }.count == 1)
                    #expect(result.failedTargets == [target])
                    #expect(result.outcome != .succeeded)
                    // Holds are resumed exactly once, right before the end.
                    #expect(log.filter { $0 == .resumeHolds }.count == 1)
                    #expect(log.dropLast().last == .resumeHolds)
                    // No step of the failed target runs after its failure.
                    if let failure = log.firstIndex(of: .runStep(target: target, step: step)) {
                        #expect(!log[(failure + 1)...].contains { if case .runStep(target, _) = $0 { true } else { false } })
                    }
                    // A tolerated failure in the last stage completes the run with failures.
                    if tolerated == 1 && target != 0 {
                        #expect(result.outcome == .completedWithFailures)
                    } else if onFailure == .halt {
                        #expect(result.outcome == .halted)
                    } else {
                        #expect(result.outcome == .rolledBack)
                    }
                    // With scope run and a stop, every target that ran a step is rolled back.
                    if onFailure == .rollback && scope == .run && result.outcome == .rolledBack {
                        let touched = Set(log.compactMap { if case .runStep(let t, _) = $0 { t } else { nil } })
                        let undone = Set(log.compactMap { if case .rollBackTarget(let t) = $0 { t } else { nil } })
                        #expect(touched == undone)
                    }
                }
            }
        }
    }

    // MARK: Resuming and rolling back a past run

    @Test func aResumedRunSkipsFinishedStepsRunsTheInDoubtOneAgainAndGoesOn() {
        // The canary finished; target 1 finished step 0 and was running step 1 when the runner died.
        let progress = RolloutMachine.Progress(finishedSteps: [2, 1, 0], touched: [0, 1], finishedStages: 1)
        #expect(ScriptedEngine().run(Self.shape(), from: .resuming(progress)) == [
            .pauseHolds,
            .startStage(1), .runStep(target: 1, step: 1), .runStep(target: 2, step: 0), .runStep(target: 2, step: 1),
            .finishStage(1, failures: 0),
            .resumeHolds, .finish(Result(outcome: .succeeded)),
        ])
    }

    @Test func aResumedRunThatFailsRollsBackWhatTheFirstRunnerDidToo() {
        let progress = RolloutMachine.Progress(finishedSteps: [2, 1, 0], touched: [0, 1], finishedStages: 1)
        var engine = ScriptedEngine()
        engine.failingSteps = [[2, 0]]
        #expect(engine.run(Self.shape(), from: .resuming(progress)) == [
            .pauseHolds,
            .startStage(1), .runStep(target: 1, step: 1), .runStep(target: 2, step: 0),
            .startRollback(reason: .thresholdExceeded(stage: 1)), .rollBackTarget(2),
            .abandonStage(1, failures: 1, reason: .thresholdExceeded(stage: 1)), .rollBackTarget(1), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [2], stopReason: .thresholdExceeded(stage: 1))),
        ])
    }

    @Test func aResumedRunKeepsItsEarlierFailuresAgainstTheThreshold() {
        // Target 1 failed (and was rolled back) before the runner died; the stage tolerates one.
        let progress = RolloutMachine.Progress(finishedSteps: [2, 0, 1], touched: [0, 1, 2], failed: [1], rolledBack: [1], finishedStages: 1)
        var engine = ScriptedEngine()
        engine.failingSteps = [[2, 1]]
        #expect(engine.run(Self.shape(tolerated: 1), from: .resuming(progress)) == [
            .pauseHolds,
            .startStage(1), .runStep(target: 2, step: 1),
            .startRollback(reason: .thresholdExceeded(stage: 1)), .rollBackTarget(2),
            .abandonStage(1, failures: 2, reason: .thresholdExceeded(stage: 1)), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [1, 2], stopReason: .thresholdExceeded(stage: 1))),
        ])
    }

    @Test func aResumedRunFirstFinishesTheRollbackItOwesAFailedTargetThenGoesOn() {
        // Target 1 failed, a failure its stage tolerates, and the runner died before its rollback
        // ran to its end; target 2 had finished step 0.
        let progress = RolloutMachine.Progress(finishedSteps: [2, 0, 1], touched: [0, 1, 2], failed: [1], finishedStages: 1)
        #expect(ScriptedEngine().run(Self.shape(tolerated: 1), from: .resuming(progress)) == [
            .pauseHolds, .rollBackTarget(1),
            .startStage(1), .runStep(target: 2, step: 1), .finishStage(1, failures: 1),
            .resumeHolds, .finish(Result(outcome: .completedWithFailures, failedTargets: [1])),
        ])
    }

    @Test func aStopWhileAnOwedRollbackRunsStopsBeforeTheNextStage() {
        let progress = RolloutMachine.Progress(finishedSteps: [2, 0, 1], touched: [0, 1, 2], failed: [1], finishedStages: 1)
        var engine = ScriptedEngine()
        engine.stopAfter = 2  // while target 1's rollback is outstanding
        #expect(engine.run(Self.shape(tolerated: 1), from: .resuming(progress)) == [
            .pauseHolds, .rollBackTarget(1),
            .startRollback(reason: .stopRequested), .rollBackTarget(2), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [1], stopReason: .stopRequested)),
        ])
    }

    @Test func rollingBackAPastRunUndoesEveryTouchedTargetNotYetUndoneLastStageFirst() {
        // Target 1 failed and was rolled back during the run; targets 0 and 2 were changed.
        let progress = RolloutMachine.Progress(finishedSteps: [2, 0, 2], touched: [0, 1, 2], failed: [1], rolledBack: [1], finishedStages: 2)
        #expect(ScriptedEngine().run(Self.shape(scope: .target), from: .rollingBack(progress)) == [
            .pauseHolds,
            .startRollback(reason: .rollbackRequested), .rollBackTarget(2), .rollBackTarget(0),
            .resumeHolds, .finish(Result(outcome: .rolledBack, failedTargets: [1], stopReason: .rollbackRequested)),
        ])
    }

    @Test func rollingBackAPastRunThatTouchedNothingOnlyPausesAndResumesHolds() {
        let progress = RolloutMachine.Progress(finishedSteps: [0, 0, 0])
        var engine = ScriptedEngine()
        engine.incompleteRollbacks = [0]
        #expect(engine.run(Self.shape(holds: false), from: .rollingBack(progress)) == [
            .startRollback(reason: .rollbackRequested),
            .finish(Result(outcome: .rolledBack, stopReason: .rollbackRequested)),
        ])
    }

    @Test func anIncompleteRollbackOfAPastRunSaysSo() {
        let progress = RolloutMachine.Progress(finishedSteps: [2, 1, 0], touched: [0, 1], finishedStages: 1)
        var engine = ScriptedEngine()
        engine.incompleteRollbacks = [1]
        #expect(engine.run(Self.shape(holds: false), from: .rollingBack(progress)) == [
            .startRollback(reason: .rollbackRequested), .rollBackTarget(1), .rollBackTarget(0),
            .finish(Result(outcome: .rollbackIncomplete, incompleteRollbacks: [1], stopReason: .rollbackRequested)),
        ])
    }

    @Test(arguments: [RolloutMachine.Event.guardsChecked(stage: 0, passed: false), .stopRequested])
    func aStopDuringABakeWaitsForTheBakeToEndBeforeRollingBack(_ stop: RolloutMachine.Event) {
        var machine = RolloutMachine(shape: Self.shape(holds: false, bake: true))
        _ = machine.start()
        #expect(machine.handle(.preflightFinished(succeeded: true)) == [.startStage(0), .runStep(target: 0, step: 0)])
        #expect(machine.handle(.stepFinished(target: 0, step: 0, succeeded: true)) == [.runStep(target: 0, step: 1)])
        #expect(machine.handle(.stepFinished(target: 0, step: 1, succeeded: true)) == [
            .startTimer(.bakeEnds(stage: 0), after: .seconds(2)), .probe(target: 0, step: 1),
        ])
        // The bake's probe in flight ends first: nothing is undone beside it.
        #expect(machine.handle(stop) == [.endWaits])
        let reason: RolloutMachine.StopReason = stop == .stopRequested ? .stopRequested : .guardFailed(stage: 0)
        #expect(machine.handle(.probed(target: 0, step: 1, healthy: true)) == [
            .cancelTimer(.bakeEnds(stage: 0)), .abandonStage(0, failures: 0, reason: reason), .startRollback(reason: reason), .rollBackTarget(0),
        ])
    }

    @Test func aStopBetweenTwoRoundsOfABakeStopsAtOnce() {
        var machine = RolloutMachine(shape: Self.shape(holds: false, bake: true))
        _ = machine.start()
        _ = machine.handle(.preflightFinished(succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 0, succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 1, succeeded: true))
        #expect(machine.handle(.probed(target: 0, step: 1, healthy: true)) == [
            .startTimer(.nextBakeRound(stage: 0), after: RolloutMachine.bakeRoundInterval),
        ])
        #expect(machine.handle(.stopRequested) == [
            .endWaits, .cancelTimer(.bakeEnds(stage: 0)), .cancelTimer(.nextBakeRound(stage: 0)),
            .abandonStage(0, failures: 0, reason: .stopRequested), .startRollback(reason: .stopRequested), .rollBackTarget(0),
        ])
    }

    @Test func aBakeProbesInRoundsUntilItsTimeIsOverAndFinishesTheRoundUnderWay() {
        // Given a canary of two targets that bakes, each with one health step
        let shape = RolloutMachine.Shape(
            stages: [.init(name: "canary", targets: [0, 1], parallel: 2, bake: .seconds(30))],
            steps: [[0], [0]], healthSteps: [[0], [0]])
        var machine = RolloutMachine(shape: shape)
        _ = machine.start()
        _ = machine.handle(.preflightFinished(succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 0, succeeded: true))
        // When both finished, the bake starts its timer and probes the targets one at a time
        #expect(machine.handle(.stepFinished(target: 1, step: 0, succeeded: true)) == [
            .startTimer(.bakeEnds(stage: 0), after: .seconds(30)), .probe(target: 0, step: 0),
        ])
        #expect(machine.handle(.probed(target: 0, step: 0, healthy: true)) == [.probe(target: 1, step: 0)])
        #expect(machine.handle(.probed(target: 1, step: 0, healthy: true)) == [
            .startTimer(.nextBakeRound(stage: 0), after: RolloutMachine.bakeRoundInterval),
        ])
        #expect(machine.handle(.timerFired(.nextBakeRound(stage: 0))) == [.probe(target: 0, step: 0)])
        // Then the bake time ending mid-round lets the round finish, and the stage ends with it
        #expect(machine.handle(.timerFired(.bakeEnds(stage: 0))) == [])
        #expect(machine.handle(.probed(target: 0, step: 0, healthy: true)) == [.probe(target: 1, step: 0)])
        #expect(machine.handle(.probed(target: 1, step: 0, healthy: true)) == [
            .finishStage(0, failures: 0), .finish(Result(outcome: .succeeded)),
        ])
    }

    @Test func aBakeTimeEndingBetweenRoundsEndsTheStageAtOnce() {
        var machine = RolloutMachine(shape: Self.shape(holds: false, bake: true))
        _ = machine.start()
        _ = machine.handle(.preflightFinished(succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 0, succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 1, succeeded: true))
        _ = machine.handle(.probed(target: 0, step: 1, healthy: true))
        #expect(machine.handle(.timerFired(.bakeEnds(stage: 0))) == [
            .cancelTimer(.nextBakeRound(stage: 0)), .finishStage(0, failures: 0), .startStage(1),
            .runStep(target: 1, step: 0), .runStep(target: 2, step: 0),
        ])
    }

    @Test func guardsAreWatchedWhileAStageRunsAndAFailureStopsIt() {
        // Given guards checked every 5 s
        var shape = Self.shape(holds: false, guards: true)
        shape.guardInterval = .seconds(5)
        var machine = RolloutMachine(shape: shape)
        _ = machine.start()
        #expect(machine.handle(.preflightFinished(succeeded: true)) == [.checkGuards(stage: 0)])
        // When the stage starts, the watch is set; when it fires, the guards are checked again
        #expect(machine.handle(.guardsChecked(stage: 0, passed: true)) == [
            .startStage(0), .startTimer(.guards(stage: 0), after: .seconds(5)), .runStep(target: 0, step: 0),
        ])
        #expect(machine.handle(.timerFired(.guards(stage: 0))) == [.checkGuards(stage: 0)])
        #expect(machine.handle(.guardsChecked(stage: 0, passed: true)) == [.startTimer(.guards(stage: 0), after: .seconds(5))])
        #expect(machine.handle(.timerFired(.guards(stage: 0))) == [.checkGuards(stage: 0)])
        // Then a failing check stops the stage: waits end, its running step finishes, and it rolls back
        #expect(machine.handle(.guardsChecked(stage: 0, passed: false)) == [.endWaits])
        #expect(machine.handle(.stepFinished(target: 0, step: 0, succeeded: true)) == [
            .abandonStage(0, failures: 0, reason: .guardFailed(stage: 0)), .startRollback(reason: .guardFailed(stage: 0)), .rollBackTarget(0),
        ])
    }

    @Test func aLateGuardAnswerOfAFinishedStageIsNotTakenForTheNextStagesCheck() {
        var shape = Self.shape(holds: false, guards: true)
        shape.guardInterval = .seconds(5)
        var machine = RolloutMachine(shape: shape)
        _ = machine.start()
        _ = machine.handle(.preflightFinished(succeeded: true))
        _ = machine.handle(.guardsChecked(stage: 0, passed: true))
        #expect(machine.handle(.timerFired(.guards(stage: 0))) == [.checkGuards(stage: 0)])
        _ = machine.handle(.stepFinished(target: 0, step: 0, succeeded: true))
        #expect(machine.handle(.stepFinished(target: 0, step: 1, succeeded: true)) == [.finishStage(0, failures: 0), .checkGuards(stage: 1)])
        // The watch's answer of stage 0 arrives while stage 1's own check runs: it changes nothing
        #expect(machine.handle(.guardsChecked(stage: 0, passed: true)) == [])
        #expect(machine.handle(.guardsChecked(stage: 1, passed: true)).first == .startStage(1))
    }

    @Test func aGuardFailingAfterAStopDuringABakeIsTheReasonGiven() {
        var machine = RolloutMachine(shape: Self.shape(holds: false, bake: true))
        _ = machine.start()
        _ = machine.handle(.preflightFinished(succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 0, succeeded: true))
        _ = machine.handle(.stepFinished(target: 0, step: 1, succeeded: true))
        #expect(machine.handle(.stopRequested) == [.endWaits])
        #expect(machine.handle(.guardsChecked(stage: 0, passed: false)) == [])
        #expect(machine.handle(.probed(target: 0, step: 1, healthy: false)) == [
            .cancelTimer(.bakeEnds(stage: 0)), .abandonStage(0, failures: 0, reason: .guardFailed(stage: 0)), .startRollback(reason: .guardFailed(stage: 0)), .rollBackTarget(0),
        ])
    }

    @Test func aStopWhileHoldsArePausingEndsTheRunInsteadOfWaitingForever() {
        var engine = ScriptedEngine()
        engine.stopAfter = 2  // while .pauseHolds is outstanding
        #expect(engine.run(Self.shape()) == [
            .runPreflight, .pauseHolds, .startRollback(reason: .stopRequested),
            .resumeHolds, .finish(Result(outcome: .rolledBack, stopReason: .stopRequested)),
        ])
    }
}
