import Foundation

/// One change or one maintenance, as loaded from a runbook file (format version 1).
///
/// A `Runbook` is plain data: loading fills it in, validation checks it, planning reads it.
/// Everything that can be wrong in it carries a ``SourceLocation`` so that later checks can point
/// at the exact spot in the file.
public struct Runbook: Sendable {
    /// What kind of work a runbook describes.
    public enum Kind: String, Sendable, CaseIterable {
        /// A configuration change (the default).
        case change
        /// Planned maintenance (a restart, a patch night) rather than a change. The kind is recorded
        /// with each run and shown; the run goes exactly as a change's does.
        case maintenance
    }

    /// The runbook file's path as it was given.
    public var file: String
    /// The absolute folder holding the runbook: commands run there, relative paths start there.
    public var directory: String
    /// The format version, `sluice: 1`: the only one this Sluice reads, so always 1 once loaded.
    public var version: Int
    /// Names the change in history and in locks: `[a-z0-9][a-z0-9._-]*`.
    public var id: String
    /// One line for people; nil when the runbook gives none.
    public var title: String?
    /// What kind of work the runbook describes: `change` unless it says `maintenance`.
    public var kind: Kind
    /// Who answers for the change (free text, such as a team); nil when not given.
    public var owner: String?
    /// The change ticket it belongs to (free text, such as `CHG-1042`); nil when not given.
    public var ticket: String?
    /// Whether applying needs a recorded approval; not required unless the runbook says so.
    public var approval: Approval
    /// When apply may start a stage; nil: at any time (freezes still apply).
    public var window: Window?
    /// Periods in which nothing may start: the runbook's own, and once bound, a shared calendar's
    /// (``FreezeCalendar/binding(_:)``).
    public var freezes: [Freeze]
    /// The runbook's `vars:`, in the order written; their values are read when a run starts
    /// (``resolveVariables(environment:)``).
    public var vars: [Variable]
    /// The inventory file the targets came from, when they were not inline.
    public var inventory: String?
    /// The targets, inline or from the inventory, in list order: stages take them in this order.
    public var targets: [Target]
    /// How targets are grouped into stages, and what a failure does; without `rollout:` in the file,
    /// one stage `all` of every target, one at a time.
    public var rollout: Rollout
    /// What is paused once before the first stage and resumed at the end, whatever happened.
    public var holds: [Hold]
    /// Conditions checked before each stage (and every `every` while it runs or bakes); a failing
    /// guard stops the rollout.
    public var guards: [Guard]
    /// Read-only checks run on every target before anything changes; a failure refuses the run.
    public var preflight: [PreflightCheck]
    /// What runs on each target, in order; never empty in a valid runbook.
    public var steps: [Step]
    /// What runs on a target after its rollback, as written; empty when the runbook gives none, and
    /// then ``effectiveRecovery`` says what runs instead.
    public var recovery: [Step]
    /// The webhooks told about the run's events.
    public var notify: [Notification]

    /// A runbook with these parts, for building one in code. The defaults are empty values, not
    /// a file's defaults: loading gives a runbook without `rollout:` one stage `all` itself.
    public init(
        file: String, directory: String, version: Int = 1, id: String = "", title: String? = nil,
        kind: Kind = .change, owner: String? = nil, ticket: String? = nil, approval: Approval = Approval(),
        window: Window? = nil, freezes: [Freeze] = [], vars: [Variable] = [], inventory: String? = nil,
        targets: [Target] = [], rollout: Rollout = Rollout(), holds: [Hold] = [], guards: [Guard] = [],
        preflight: [PreflightCheck] = [], steps: [Step] = [], recovery: [Step] = [], notify: [Notification] = []
    ) {
        self.file = file
        self.directory = directory
        self.version = version
        self.id = id
        self.title = title
        self.kind = kind
        self.owner = owner
        self.ticket = ticket
        self.approval = approval
        self.window = window
        self.freezes = freezes
        self.vars = vars
        self.inventory = inventory
        self.targets = targets
        self.rollout = rollout
        self.holds = holds
        self.guards = guards
        self.preflight = preflight
        self.steps = steps
        self.recovery = recovery
        self.notify = notify
    }
}

/// Whether the change needs a recorded approval before it may be applied.
public struct Approval: Sendable, Equatable {
    /// `apply` refuses without an approval of this exact content (``ContentDigest``); false by default.
    public var required: Bool
    /// The approver may not be the person who applies.
    public var distinctApprover: Bool

