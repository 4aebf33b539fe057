import Foundation
import SluiceCore

/// Runs the read-only parts of a plan: preflight, `check` commands, guards, each file step's
/// `validate` on its new content, and one probe of each health step as things stand. Reads each
/// file a file step would replace to show the diff. Nothing here changes a target: `run`,
/// `rollback`, `cache_refresh`, holds and notifications never run in a dry run.
public struct PlanChecker: Sendable {
    /// How each target (and the runner, for guards) is reached.
    let transports: Transports
    let prober: any HealthProber
    /// How many checks run at once.
    let parallel: Int
    let redactor: Redactor

    /// A checker reaching targets through `transports`, running at most `parallel` checks at a time.
    public init(transports: Transports, prober: any HealthProber, parallel: Int = 16, redactor: Redactor) {
        self.transports = transports
        self.prober = prober
        self.parallel = max(parallel, 1)
        self.redactor = redactor
    }

    /// Where one check's result goes in the plan.
    enum Slot: Sendable {
        case guardCheck(Int)
        case preflight(stage: Int, target: Int, index: Int)
        case step(stage: Int, target: Int, index: Int)
        case file(stage: Int, target: Int, index: Int, inspection: FileInspection)
    }

    /// Runs every check, at most `parallel` at a time, and records the results in `plan`.
    public func check(_ plan: inout Plan) async {
        let jobs = makeJobs(plan)
        var results: [(Slot, CheckOutcome)] = []
        await withTaskGroup(of: (Slot, CheckOutcome).self) { group in
            var next = 0
            func launch() {
                let job = jobs[next]
                next += 1
                group.addTask { await job() }
            }
            while next < jobs.count, next < parallel { launch() }
            while let result = await group.next() {
                results.append(result)
                if next < jobs.count { launch() }
            }
        }
        for (slot, outcome) in results { record(outcome, at: slot, in: &plan) }
    }

    private func makeJobs(_ plan: Plan) -> [@Sendable () async -> (Slot, CheckOutcome)] {
        var jobs: [@Sendable () async -> (Slot, CheckOutcome)] = []
        let runner = transports.runner
        let firstStage = plan.stages.first?.name ?? ""
        for (index, guardCheck) in plan.guards.enumerated() {
            guard let executable = guardCheck.check.executable else { continue }
            let environment = Self.environment(plan.runID, target: nil, stage: firstStage, step: guardCheck.name)
            jobs.append { (.guardCheck(index), await self.run(executable, on: runner, environment: environment, timeout: Guard.timeout)) }
        }
        for (stageIndex, stage) in plan.stages.enumerated() {
            for (targetIndex, target) in stage.targets.enumerated() {
                let transport = transports.transport(for: target.name)
                for (index, preflight) in target.preflight.enumerated() {
                    guard let executable = preflight.command.executable else { continue }
                    let environment = Self.environment(plan.runID, target: target.name, stage: stage.name, step: preflight.name)
                    jobs.append {
                        (.preflight(stage: stageIndex, target: targetIndex, index: index),
                         await self.run(executable, on: transport, environment: environment, timeout: Step.defaultTimeout))
                    }
                }
                for (index, step) in target.steps.enumerated() where step.applies && step.needsChecking {
                    let environment = Self.environment(plan.runID, target: target.name, stage: stage.name, step: step.name)
                        .merging(step.environment ?? [:]) { _, stepValue in stepValue }
                    let slot = Slot.step(stage: stageIndex, target: targetIndex, index: index)
                    if let check = step.check?.executable {
                        let timeout = step.timeout.duration
                        jobs.append { (slot, await self.run(check, on: transport, environment: environment, timeout: timeout)) }
                    } else if let health = step.health, let probe = health.executableProbe {
                        let request = ProbeRequest(
                            probe: probe, status: health.status, contains: health.contains,
                            timeout: health.timeout.duration, transport: transport,
                            environment: environment, redactor: redactor)
                        jobs.append { (slot, await self.probe(request)) }
                    } else if let file = step.file {
                        jobs.append { await self.inspect(file, slot: (stageIndex, targetIndex, index), on: transport, environment: environment, timeout: step.timeout.duration) }
                    }
                }
            }
        }
        return jobs
    }

    /// `SLUICE_*` variables for a dry-run command.
    static func environment(_ runID: String, target: String?, stage: String, step: String) -> [String: String] {
        var environment = ["SLUICE_RUN_ID": runID, "SLUICE_MODE": "check", "SLUICE_STAGE": stage, "SLUICE_STEP": step]
        if let target { environment["SLUICE_TARGET"] = target }
        return environment
    }

    private func run(_ command: RenderedCommand, on transport: any TargetTransport, environment: [String: String], timeout: Duration) async -> CheckOutcome {
        let result = await transport.run(CommandRequest(command: command, environment: environment, timeout: timeout, redactor: redactor))
        return CheckOutcome(
            status: result.succeeded ? .passed : .failed, detail: result.termination.description, exitCode: result.exitCode,
            output: result.output.isEmpty ? nil : result.output, durationMilliseconds: Int(result.duration.timeInterval * 1000))
    }

