import Foundation

/// Everything `apply` would do, rendered per target, with what the dry run found.
///
/// A plan is a value: built purely by ``Planner`` from a runbook, its resolved variables and the
/// time, then annotated by the checks `sluice plan` runs. What it shows is what apply executes.
/// Displayed commands and file contents have secret values replaced by `***`; the executable forms
/// (which hold secrets) are ``Executable``: left out of every encoding but the run's journal,
/// which seals the secret values first (``PlanJournal``), so no encoded plan holds a secret.
public struct Plan: Sendable, Codable, Equatable {
    /// The format this Sluice writes in ``format``.
    public static let currentFormat = 1

    /// The plan's format version, ``currentFormat`` for a plan this Sluice made.
    public var format: Int
    /// The plan's own run id: `plan` is recorded as a run like any other.
    public var runID: String
    /// When the plan was made: the moment its window verdict is for.
    public var createdAt: Date
    /// The runbook the plan was made from.
    public var runbook: RunbookInfo
    /// The files the plan was made from, by hash: `apply --plan` refuses when any changed since.
    public var content: ContentDigest
    /// The window and freezes at ``createdAt``; apply evaluates them again when it starts.
    public var window: WindowVerdict
    /// What the runbook asks of approvals (whether anyone approved is the store's to say).
    public var approval: ApprovalRequirement
    /// What the run does when the rollout stops on a failure, as the runbook says.
    public var onFailure: Rollout.OnFailure
    /// Which targets the run's rollback undoes, as the runbook says.
    public var rollbackScope: Rollout.RollbackScope
    /// The holds, in runbook order: paused before the first stage, resumed at the end.
    public var holds: [PlannedHold]
    /// The guards, rendered once, with the first stage's name as `{{ stage.name }}` (`SLUICE_STAGE`
    /// names the stage each check is for); the dry run checks each once.
    public var guards: [PlannedGuard]
    /// The stages in order, each with its targets: what apply runs, and nothing else.
    public var stages: [PlannedStage]

    /// Every planned target, stage by stage.
    public var targets: [PlannedTarget] { stages.flatMap(\.targets) }

    /// Counts for the report's last lines.
    public var summary: PlanSummary {
        var summary = PlanSummary()
        summary.targets = targets.count
        for target in targets {
            for outcome in target.preflight.compactMap(\.outcome) { summary.countCheck(outcome) }
            for step in target.steps where step.applies { summary.countStep(step.verification) }
        }
        for outcome in guards.compactMap(\.check.outcome) { summary.countCheck(outcome) }
        return summary
    }
}

/// What identifies the runbook a plan was made from.
public struct RunbookInfo: Sendable, Codable, Equatable {
    /// The runbook's `id`: what history and locks call the change.
    public var id: String
    /// The runbook's `title`; nil when it has none.
    public var title: String?
    /// `change` or `maintenance`.
    public var kind: String
    /// The runbook's `owner`; nil when it has none.
    public var owner: String?
    /// The runbook's `ticket`; nil when it has none.
    public var ticket: String?
    /// The runbook's path as given (relative to the folder `sluice` ran in, or absolute).
    public var file: String
    /// The runbook's folder, absolute.
    public var directory: String

    /// Where the runbook is, whatever folder `file` was given from: its folder and file name.
    public var path: String { directory + "/" + (file as NSString).lastPathComponent }
}

/// Whether applying needs an approval, and of what kind.
public struct ApprovalRequirement: Sendable, Codable, Equatable {
    /// Apply refuses without an approval of the plan's exact ``Plan/content``.
    public var required: Bool
    /// The approver may not be the person who applies.
    public var distinctApprover: Bool
}

/// A command as shown (secrets masked) and, in memory only, as executed.
public struct PlannedCommand: Sendable, Codable, Equatable {
    /// The command as one line for people, with secret values as `***`; what plans and the audit
    /// store show.
    public var display: String
    /// The command to run, with secret values.
    @Executable public var executable: RenderedCommand?
    /// What happened when the dry run ran it, if it did.
    public var outcome: CheckOutcome?

    /// A command not yet run by the dry run unless `outcome` is given.
    public init(display: String, executable: RenderedCommand?, outcome: CheckOutcome? = nil) {
        self.display = display
        self.executable = executable
        self.outcome = outcome
    }
}

