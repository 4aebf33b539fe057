import Foundation
import SluiceCore
import SluiceTesting
import Testing
@testable import SluiceExecution

/// The engine's decisions on the fakes: every command answered by a recording transport, health
/// by its script, time on a manual clock. What would take minutes takes none, and every run does
/// the same things in the same order, so the tests assert exact sequences and exact times.
@Suite("The rollout engine, on the fakes", .timeLimit(.minutes(1)))
struct RolloutEngineScriptedTests {
    /// Three targets: a canary, then two at a time. Each writes its config (owned 70:71, mode
    /// 0640), deploys (10 s), checks its health with a command, and refreshes a cache.
    static func threeTargets(maxFailures: Int = 0, bake: String = "") -> String {
        """
        sluice: 1
        id: engine
        targets: [{ name: web1 }, { name: web2 }, { name: web3 }]
        rollout:
          stages:
            - { name: canary, count: 1\(bake) }
            - { name: rest, parallel: 2, max_failures: \(maxFailures) }
        holds:
          - { name: batch, pause: "pause batch", resume: "resume batch" }
        steps:
          - name: config
            file: { path: "/etc/app/{{ target.name }}.conf", content: "version = 2\\n", reload: "reload {{ target.name }}" }
          - name: deploy
            run: "deploy {{ target.name }}"
            rollback: "undeploy {{ target.name }}"
          - name: healthy
            health: { command: "health {{ target.name }}", attempts: 2, interval: 5s }
          - name: refresh
            cache_refresh: "refresh {{ target.name }}"

        """
    }

    /// A world for ``threeTargets(maxFailures:bake:)``: version 1 of each config in place, deploys taking 10 s.
    static func threeTargetWorld(scriptedHealth: Bool = false) -> ScriptedWorld {
        let world = ScriptedWorld(scriptedHealth: scriptedHealth)
        for target in ["web1", "web2", "web3"] {
            world.transport.place("/etc/app/\(target).conf", "version = 1\n", mode: 0o640, owner: 70, group: 71)
        }
        world.transport.on("deploy", .exit(0, takes: .seconds(10)))
        return world
    }