    private func probe(_ request: ProbeRequest) async -> CheckOutcome {
        let result = await prober.probe(request)
        return CheckOutcome(status: result.healthy ? .passed : .unhealthy, detail: (result.healthy ? "healthy now: " : "unhealthy now: ") + redactor.redact(result.detail))
    }

    /// What replacing a file would change, found by reading it.
    struct FileInspection: Sendable {
        /// Nil when the path holds something a file step refuses (a link not followed, a folder).
        var change: PlannedFile.Change?
        var currentMode: String?
        var diff: String
        var linkTarget: String?
    }

    private func inspect(
        _ file: PlannedFile, slot: (Int, Int, Int), on transport: any TargetTransport, environment: [String: String], timeout: Duration
    ) async -> (Slot, CheckOutcome) {
        let path = file.executablePath ?? file.path
        let newContent = file.executableContent ?? file.content
        let current: FileSnapshot
        do {
            current = try await transport.snapshot(path, follow: file.follow ?? false)
        } catch FileChangeError.folderMissing {
            // An earlier step may create the folder: the file is new, and validate cannot run here.
            let inspection = FileInspection(
                change: .create, currentMode: nil, diff: UnifiedDiff.make(old: nil, new: file.content, path: file.path), linkTarget: nil)
            return (Slot.file(stage: slot.0, target: slot.1, index: slot.2, inspection: inspection),
                    CheckOutcome(status: .notChecked, detail: "the file's folder does not exist yet (an earlier step may create it): `validate` not run, only the diff shows the change"))
        } catch {
            // A link not followed, a directory, a FIFO: apply would refuse it the same way.
            let inspection = FileInspection(change: nil, currentMode: nil, diff: "", linkTarget: nil)
            return (Slot.file(stage: slot.0, target: slot.1, index: slot.2, inspection: inspection),
                    CheckOutcome(status: .failed, detail: redactor.redact("\(error)")))
        }
        let currentMode = current.mode.map { String($0, radix: 8).leftPadded(to: 4) }
        let currentText = current.content.map { redactor.redact(String(decoding: $0, as: UTF8.self)) }
        var change: PlannedFile.Change
        if !current.existed {
            change = .create
        } else if current.content == Data(newContent.utf8) {
            change = (file.mode != nil && file.mode != currentMode) ? .mode : .unchanged
        } else {
            change = .modify
        }
        let diff = UnifiedDiff.make(old: currentText, new: file.content, path: file.path)
        let inspection = FileInspection(
            change: change, currentMode: currentMode, diff: diff, linkTarget: current.path == path ? nil : redactor.redact(current.path))
        let fileSlot = Slot.file(stage: slot.0, target: slot.1, index: slot.2, inspection: inspection)
        if change == .unchanged {
            return (fileSlot, CheckOutcome(status: .passed, detail: "unchanged: the file already holds the new content; apply writes nothing and does not reload"))
        }
        guard let validate = file.validate?.executable, let validateFile = file.validateFile else {
            return (fileSlot, CheckOutcome(status: .notChecked, detail: "no `validate` command: only the diff shows the change"))
        }
        // The new content goes to a private temporary file beside the real one, as in apply, so
        // that relative includes resolve the same; it is removed as soon as `validate` ends.
        do {
            let outcome = try await transport.validating(Data(newContent.utf8), beside: path, as: validateFile) {
                await self.run(validate, on: transport, environment: environment, timeout: timeout)
            }
            return (fileSlot, outcome)
        } catch {
            return (fileSlot, CheckOutcome(status: .failed, detail: redactor.redact("could not write the new content for `validate`: \(error)")))
        }
    }

    private func record(_ outcome: CheckOutcome, at slot: Slot, in plan: inout Plan) {
        switch slot {
        case .guardCheck(let index):
            plan.guards[index].check.outcome = outcome
        case .preflight(let stage, let target, let index):
            plan.stages[stage].targets[target].preflight[index].outcome = outcome
        case .step(let stage, let target, let index):
            plan.stages[stage].targets[target].steps[index].verification = outcome
        case .file(let stage, let target, let index, let inspection):
            plan.stages[stage].targets[target].steps[index].verification = outcome
            plan.stages[stage].targets[target].steps[index].file?.change = inspection.change
            plan.stages[stage].targets[target].steps[index].file?.currentMode = inspection.currentMode
            plan.stages[stage].targets[target].steps[index].file?.diff = inspection.diff
            plan.stages[stage].targets[target].steps[index].file?.linkTarget = inspection.linkTarget
            plan.stages[stage].targets[target].steps[index].file?.validate?.outcome = outcome
        }
    }
}

extension PlannedStep {
    /// Whether the dry run has anything to run or read for this step.
    var needsChecking: Bool { check?.executable != nil || health?.executableProbe != nil || file != nil }
}