/// The result of one read-only check in the dry run.
public struct CheckOutcome: Sendable, Codable, Equatable {
    /// How the check came out; the raw value is the plan's JSON.
    public enum Status: String, Sendable, Codable {
        /// The command exited 0, the probe found the target healthy, or the file needs no change.
        case passed
        /// The command failed (its status, a timeout, or it could not start), or a file step would be
        /// refused: the plan is not ready.
        case failed
        /// A health probe that found the target unhealthy as things stand: worth knowing, not a failure.
        case unhealthy
        /// Nothing in the runbook lets the dry run check this step.
        case notChecked = "not_checked"
        /// Nothing to check: a wait, or a step that does not apply to the target.
        case nothingToCheck = "nothing_to_check"
    }

    /// How the check came out.
    public var status: Status
    /// For people: why it failed, or why it could not be checked.
    public var detail: String
    /// The command's exit status; nil when it did not exit by itself (a timeout, a signal, a
    /// command that could not start) or for what is not a command.
    public var exitCode: Int32?
    /// The end of the command's output, redacted.
    public var output: String?
    /// How long the command ran, in milliseconds; nil for what ran no command.
    public var durationMilliseconds: Int?

    /// An outcome with no exit status, output or duration unless given.
    public init(status: Status, detail: String, exitCode: Int32? = nil, output: String? = nil, durationMilliseconds: Int? = nil) {
        self.status = status
        self.detail = detail
        self.exitCode = exitCode
        self.output = output
        self.durationMilliseconds = durationMilliseconds
    }
}

/// A hold with its commands rendered: paused once before the first stage, resumed at the end.
public struct PlannedHold: Sendable, Codable, Equatable {
    /// The hold's name, as the runbook gives it.
    public var name: String
    /// The pause command as shown, secrets masked.
    public var pause: String
    /// The resume command as shown, secrets masked.
    public var resume: String
    /// The commands to run, with secret values.
    @Executable public var pauseCommand: RenderedCommand?
    /// The resume command with secret values.
    @Executable public var resumeCommand: RenderedCommand?

    /// A hold with its commands as shown and, in a plan that will run, as executed.
    public init(name: String, pause: String, resume: String, pauseCommand: RenderedCommand? = nil, resumeCommand: RenderedCommand? = nil) {
        self.name = name
        self.pause = pause
        self.resume = resume
        self.pauseCommand = pauseCommand
        self.resumeCommand = resumeCommand
    }
}

/// A guard with its command rendered.
public struct PlannedGuard: Sendable, Codable, Equatable {
    /// The guard's name, as the runbook gives it.
    public var name: String
    /// The guard's command, with the dry run's outcome once checked.
    public var check: PlannedCommand
    /// How often the guard is checked while a stage runs or bakes; nil: only before each stage.
    public var every: PlannedDuration?
    /// The command rendered for each stage, in stage order, when it differs between stages (it
    /// uses `{{ stage.name }}`); nil when every stage checks ``check``.
    public var stageChecks: [PlannedCommand]?

    /// The command checked before and during stage `stage`.
    public func check(forStage stage: Int) -> PlannedCommand {
        guard let stageChecks, stageChecks.indices.contains(stage) else { return check }
        return stageChecks[stage]
    }
}

/// A stage with its targets, as the runbook's stages assigned them.
public struct PlannedStage: Sendable, Codable, Equatable {
    /// The stage's name, as the runbook gives it.
    public var name: String
    /// How many of its targets run at once.
    public var parallel: Int
    /// How many failed targets the stage tolerates.
    public var toleratedFailures: Int
    /// How long the stage's health steps are probed again after its targets finish; nil: no bake.
    public var bake: PlannedDuration?
    /// The stage's targets, in target-list order.
    public var targets: [PlannedTarget]
}

/// One target with everything rendered for it.
public struct PlannedTarget: Sendable, Codable, Equatable {
    /// The target's name: how journals, locks and `resume` name it.
    public var name: String
    /// The target's labels, as the runbook gives them.
    public var labels: [String: String]
    /// The preflight checks rendered for this target, in runbook order.
    public var preflight: [NamedCheck]
    /// Every step of the runbook, in order, including those that do not apply here
    /// (``PlannedStep/applies``), so that indices match across targets.
    public var steps: [PlannedStep]
    /// What recovery runs for this target after a rollback.
    public var recovery: [PlannedStep]
}

