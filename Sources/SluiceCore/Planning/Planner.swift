import Foundation

/// Builds a ``Plan`` from a runbook: stages with their targets, and every command rendered for
/// every target it runs on. Pure: no command runs, no file is read.
public struct Planner: Sendable {
    /// The text shown where a file step's `validate` gets its temporary file.
    public static let temporaryFileDisplay = "<new content>"

    /// A planner; it keeps no state between plans.
    public init() {}

    /// The plan for `runbook`, made at `now` with the run's variables and id.
    ///
    /// - Parameters:
    ///   - validateFile: where a file step's new content is written for its `validate`, given the
    ///     target's name, the step's index and the file's absolute path. `validate` is rendered
    ///     with this path as `{{ file }}`: `plan` and `apply` both give a temporary file beside the
    ///     real one (`.NAME.sluice-RUN-N`), so that relative includes resolve the same and apply
    ///     renames the validated content from there into place.
    /// - Throws: ``TemplateRenderError`` or ``ProbeAddressError`` when a value cannot be rendered.
    public func plan(
        runbook: Runbook, variables: ResolvedVariables, runID: String, now: Date, content: ContentDigest,
        validateFile: @escaping @Sendable (String, Int, String) -> String = { _, _, path in path }
    ) throws -> Plan {
        let base = RenderContext(variables: variables, target: nil, runID: runID, stageName: nil, runbookDirectory: runbook.directory)
        let assignment = runbook.stageAssignment
        let firstStage = runbook.rollout.stages.first?.name
        let recovery = runbook.effectiveRecovery
        var stages: [PlannedStage] = []
        for (index, stage) in runbook.rollout.stages.enumerated() {
            let members = assignment.stages[index].map { runbook.targets[$0] }
            var context = base
            context.stageName = stage.name
            let stageContext = context
            let targets = try members.concurrentMap { target in
                var context = stageContext
                context.target = target
                return try plan(target: target, runbook: runbook, recovery: recovery, context: context, validateFile: validateFile)
            }
            stages.append(PlannedStage(
                name: stage.name, parallel: stage.parallel, toleratedFailures: stage.maxFailures.tolerated(outOf: members.count),
                bake: stage.bake.map(PlannedDuration.init), targets: targets))
        }
        // A guard is checked before and during every stage, with that stage's name.
        let stageContexts = stages.map { stage in
            var context = base
            context.stageName = stage.name
            return context
        }
        var guardContext = base
        guardContext.stageName = firstStage
        return Plan(
            format: Plan.currentFormat, runID: runID, createdAt: now,
            runbook: RunbookInfo(
                id: runbook.id, title: runbook.title, kind: runbook.kind.rawValue, owner: runbook.owner,
                ticket: runbook.ticket, file: runbook.file, directory: runbook.directory),
            content: content, window: WindowCalendar(runbook: runbook).verdict(at: now),
            approval: ApprovalRequirement(required: runbook.approval.required, distinctApprover: runbook.approval.distinctApprover),
            onFailure: runbook.rollout.onFailure, rollbackScope: runbook.rollout.rollbackScope,
            holds: try runbook.holds.map { hold in
                let pause = try command(hold.pause, base), resume = try command(hold.resume, base)
                return PlannedHold(
                    name: hold.name, pause: pause.display, resume: resume.display, pauseCommand: pause.executable,
                    resumeCommand: resume.executable)
            },
            guards: try runbook.guards.map { guardCheck in
                let perStage = try stageContexts.map { try command(guardCheck.run, $0) }
                return PlannedGuard(
                    name: guardCheck.name, check: try command(guardCheck.run, guardContext), every: guardCheck.every.map(PlannedDuration.init),
                    stageChecks: Set(perStage.map(\.display)).count > 1 || Set(perStage.map(\.executable)).count > 1 ? perStage : nil)
            },
            stages: stages)
    }

    private func plan(
        target: Target, runbook: Runbook, recovery: [Step], context: RenderContext,
        validateFile: (String, Int, String) -> String
    ) throws -> PlannedTarget {
        PlannedTarget(
            name: target.name, labels: target.labels,
            preflight: try runbook.preflight.map { NamedCheck(name: $0.name, command: try command($0.run, context)) },
            steps: try runbook.steps.enumerated().map { index, step in
                try plan(step: step, index: index, target: target, context: context, validateFile: validateFile)
            },
            recovery: try recovery.enumerated().map { index, step in
                try plan(step: step, index: index, target: target, context: context, validateFile: validateFile)
            })
    }

