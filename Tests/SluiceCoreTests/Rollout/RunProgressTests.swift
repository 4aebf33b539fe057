import Foundation
import Testing
@testable import SluiceCore

@Suite("A past run's progress, read from its events")
struct RunProgressTests {
    /// One target with two steps and the default recovery (its health step).
    static func target() throws -> PlannedTarget {
        try #require(try plan().targets.first)
    }

    static func plan() throws -> Plan {
        let fixture = try RunbookFixture()
        let runbook = try #require(fixture.load("""
            sluice: 1
            id: progress-test
            targets: [{ name: web1 }]
            steps:
              - { name: config, run: "configure", rollback: "unconfigure" }
              - { name: deploy, run: "deploy", rollback: "undeploy" }
              - { name: up, health: { command: "check" } }

            """).validRunbook)
        return try Planner().plan(
            runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
            now: Date(timeIntervalSince1970: 0), content: ContentDigest(files: []))
    }

    /// The events of web1 applying `config` and `deploy`, then `deploy` failing, then `undo`.
    static func progress(undo: [(kind: EventKind, step: String, status: EventStatus?)]) -> RunProgress {
        let applied: [RunProgress.Event] = [
            .init(kind: .stepStarted, target: "web1", step: "config"),
            .init(kind: .stepFinished, target: "web1", step: "config", status: .succeeded),
            .init(kind: .stepStarted, target: "web1", step: "deploy"),
            .init(kind: .stepFinished, target: "web1", step: "deploy", status: .failed),
        ]
        return RunProgress(events: applied + undo.map { .init(kind: $0.kind, target: "web1", step: $0.step, status: $0.status) })
    }

    @Test func aTargetOrStepThePlanHasNoNameForIsUnaccounted() throws {
        // The journal names a target the plan does not have (`web***`: a secret once masked
        // part of the name), and a step of web1 it does not have
        let progress = RunProgress(events: [
            .init(kind: .stepStarted, target: "web***", step: "config"),
            .init(kind: .stepStarted, target: "web1", step: "config"),
            .init(kind: .stepStarted, target: "web1", step: "migrate"),
        ])
        let plan = try Self.plan()
        #expect(progress.unaccounted(in: plan, checkingSteps: true) == [
            "web*** (its step config started): the plan has no target web***",
            "web1: its step migrate started, but the plan has no step of that name",
        ])
        #expect(progress.unaccounted(in: plan, checkingSteps: false) == ["web*** (its step config started): the plan has no target web***"])
    }

    @Test func aStageThatStoppedBeforeItsEndIsNotFinished() {
        let progress = RunProgress(events: [
            .init(kind: .stageFinished, stage: "canary", status: .succeeded),
            .init(kind: .stageFinished, stage: "wave", status: .completedWithFailures),
            .init(kind: .stageFinished, stage: "rest", status: .failed),
            .init(kind: .stageFinished, stage: "last", status: .stopped),
        ])
        #expect(progress.finishedStages == ["canary", "wave"])
    }

    @Test func stepsAlreadyUndoneAreNeverUnaccounted() throws {
        let progress = RunProgress(events: [
            .init(kind: .stepStarted, target: "gone", step: "config"),
            .init(kind: .rollbackStepFinished, target: "gone", step: "config", status: .succeeded),
        ])
        #expect(progress.unaccounted(in: try Self.plan(), checkingSteps: true).isEmpty)
    }

    @Test func aTargetWhoseUndoAndRecoveryFinishedIsRolledBack() throws {
        let progress = Self.progress(undo: [
            (.rollbackStepStarted, "deploy", nil), (.rollbackStepFinished, "deploy", .succeeded),
            (.rollbackStepStarted, "config", nil), (.rollbackStepFinished, "config", .succeeded),
            (.recoveryStepFinished, "up", .succeeded),
        ])
        let target = try Self.target()
        #expect(progress.isRolledBack(target))
        #expect(!progress.owesRollback(target))
    }

    @Test func aRollbackCutShortIsUnfinishedAndKeepsWhatWasUndone() throws {
        // The runner died while undoing `config`, after `deploy` was undone.
        let progress = Self.progress(undo: [
            (.rollbackStepStarted, "deploy", nil), (.rollbackStepFinished, "deploy", .succeeded),
            (.rollbackStepStarted, "config", nil),
        ])
        let target = try Self.target()
        #expect(!progress.isRolledBack(target))
        #expect(progress.owesRollback(target))
        #expect(progress.targets["web1"]?.undone == ["deploy"])
    }

    @Test func aFailedUndoOrAMissingRecoveryLeavesTheRollbackUnfinished() throws {
        let target = try Self.target()
        let failedUndo = Self.progress(undo: [
            (.rollbackStepFinished, "deploy", .failed), (.rollbackStepFinished, "config", .succeeded),
            (.recoveryStepFinished, "up", .succeeded),
        ])
        #expect(failedUndo.owesRollback(target))
        let noRecovery = Self.progress(undo: [
            (.rollbackStepFinished, "deploy", .succeeded), (.rollbackStepFinished, "config", .succeeded),
        ])
        #expect(noRecovery.owesRollback(target))
    }

    @Test func aFailedTargetWhoseRollbackNeverBeganIsOwedOne() throws {
        // The runner died between the failure and the first undo.
        let progress = Self.progress(undo: [])
        let target = try Self.target()
        #expect(!progress.isRolledBack(target))
        #expect(progress.owesRollback(target))
        #expect(progress.targets["web1"]?.undone == [])
    }

    @Test func aTargetThatSucceededOwesNothing() throws {
        let progress = RunProgress(events: [
            .init(kind: .stepStarted, target: "web1", step: "config"),
            .init(kind: .stepFinished, target: "web1", step: "config", status: .succeeded),
        ])
        let target = try Self.target()
        #expect(!progress.isRolledBack(target))
        #expect(!progress.owesRollback(target))
        #expect(progress.targets["web1"]?.inDoubt == [])
    }
}