    /// The runbook's `approval:`; without one, no approval is required.
    public init(required: Bool = false, distinctApprover: Bool = true) {
        self.required = required
        self.distinctApprover = distinctApprover
    }
}

/// When apply may start a stage.
public struct Window: Sendable, Equatable {
    /// Which form of window the runbook gives.
    public enum Schedule: Sendable, Equatable {
        /// One period, from `start` up to (not including) `end`.
        case once(start: Date, end: Date)
        /// Every listed weekday from `from` to `to` in `timeZone`; `to` before `from` crosses midnight.
        case recurring(days: Set<Weekday>, from: TimeOfDay, to: TimeOfDay, timeZone: String)
    }

    /// When the window is open.
    public var schedule: Schedule
    /// No new stage starts when less than this remains of the window.
    public var cutoff: Duration
    /// Where the runbook declares the window (its `window:` mapping).
    public var location: SourceLocation

    /// A window with no cutoff unless given: a stage may start up to the window's last moment.
    public init(schedule: Schedule, cutoff: Duration = .zero, location: SourceLocation) {
        self.schedule = schedule
        self.cutoff = cutoff
        self.location = location
    }
}

/// A day of the week, as runbooks write it.
public enum Weekday: String, Sendable, CaseIterable, Hashable {
    /// Monday to Sunday, spelt as `window.days` lists them.
    case mon, tue, wed, thu, fri, sat, sun
}

/// A wall-clock time of day, `HH:MM`.
public struct TimeOfDay: Sendable, Hashable, CustomStringConvertible {
    /// From 0 to 24; 24 only as `24:00`, the end of the day.
    public var hour: Int
    /// From 0 to 59.
    public var minute: Int

    /// Parses exactly `HH:MM` (two digits each side, `24:00` allowed); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0...59).contains(minute), hour < 24 || minute == 0
        else { return nil }
        self.hour = hour
        self.minute = minute
    }

    /// `HH:MM`, as the runbook writes it.
    public var description: String {
        (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }
}

/// A period in which nothing may start.
public struct Freeze: Sendable, Equatable {
    /// The first moment of the freeze.
    public var start: Date
    /// The freeze ends here: a stage may start again at this very moment.
    public var end: Date
    /// Why nothing may start, for people (`year-end freeze`); shown in refusals. nil when not given.
    public var reason: String?
    /// Where the freeze is declared: in the runbook, or in a shared calendar file.
    public var location: SourceLocation

    /// A freeze from `start` up to (not including) `end`; loading makes sure `end` is after `start`.
    public init(start: Date, end: Date, reason: String? = nil, location: SourceLocation) {
        self.start = start
        self.end = end
        self.reason = reason
        self.location = location
    }
}

/// A runbook variable, `{{ vars.NAME }}`.
public struct Variable: Sendable, Equatable {
    /// Where the variable's value comes from.
    public enum Source: Sendable, Equatable {
        /// Written in the runbook (`name: text`); it cannot be secret.
        case value(String)
        /// Read from this environment variable when the run starts.
        case environment(String)
        /// Read from this file (relative to the runbook) when the run starts; one trailing newline is dropped.
        case file(String)
    }

    /// The name used in templates as `{{ vars.NAME }}`.
    public var name: String
    /// Where the value comes from: the runbook, an environment variable or a file.
    public var source: Source
    /// Secret values are replaced by `***` in all output, logs and the audit store.
    public var secret: Bool
    /// Where the runbook declares the variable, for refusals when its value cannot be read.
    public var location: SourceLocation

    /// A variable that is not secret unless `secret` says so.
    public init(name: String, source: Source, secret: Bool = false, location: SourceLocation) {
        self.name = name
        self.source = source
        self.secret = secret
        self.location = location
    }
}

/// One thing the change is applied to.
public struct Target: Sendable, Equatable {
    /// Unique among the runbook's targets; `{{ target.name }}`, and how journals, locks and
    /// `resume` name the target.
    public var name: String
    /// What stage `select` and step `when` match on; `{{ target.labels.K }}`.
    public var labels: [String: String]
    /// Values for `{{ target.vars.K }}`, as written (not templates, never secret).
    public var vars: [String: String]
    /// Where the target is listed: in the runbook or in its inventory file.
    public var location: SourceLocation

    /// A target with no labels or vars unless given.
    public init(name: String, labels: [String: String] = [:], vars: [String: String] = [:], location: SourceLocation) {
        self.name = name
        self.labels = labels
        self.vars = vars
        self.location = location
    }

    /// Whether the target carries every label of `selector` with the same value.
    public func matches(_ selector: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
