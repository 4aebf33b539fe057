import Foundation

/// One change or one maintenance, as loaded from a runbook file (format version 1).
///
/// A `Runbook` is plain data: loading fills it in, validation checks it, planning reads it.
/// Everything that can be wrong in it carries a ``SourceLocation`` so that later checks can point
/// at the exact spot in the file.
public struct Runbook: Sendable {
    /// What kind of work a runbook describes.
    public enum Kind: String, Sendable, CaseIterable {
        case change
        case maintenance
    }

    /// The runbook file's path as it was given.
    public var file: String
    /// The absolute folder holding the runbook: commands run there, relative paths start there.
    public var directory: String
    public var version: Int
    /// Names the change in history and in locks: `[a-z0-9][a-z0-9._-]*`.
    public var id: String
    public var title: String?
    public var kind: Kind
    public var owner: String?
    public var ticket: String?
    public var approval: Approval
    public var window: Window?
    public var freezes: [Freeze]
    public var vars: [Variable]
    /// The inventory file the targets came from, when they were not inline.
    public var inventory: String?
    public var targets: [Target]
    public var rollout: Rollout
    public var holds: [Hold]
    public var guards: [Guard]
    public var preflight: [PreflightCheck]
    public var steps: [Step]
    public var recovery: [Step]
    public var notify: [Notification]

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
    public var required: Bool
    /// The approver may not be the person who applies.
    public var distinctApprover: Bool

    public init(required: Bool = false, distinctApprover: Bool = true) {
        self.required = required
        self.distinctApprover = distinctApprover
    }
}

/// When apply may start a stage.
public struct Window: Sendable, Equatable {
    public enum Schedule: Sendable, Equatable {
        /// One period, from `start` up to (not including) `end`.
        case once(start: Date, end: Date)
        /// Every listed weekday from `from` to `to` in `timeZone`; `to` before `from` crosses midnight.
        case recurring(days: Set<Weekday>, from: TimeOfDay, to: TimeOfDay, timeZone: String)
    }

    public var schedule: Schedule
    /// No new stage starts when less than this remains of the window.
    public var cutoff: Duration
    public var location: SourceLocation

    public init(schedule: Schedule, cutoff: Duration = .zero, location: SourceLocation) {
        self.schedule = schedule
        self.cutoff = cutoff
        self.location = location
    }
}

/// A day of the week, as runbooks write it.
public enum Weekday: String, Sendable, CaseIterable, Hashable {
    case mon, tue, wed, thu, fri, sat, sun
}

/// A wall-clock time of day, `HH:MM`.
public struct TimeOfDay: Sendable, Hashable, CustomStringConvertible {
    public var hour: Int
    public var minute: Int

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0...59).contains(minute), hour < 24 || minute == 0
        else { return nil }
        self.hour = hour
        self.minute = minute
    }

    public var description: String {
        (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }
}

/// A period in which nothing may start.
public struct Freeze: Sendable, Equatable {
    public var start: Date
    public var end: Date
    public var reason: String?
    public var location: SourceLocation

    public init(start: Date, end: Date, reason: String? = nil, location: SourceLocation) {
        self.start = start
        self.end = end
        self.reason = reason
        self.location = location
    }
}

/// A runbook variable, `{{ vars.NAME }}`.
public struct Variable: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case value(String)
        /// Read from this environment variable when the run starts.
        case environment(String)
        /// Read from this file (relative to the runbook) when the run starts; one trailing newline is dropped.
        case file(String)
    }

    public var name: String
    public var source: Source
    /// Secret values are replaced by `***` in all output, logs and the audit store.
    public var secret: Bool
    public var location: SourceLocation

    public init(name: String, source: Source, secret: Bool = false, location: SourceLocation) {
        self.name = name
        self.source = source
        self.secret = secret
        self.location = location
    }
}

/// One thing the change is applied to.
public struct Target: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var vars: [String: String]
    public var location: SourceLocation

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