/// A named command: a preflight check.
public struct NamedCheck: Sendable, Codable, Equatable {
    /// The check's name, as the runbook gives it.
    public var name: String
    /// The check's command, rendered for the target.
    public var command: PlannedCommand
    /// What the dry run found; nil until it ran the check.
    public var outcome: CheckOutcome? {
        get { command.outcome }
        set { command.outcome = newValue }
    }
}

/// A health step's probe rendered for one target, with its retry policy.
public struct PlannedHealth: Sendable, Codable, Equatable {
    /// The probe as shown, secrets masked.
    public var probe: RenderedProbe
    /// The probe with secret values.
    @Executable public var executableProbe: RenderedProbe?
    /// The HTTP status expected; nil accepts any 2xx.
    public var status: Int?
    /// Text the HTTP body must contain; nil: any body.
    public var contains: String?
    /// How many tries before the step fails.
    public var attempts: Int
    /// The pause between tries.
    public var interval: PlannedDuration
    /// The bound on each try.
    public var timeout: PlannedDuration
}

/// A file step rendered for one target: the file, its new content and its commands, and, once the
/// dry run read the file, what writing it would change.
public struct PlannedFile: Sendable, Codable, Equatable {
    /// What writing the file would change.
    public enum Change: String, Sendable, Codable {
        /// `create`: no file there yet; `modify`: new content; `unchanged`: the same content and mode,
        /// so apply writes nothing and does not reload.
        case create, modify, unchanged
        /// Same content, different permission bits.
        case mode
    }

    /// The path as shown, secrets masked.
    public var path: String
    /// The path with secret values, absolute.
    @Executable public var executablePath: String?
    /// Where the new content is written for `validate`, before it is renamed into place.
    @Executable public var validateFile: String?
    /// The mode the file will have, as octal text; nil keeps an existing file's mode (0644 if new).
    public var mode: String?
    /// The new content as shown, secrets masked.
    public var content: String
    /// The new content as written.
    @Executable public var executableContent: String?
    /// Run on the new content before it replaces the old; nil when the step has none. Its display
    /// shows ``Planner/temporaryFileDisplay`` for `{{ file }}`.
    public var validate: PlannedCommand?
    /// Run after the new content is in place, and after a rollback restores the old; nil when none.
    public var reload: PlannedCommand?
    /// `follow: true`: a symbolic link at the path is followed (the file it points to changes,
    /// the link stays); nil or false refuses a link.
    public var follow: Bool?
    /// Filled by the dry run: what writing the file would change, and the diff.
    public var change: Change?
    /// Filled by the dry run: the file's mode now, as octal text; nil when there is no file yet
    /// (or the dry run refused what is at the path).
    public var currentMode: String?
    /// Filled by the dry run: a unified diff from the current content to the new, secrets masked
    /// (empty when the content is the same, summarized past 2,000 lines); nil until then.
    public var diff: String?
    /// Filled by the dry run for a followed link: the file it points to.
    public var linkTarget: String?
}

/// The report's closing counts.
public struct PlanSummary: Sendable, Codable, Equatable {
    /// Targets in the plan.
    public var targets = 0
    /// Step instances that apply would run (steps times the targets they apply to).
    public var steps = 0
    /// Step instances the dry run verified (check, validate or health probe).
    public var checked = 0
    /// Step instances the dry run could not verify.
    public var notChecked = 0
    /// Preflight and guard commands run.
    public var checks = 0
    /// Checks, `check` commands and `validate` commands that failed.
    public var failures = 0
    /// Health probes that found a target unhealthy before the change.
    public var unhealthy = 0

    mutating func countStep(_ outcome: CheckOutcome) {
        steps += 1
        switch outcome.status {
        case .passed: checked += 1
        case .failed: checked += 1; failures += 1
        case .unhealthy: checked += 1; unhealthy += 1
        case .notChecked: notChecked += 1
        case .nothingToCheck: break
        }
    }

    mutating func countCheck(_ outcome: CheckOutcome) {
        checks += 1
        if outcome.status == .failed { failures += 1 }
    }

    /// No check failed: `plan` exits 0 and records `ready`. Unhealthy probes, a closed window and a
    /// missing approval do not count against it.
    public var ready: Bool { failures == 0 }
}
