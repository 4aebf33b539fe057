import Foundation

/// Everything `apply` would do, rendered per target, with what the dry run found.
///
/// A plan is a value: built purely by ``Planner`` from a runbook, its resolved variables and the
/// time, then annotated by the checks `sluice plan` runs. What it shows is what apply executes.
/// Displayed commands and file contents have secret values replaced by `***`; the executable forms
/// (which hold secrets) are ``Executable``: left out of every encoding but the run's journal,
/// which seals the secret values first (``PlanJournal``), so no encoded plan holds a secret.
public struct Plan: Sendable, Codable, Equatable {
    public static let currentFormat = 1

    public var format: Int
    /// The plan's own run id: `plan` is recorded as a run like any other.
    public var runID: String
    public var createdAt: Date
    public var runbook: RunbookInfo
    public var content: ContentDigest
    public var window: WindowVerdict
    public var approval: ApprovalRequirement
    public var onFailure: Rollout.OnFailure
    public var rollbackScope: Rollout.RollbackScope
    public var holds: [PlannedHold]
    public var guards: [PlannedGuard]
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
    public var id: String
    public var title: String?
    public var kind: String
    public var owner: String?
    public var ticket: String?
    /// The runbook's path as given, and its folder.
    public var file: String
    public var directory: String

    /// Where the runbook is, whatever folder `file` was given from: its folder and file name.
    public var path: String { directory + "/" + (file as NSString).lastPathComponent }
}

/// Whether applying needs an approval, and of what kind.
public struct ApprovalRequirement: Sendable, Codable, Equatable {
    public var required: Bool
    public var distinctApprover: Bool
}

/// A command as shown (secrets masked) and, in memory only, as executed.
public struct PlannedCommand: Sendable, Codable, Equatable {
    public var display: String
    /// The command to run, with secret values.
    @Executable public var executable: RenderedCommand?
    /// What happened when the dry run ran it, if it did.
    public var outcome: CheckOutcome?

    public init(display: String, executable: RenderedCommand?, outcome: CheckOutcome? = nil) {
        self.display = display
        self.executable = executable
        self.outcome = outcome
    }
}

/// The result of one read-only check in the dry run.
public struct CheckOutcome: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case passed
        case failed
        /// A health probe that found the target unhealthy as things stand: worth knowing, not a failure.
        case unhealthy
        /// Nothing in the runbook lets the dry run check this step.
        case notChecked = "not_checked"
        /// Nothing to check: a wait, or a step that does not apply to the target.
        case nothingToCheck = "nothing_to_check"
    }

    public var status: Status
    /// For people: why it failed, or why it could not be checked.
    public var detail: String
    public var exitCode: Int32?
    /// The end of the command's output, redacted.
    public var output: String?
    public var durationMilliseconds: Int?

    public init(status: Status, detail: String, exitCode: Int32? = nil, output: String? = nil, durationMilliseconds: Int? = nil) {
        self.status = status
        self.detail = detail
        self.exitCode = exitCode
        self.output = output
        self.durationMilliseconds = durationMilliseconds
    }
}

public struct PlannedHold: Sendable, Codable, Equatable {
    public var name: String
    public var pause: String
    public var resume: String
    /// The commands to run, with secret values.
    @Executable public var pauseCommand: RenderedCommand?
    @Executable public var resumeCommand: RenderedCommand?

    public init(name: String, pause: String, resume: String, pauseCommand: RenderedCommand? = nil, resumeCommand: RenderedCommand? = nil) {
        self.name = name
        self.pause = pause
        self.resume = resume
        self.pauseCommand = pauseCommand
        self.resumeCommand = resumeCommand
    }
}

public struct PlannedGuard: Sendable, Codable, Equatable {
    public var name: String
    public var check: PlannedCommand
    public var every: PlannedDuration?
}

public struct PlannedStage: Sendable, Codable, Equatable {
    public var name: String
    public var parallel: Int
    /// How many failed targets the stage tolerates.
    public var toleratedFailures: Int
    public var bake: PlannedDuration?
    public var targets: [PlannedTarget]
}

public struct PlannedTarget: Sendable, Codable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var preflight: [NamedCheck]
    public var steps: [PlannedStep]
    /// What recovery runs for this target after a rollback.
    public var recovery: [PlannedStep]
}

/// A named command: a preflight check.
public struct NamedCheck: Sendable, Codable, Equatable {
    public var name: String
    public var command: PlannedCommand
    public var outcome: CheckOutcome? {
        get { command.outcome }
        set { command.outcome = newValue }
    }
}

public struct PlannedHealth: Sendable, Codable, Equatable {
    public var probe: RenderedProbe
    /// The probe with secret values.
    @Executable public var executableProbe: RenderedProbe?
    public var status: Int?
    public var contains: String?
    public var attempts: Int
    public var interval: PlannedDuration
    public var timeout: PlannedDuration
}

public struct PlannedFile: Sendable, Codable, Equatable {
    public enum Change: String, Sendable, Codable {
        case create, modify, unchanged
        /// Same content, different permission bits.
        case mode
    }

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
    public var validate: PlannedCommand?
    public var reload: PlannedCommand?
    /// `follow: true`: a symbolic link at the path is followed (the file it points to changes,
    /// the link stays); nil or false refuses a link.
    public var follow: Bool?
    /// Filled by the dry run: what writing the file would change, and the diff.
    public var change: Change?
    public var currentMode: String?
    public var diff: String?
    /// Filled by the dry run for a followed link: the file it points to.
    public var linkTarget: String?
}

/// The report's closing counts.
public struct PlanSummary: Sendable, Codable, Equatable {
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

    public var ready: Bool { failures == 0 }
}