    private func plan(
        step: Step, index: Int, target: Target, context: RenderContext, validateFile: (String, Int, String) -> String
    ) throws -> PlannedStep {
        let applies = step.when.isEmpty || target.matches(step.when)
        var planned = PlannedStep(
            name: step.name, action: .skipped(step.action.kind), timeout: Self.planned(step.timeout),
            retries: step.retries, retryDelay: Self.planned(step.retryDelay),
            verification: CheckOutcome(status: .nothingToCheck, detail: ""))
        guard applies else {
            let labels = step.when.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            planned.verification = CheckOutcome(status: .nothingToCheck, detail: "not on this target (when \(labels))")
            return planned
        }
        planned.check = try step.check.map { try command($0, context) }
        planned.rollback = try step.rollback.map { try command($0, context) }
        planned.environment = try Dictionary(uniqueKeysWithValues: step.env.map {
            ($0.name, try $0.value.render(in: context, quoting: .verbatim))
        })
        switch step.action {
        case .run(let run), .cacheRefresh(let run):
            let rendered = try command(run, context)
            planned.action = if case .run = step.action { .run(rendered) } else { .cacheRefresh(rendered) }
            planned.verification = step.check == nil
                ? CheckOutcome(status: .notChecked, detail: "no `check` command: the dry run cannot verify this step")
                : CheckOutcome(status: .notChecked, detail: "check not run yet")
        case .health(let health):
            planned.action = .health(PlannedHealth(
                probe: try health.probe.render(in: context, redactingSecrets: true),
                executableProbe: try health.probe.render(in: context),
                status: health.status, contains: health.contains, attempts: health.attempts,
                interval: Self.planned(health.interval), timeout: Self.planned(health.timeout)))
            planned.verification = CheckOutcome(status: .notChecked, detail: "probe not run yet")
        case .file(let change):
            let path = try change.path.render(in: context, quoting: .verbatim)
            var validateContext = context
            let absolutePath = PathResolver.resolve(path, in: context.runbookDirectory)
            validateContext.file = validateFile(target.name, index, absolutePath)
            var displayContext = context
            displayContext.file = Self.temporaryFileDisplay
            planned.action = .file(PlannedFile(
                path: try change.path.render(in: context, quoting: .verbatim, redactingSecrets: true),
                executablePath: absolutePath,
                validateFile: change.validate == nil ? nil : validateContext.file,
                mode: change.mode.map { String($0, radix: 8).leftPadded(to: 4) },
                content: try change.content.template.render(in: context, quoting: .verbatim, redactingSecrets: true),
                executableContent: try change.content.template.render(in: context, quoting: .verbatim),
                validate: try change.validate.map {
                    PlannedCommand(
                        display: try $0.render(in: displayContext, redactingSecrets: true).description,
                        executable: try $0.render(in: validateContext))
                },
                reload: try change.reload.map { try command($0, context) },
                follow: change.follow))
            planned.verification = change.validate == nil
                ? CheckOutcome(status: .notChecked, detail: "no `validate` command: only the diff shows the change")
                : CheckOutcome(status: .notChecked, detail: "validate not run yet")
        case .wait(let duration):
            planned.action = .wait(PlannedDuration(duration))
            planned.verification = CheckOutcome(status: .nothingToCheck, detail: "a wait changes nothing")
        }
        return planned
    }

    /// A step's duration; the common ones are spelt once, not once per step per target.
    private static func planned(_ duration: Duration) -> PlannedDuration {
        switch duration {
        case Step.defaultTimeout: defaultTimeout
        case Step.defaultRetryDelay: defaultRetryDelay
        default: PlannedDuration(duration)
        }
    }

    private static let defaultTimeout = PlannedDuration(Step.defaultTimeout)
    private static let defaultRetryDelay = PlannedDuration(Step.defaultRetryDelay)

    private func command(_ command: Command, _ context: RenderContext) throws -> PlannedCommand {
        let executable = try command.render(in: context)
        // Render a second time, masked, only when a secret is in it.
        let display = command.usesSecret(of: context)
            ? try command.render(in: context, redactingSecrets: true).description : executable.description
        return PlannedCommand(display: display, executable: executable)
    }
}

extension Step.Action {
    /// The kind of step, as the plan names it.
    var kind: PlannedAction.Kind {
        switch self {
        case .run: .run
        case .cacheRefresh: .cacheRefresh
        case .health: .health
        case .file: .file
        case .wait: .wait
        }
    }
}

extension Runbook {
    /// What recovery runs on a rolled-back target: the `recovery` steps when given, else the
    /// runbook's `cache_refresh` steps followed by its `health` steps.
    public var effectiveRecovery: [Step] {
        if !recovery.isEmpty { return recovery }
        let refreshes = steps.filter { if case .cacheRefresh = $0.action { true } else { false } }
        let healthChecks = steps.filter { if case .health = $0.action { true } else { false } }
        return refreshes + healthChecks
    }
}

extension String {
    /// The text padded on the left to `length` characters.
    package func leftPadded(to length: Int, with pad: Character = "0") -> String {
        count >= length ? self : String(repeating: pad, count: length - count) + self
    }
}