    @Test func theCanaryGoesFirstThenTheRestTwoAtATimeBetweenTheHolds() async throws {
        // Given three healthy targets
        let world = Self.threeTargetWorld()

        // When the run goes
        let result = await world.run(try world.plan(Self.threeTargets()))

        // Then it succeeded: the hold paused first, the canary's steps in order, then the rest
        // at the same moments, two at a time; the hold resumed last, after 20 s on the clock
        #expect(result == RolloutMachine.RunResult(outcome: .succeeded))
        let commands = world.commands()
        #expect(commands.first == "pause batch" && commands.last == "resume batch")
        #expect(Array(commands[1...4]) == ["reload web1", "deploy web1", "health web1", "refresh web1"])
        for target in ["web2", "web3"] {
            #expect(commands.filter { $0.hasSuffix(target) } == ["reload \(target)", "deploy \(target)", "health \(target)", "refresh \(target)"])
            #expect(world.times(of: target) == [.seconds(10), .seconds(10), .seconds(20), .seconds(20)])
            #expect(world.transport.file("/etc/app/\(target).conf") == RecordingTransport.File(content: Data("version = 2\n".utf8), mode: 0o640, owner: 70, group: 71))
        }
        #expect(world.times(of: "web1") == [.zero, .zero, .seconds(10), .seconds(10)])
        #expect(world.times(of: "resume") == [.seconds(20)])

        // And each step was recorded as started before it finished, in stage order, with each
        // file's backup kept before it changed
        #expect(world.events(["stage.started", "stage.finished"]) == ["stage.started", "stage.finished", "stage.started", "stage.finished"])
        #expect(world.events(["step.started", "step.finished"]).prefix(8) == [
            "step.started web1 config", "step.finished web1 config", "step.started web1 deploy", "step.finished web1 deploy",
            "step.started web1 healthy", "step.finished web1 healthy", "step.started web1 refresh", "step.finished web1 refresh",
        ])
        #expect(world.events(["step.started"]).count == 12)
        #expect(world.recorder.backups.map(\.content) == Array(repeating: Data("version = 1\n".utf8), count: 3))
        #expect(world.recorder.backups.map(\.owner) == [70, 70, 70])
        // A deploy took its 10 s on the clock, and that is what its event says
        #expect(world.recorder.events.filter { $0.kind.rawValue == "step.finished" && $0.step == "deploy" }.map(\.duration) == Array(repeating: .seconds(10), count: 3))
    }

    @Test func aSmallRunRecordsExactlyTheseEventsAndRunsExactlyTheseCommands() async throws {
        // Given one target behind a hold and a preflight check, with a deploy that fails once and
        // takes 4 s the second time, and a health check
        let world = ScriptedWorld()
        world.transport.on("deploy", .exit(1, output: "busy\n"), then: .exit(0, output: "deployed\n", takes: .seconds(4)))
        let plan = try world.plan("""
            sluice: 1
            id: small
            targets: [{ name: web1 }]
            holds:
              - { name: batch, pause: "pause batch", resume: "resume batch" }
            preflight:
              - { name: disk, run: "check disk" }
            steps:
              - name: deploy
                run: "deploy {{ target.name }}"
                retries: 1
                retry_delay: 2s
              - name: healthy
                health: { command: "health {{ target.name }}", attempts: 1 }

            """)

        // When the run goes
        let result = await world.run(plan)

        // Then these events, in this order (preflight before the hold is paused), and these
        // commands, at these times
        #expect(result == RolloutMachine.RunResult(outcome: .succeeded))
        #expect(world.events() == [
            "preflight.finished web1 disk", "hold.paused batch", "stage.started", "step.started web1 deploy",
            "step.finished web1 deploy", "step.started web1 healthy", "step.finished web1 healthy", "stage.finished",
            "hold.resumed batch",
        ])
        #expect(world.transport.ran.map { "\($0.at ?? .zero) \($0.text)" } == [
            "0.0 seconds check disk", "0.0 seconds pause batch", "0.0 seconds deploy web1", "2.0 seconds deploy web1",
            "6.0 seconds health web1", "6.0 seconds resume batch",
        ])
        let deploy = try #require(world.recorder.events.first { $0.kind.rawValue == "step.finished" && $0.step == "deploy" })
        #expect(deploy.detail == ["result": "exited with status 0 on attempt 2", "output": "deployed\n"])
        #expect(deploy.duration == .seconds(6))
        #expect(deploy.exitCode == 0)
    }

    @Test func eachCommandRunsThroughItsTargetsTransportWithTheRunsVariables() async throws {
        // Given a transport per target, and the runner's own for the holds
        let world = Self.threeTargetWorld()
        let targets = ["web1", "web2", "web3"].map { name in
            let transport = RecordingTransport(location: name)
            transport.place("/etc/app/\(name).conf", "version = 1\n")
            return (name, transport)
        }
        let transports = Transports(runner: world.transport, targets: Dictionary(uniqueKeysWithValues: targets))

        // When the run goes
        let result = await world.run(try world.plan(Self.threeTargets()), transports: transports)

        // Then only the holds ran on the runner; each target's steps ran on its own transport,
        // with the run's variables, and changed its own file
        #expect(result.outcome == .succeeded)
        #expect(world.commands() == ["pause batch", "resume batch"])
        #expect(world.transport.ran.first?.environment == ["SLUICE_RUN_ID": "r-20261121-083015-7f3a", "SLUICE_MODE": "apply", "SLUICE_STEP": "batch"])
        for (name, transport) in targets {
            #expect(transport.commands == ["reload \(name)", "deploy \(name)", "health \(name)", "refresh \(name)"])
            #expect(transport.ran[1].environment == [
                "SLUICE_RUN_ID": "r-20261121-083015-7f3a", "SLUICE_MODE": "apply", "SLUICE_TARGET": name,
                "SLUICE_STAGE": name == "web1" ? "canary" : "rest", "SLUICE_STEP": "deploy",
            ])
            #expect(transport.file("/etc/app/\(name).conf")?.text == "version = 2\n")
        }
    }

    @Test func aFailureInTheLaterStageRollsBackEverythingFailedTargetFirstCanaryLast() async throws {
        // Given web2 unhealthy only while it runs the new version: its recovery finds it healthy
        let world = Self.threeTargetWorld()
        world.transport.on("health web2") { _ in
            world.transport.file("/etc/app/web2.conf")?.text == "version = 2\n" ? .exit(1) : .success
        }

        // When the run goes
        let result = await world.run(try world.plan(Self.threeTargets()))

        // Then it ends rolled back: every file restored with its owner and mode, the failed target
        // undone at once, the canary last; recovery refreshes before it checks health
        #expect(result.outcome == .rolledBack)
        #expect(result.failedTargets == [1])
        #expect(result.stopReason == .thresholdExceeded(stage: 1))
        for target in ["web1", "web2", "web3"] {
            #expect(world.transport.file("/etc/app/\(target).conf") == RecordingTransport.File(content: Data("version = 1\n".utf8), mode: 0o640, owner: 70, group: 71), "\(target)")
            #expect(world.events(["recovery.step.finished"]).filter { $0.contains(target) } == ["recovery.step.finished \(target) refresh", "recovery.step.finished \(target) healthy"])
        }
        let rolledBack = world.events(["rollback.step.finished"]).map { $0.split(separator: " ")[1] }
        #expect(rolledBack.first == "web2")
        #expect(rolledBack.last == "web1")
        #expect(world.commands().contains("undeploy web2"))
        #expect(world.commands().last == "resume batch")
        // web2's health was tried twice, 5 s apart, after its 10 s deploy
        #expect(world.times(of: "health web2").prefix(2) == [.seconds(20), .seconds(25)])
        // The rollback started once, before any step was undone
        let events = world.events()
        let started = try #require(events.firstIndex(of: "rollback.started"))
        #expect(events.filter { $0 == "rollback.started" }.count == 1)
        #expect(events.firstIndex { $0.hasPrefix("rollback.step.started") }.map { $0 > started } == true)
        // The canary's undo: its cache refresh and deploy undone, its file restored and reloaded
        #expect(world.events(["rollback.step.started"]).filter { $0.contains("web1") } == [
            "rollback.step.started web1 refresh", "rollback.step.started web1 healthy", "rollback.step.started web1 deploy",
            "rollback.step.started web1 config",
        ])
        #expect(world.transport.calls.contains(.restore("/etc/app/web1.conf", .restored)))
    }

    @Test func aTargetStillUnhealthyAfterItsRollbackEndsTheRunRollbackIncomplete() async throws {
        let world = Self.threeTargetWorld()
        world.transport.on("health web2", .exit(1))  // broken for good: its recovery finds it unhealthy too
        let result = await world.run(try world.plan(Self.threeTargets()))
        #expect(result.outcome == .rollbackIncomplete)
        #expect(result.incompleteRollbacks == [1])
        #expect(world.transport.file("/etc/app/web1.conf")?.text == "version = 1\n")
        #expect(world.transport.file("/etc/app/web3.conf")?.text == "version = 1\n")
        #expect(world.commands().last == "resume batch")
    }

    @Test func aToleratedFailureIsRolledBackAloneAndTheRunCompletesWithFailures() async throws {
        // Given web3 unhealthy on the new version only: its recovery finds it healthy
        let world = Self.threeTargetWorld()
        world.transport.on("health web3") { _ in
            world.transport.file("/etc/app/web3.conf")?.text == "version = 2\n" ? .exit(1) : .success
        }
        let result = await world.run(try world.plan(Self.threeTargets(maxFailures: 1)))
        #expect(result.outcome == .completedWithFailures)
        #expect(result.failedTargets == [2])
        #expect(world.transport.file("/etc/app/web3.conf")?.text == "version = 1\n")
        #expect(world.transport.file("/etc/app/web1.conf")?.text == "version = 2\n")
        #expect(world.transport.file("/etc/app/web2.conf")?.text == "version = 2\n")
        #expect(Set(world.events(["rollback.step.finished"]).map { $0.split(separator: " ")[1] }) == ["web3"])
        #expect(world.commands().last == "resume batch")
    }

    @Test func aFailingStepIsRetriedAfterItsDelayAndItsUndoOnceMore() async throws {
        // Given a deploy that fails three times (two retries, 30 s apart) and a rollback that fails twice
        let world = ScriptedWorld()
        world.transport.on(.exactly("deploy"), .exit(1))
        world.transport.on(.exactly("undeploy"), .exit(1), .exit(1), then: .success)
        let plan = try world.plan("""
            sluice: 1
            id: retries
            targets: [{ name: web1 }]
            steps:
              - name: deploy
                run: "deploy"
                rollback: "undeploy"
                retries: 2
                retry_delay: 30s

            """)

        // When the run goes
        let result = await world.run(plan)

        // Then deploy ran at 0, 30 and 60 s and failed; its undo ran at 60, 90 and 120 s (one more
        // attempt than the step's) and succeeded on the third
        #expect(result.outcome == .rolledBack)
        #expect(world.transport.ran.filter { $0.text == "deploy" }.map(\.at) == [.zero, .seconds(30), .seconds(60)])
        #expect(world.transport.ran.filter { $0.text == "undeploy" }.map(\.at) == [.seconds(60), .seconds(90), .seconds(120)])
        let finished = try #require(world.recorder.events.first { $0.kind.rawValue == "step.finished" })
        #expect(finished.detail["result"] == "exited with status 1 after 3 attempts")
        #expect(finished.duration == .seconds(60))
        let undone = try #require(world.recorder.events.first { $0.kind.rawValue == "rollback.step.finished" })
        #expect(undone.detail["result"] == "exited with status 0 on attempt 3")
        #expect(undone.duration == .seconds(60))
    }

    @Test func waitAndHealthStepsRecordHowLongTheyTook() async throws {
        // Given a 300 ms wait, then a health check whose command takes 200 ms, failing once and
        // passing on its second attempt 2 s later (moved here from the end-to-end test, which
        // asserted on the binary's wall-clock durations)
        let world = ScriptedWorld()
        world.transport.on("probe", .exit(1, takes: .milliseconds(200)), .exit(0, takes: .milliseconds(200)))
        let plan = try world.plan("""
            sluice: 1
            id: record-test
            targets: [{ name: web1 }]
            steps:
              - name: settle
                wait: 300ms
              - name: up
                health: { command: "probe", attempts: 2, interval: 2s }

            """)

        // When the run goes
        let result = await world.run(plan)

        // Then each step's event holds its own time: the wait, and the probes with the interval
        #expect(result.outcome == .succeeded)
        let finished = world.recorder.events.filter { $0.kind.rawValue == "step.finished" }
        #expect(finished.map(\.step) == ["settle", "up"])
        #expect(finished.map(\.duration) == [.milliseconds(300), .milliseconds(2400)])
    }

    @Test func aBakeProbesTheCanaryUntilItsTimeIsOverThenTheRestStarts() async throws {
        // Given a canary that bakes 30 s, every health an HTTP probe answered by the script
        let world = Self.threeTargetWorld(scriptedHealth: true)
        let plan = try world.plan(Self.threeTargets(bake: ", bake: 30s").replacingOccurrences(
            of: #"health: { command: "health {{ target.name }}", attempts: 2, interval: 5s }"#,
            with: #"health: { http: "http://{{ target.name }}:8080/health" }"#))

        // When the run goes
        let result = await world.run(plan)

        // Then web1 was probed by its step at 10 s, then by the bake until its 30 s were over,
        // never more than a second apart; the rest started when the bake ended, at 40 s, and
        // were probed only by their own steps
        #expect(result.outcome == .succeeded)
        let times = world.probes.probes.filter { $0.target == "web1" }.compactMap(\.at)
        #expect(times.first == .seconds(10))
        #expect(times.count >= 31, "\(times)")
        #expect(times.last.map { $0 >= .seconds(39) && $0 < .seconds(40) } == true, "\(times)")
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 <= .seconds(1) }, "\(times)")
        #expect(world.times(of: "reload web2") == [.seconds(40)])
        #expect(world.probes.probes.filter { $0.target != "web1" }.compactMap(\.at) == [.seconds(50), .seconds(50)])
        #expect(!world.recorder.events.contains { $0.kind.rawValue == "bake.failed" })
        // The bake's probes are not steps: web1's health step started and finished once
        #expect(world.events(["step.started", "step.finished"]).filter { $0.hasSuffix("web1 healthy") } == ["step.started web1 healthy", "step.finished web1 healthy"])
    }

    @Test func aTargetUnhealthyWhileItsStageBakesEndsTheBakeThereAndRollsBack() async throws {
        // Given web1 healthy for its step and the first 5 s of its 30 s bake, then unhealthy
        // until it is undone
        let world = ScriptedWorld(scriptedHealth: true)
        world.transport.on("deploy", .exit(0, takes: .seconds(10)))
        world.probes.on("web1") { _ in
            world.clock.now.offset >= .seconds(15) && !world.transport.commands.contains("undeploy web1") ? .unhealthy("HTTP 503") : .healthy("HTTP 200")
        }
        let plan = try world.plan("""
            sluice: 1
            id: bake
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1, bake: 30s }
                - { name: rest }
            steps:
              - name: deploy
                run: "deploy {{ target.name }}"
                rollback: "undeploy {{ target.name }}"
              - name: healthy
                health: { http: "http://{{ target.name }}:8080/health", attempts: 1 }

            """)

        // When the run goes
        let result = await world.run(plan)

        // Then the bake failed at 15 s, the canary was undone at once and recovered, and web2
        // was never touched
        #expect(result.outcome == .rolledBack)
        #expect(result.stopReason == .bakeUnhealthy(stage: 0))
        let failed = try #require(world.recorder.events.first { $0.kind.rawValue == "bake.failed" })
        #expect(failed.target == "web1")
        #expect(failed.detail["result"] == "unhealthy after 1 attempt(s): HTTP 503")
        #expect(world.times(of: "undeploy web1") == [.seconds(15)])
        #expect(world.commands() == ["deploy web1", "undeploy web1"])
        #expect(world.probes.probes.allSatisfy { $0.target == "web1" })
        #expect(world.events(["recovery.step.finished"]) == ["recovery.step.finished web1 healthy"])
    }

    @Test func aGuardFailingWhileAStageRunsStopsAndRollsBack() async throws {
        // Given a guard checked every second that fails once the canary has deployed, and a
        // 3 min wait after the deploy (moved here from the real-process tests, where the guard
        // had to fire within a 3 s wait of real time)
        let world = ScriptedWorld()
        world.transport.on("check disk") { _ in world.transport.commands.contains("deploy web1") ? .exit(1, output: "disk full\n") : .success }
        let plan = try world.plan("""
            sluice: 1
            id: guarded
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: rest }
            guards:
              - { name: disk, run: "check disk", every: 1s }
            steps:
              - name: deploy
                run: "deploy {{ target.name }}"
                rollback: "undeploy {{ target.name }}"
              - name: settle
                wait: 3m

            """)

        // When it runs
        let result = await world.run(plan)

        // Then the guard failed 1 s in, during the canary, which was rolled back at once; web2
        // was never touched, and the wait ended when the run stopped, not after 3 min
        #expect(result.outcome == .rolledBack)
        #expect(result.stopReason == .guardFailed(stage: 0))
        #expect(world.commands(excluding: "check disk") == ["deploy web1", "undeploy web1"])
        #expect(world.events(["guard.failed"]) == ["guard.failed disk"])
        #expect(world.times(of: "check disk") == [.zero, .seconds(1)])
        #expect(world.times(of: "undeploy web1") == [.seconds(1)])
        let settle = try #require(world.recorder.events.first { $0.kind.rawValue == "step.finished" && $0.step == "settle" })
        #expect(settle.detail["result"] == "cut short by the stop after 1s of 3m")
        #expect(settle.duration == .seconds(1))
        #expect(world.recorder.events.first { $0.kind.rawValue == "guard.failed" }?.detail["output"] == "disk full\n")
    }

    @Test func aGuardFailingWhileAStageBakesEndsTheBakeAtOnce() async throws {
        // Given a canary that bakes for 30s, and a guard checked every second that fails once the
        // canary has deployed (moved here from the real-process tests: its bound on the run's
        // wall-clock time is now one on the manual clock)
        let world = ScriptedWorld()
        world.transport.on("check disk") { _ in world.transport.commands.contains("deploy web1") ? .exit(1) : .success }
        let plan = try world.plan("""
            sluice: 1
            id: guarded-bake
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1, bake: 30s }
                - { name: rest }
            holds:
              - { name: batch, pause: "pause", resume: "resume" }
            guards:
              - { name: disk, run: "check disk", every: 1s }
            steps:
              - name: deploy
                run: "deploy {{ target.name }}"
                rollback: "undeploy {{ target.name }}"
              - name: healthy
                health: { command: "health {{ target.name }}", attempts: 1 }

            """)

        // When it runs
        let result = await world.run(plan)

        // Then the guard stops the run during the bake, the canary is rolled back and the hold
        // resumed without waiting for the 30s bake to run out; after the undo, web1 is probed once
        // more only by its recovery, no longer by the bake
        let log = world.commands(excluding: "check disk")
        #expect(result.outcome == .rolledBack)
        #expect(result.stopReason == .guardFailed(stage: 0))
        #expect(world.clock.now.offset < .seconds(15))
        #expect(log.first == "pause" && log.last == "resume")
        #expect(log.filter { $0.hasPrefix("deploy") || $0.hasPrefix("undeploy") } == ["deploy web1", "undeploy web1"])
        let undoneAt = try #require(log.firstIndex(of: "undeploy web1"))
        #expect(Array(log[undoneAt...]) == ["undeploy web1", "health web1", "resume"], "\(log)")
        // And on the clock: the guard failed at its first check during the bake, 1 s in, and
        // the undo began within a second of it (the bake ends at its next probe)
        #expect(world.times(of: "check disk") == [.zero, .seconds(1)])
        let undone = try #require(world.times(of: "undeploy web1").first)
        #expect(undone >= .seconds(1) && undone <= .seconds(2), "\(undone)")
    }

    @Test func noStageStartsWithinTheWindowsCutoffAndTheRunStopsAtTheStageBoundary() async throws {
        // Given a window whose last stage start is 2 min in, and a canary that takes 4 min
        let world = Self.threeTargetWorld()
        world.transport.on("deploy web1", .exit(0, takes: .seconds(240)))
        var plan = try world.plan(Self.threeTargets())
        let lastStart = ScriptedWorld.origin.addingTimeInterval(120)
        plan.window = .open(closes: lastStart.addingTimeInterval(1800), lastStageStart: lastStart)

        // When the run goes
        let result = await world.run(plan)

        // Then the canary ran, the rest never started, and the canary was rolled back
        #expect(result.outcome == .rolledBack)
        #expect(result.stopReason == .cutoffReached(stage: 1))
        #expect(world.recorder.events.filter { $0.kind.rawValue == "stage.started" }.map(\.stage) == ["canary"])
        let cutoff = try #require(world.recorder.events.first { $0.kind.rawValue == "window.cutoff" })
        #expect(cutoff.stage == "rest")
        #expect(cutoff.detail["last_stage_start"] == lastStart.ISO8601Format())
        #expect(!world.commands().contains { $0.hasSuffix("web2") || $0.hasSuffix("web3") })
        #expect(world.transport.file("/etc/app/web1.conf")?.text == "version = 1\n")
        #expect(world.commands().last == "resume batch")
        #expect(world.times(of: "undeploy web1") == [.seconds(240)])
    }

    @Test func aStopCutsAWaitShortStartsNothingElseAndRollsBack() async throws {
        // Given a 10 min wait after the deploy, and an operator who asks the run to stop 30 s in
        let world = ScriptedWorld()
        let plan = try world.plan("""
            sluice: 1
            id: stopped
            targets: [{ name: web1 }, { name: web2 }]
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: rest }
            steps:
              - name: deploy
                run: "deploy {{ target.name }}"
                rollback: "undeploy {{ target.name }}"
              - name: settle
                wait: 10m
              - name: after
                run: "after {{ target.name }}"

            """)
        let stop = StopSignal()
        let engine = world.engine()

        // When the run goes and the stop comes
        let result = await world.clock.run {
            await withTaskGroup(of: RolloutMachine.RunResult?.self) { group in
                group.addTask { await engine.run(plan, stop: stop) }
                group.addTask {
                    try? await world.clock.sleep(for: .seconds(30))
                    stop.request()
                    return nil
                }
                var result: RolloutMachine.RunResult?
                for await ended in group { result = result ?? ended }
                return result
            }
        }

        // Then the wait ended at the stop, the next step never started, and the canary was undone
        #expect(result?.outcome == .rolledBack)
        #expect(result?.stopReason == .stopRequested)
        #expect(world.commands() == ["deploy web1", "undeploy web1"])
        let settle = try #require(world.recorder.events.first { $0.kind.rawValue == "step.finished" && $0.step == "settle" })
        #expect(settle.detail["result"] == "cut short by the stop after 30s of 10m")
        #expect(world.times(of: "undeploy web1") == [.seconds(30)])
        #expect(world.clock.now.offset == .seconds(30))
    }
}
