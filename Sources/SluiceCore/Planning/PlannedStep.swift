/// What one step does on one target, with what it needs and nothing else.
public enum PlannedAction: Sendable, Equatable {
    /// Run the command; exit status 0 is success.
    case run(PlannedCommand)
    /// A run step that recovery repeats, with its command.
    case cacheRefresh(PlannedCommand)
    /// Probe the target until it answers or the attempts run out.
    case health(PlannedHealth)
    /// Write the file atomically, keeping the old one for the rollback.
    case file(PlannedFile)
    /// Pause this long, unless a stop from outside the stage ends the pause.
    case wait(PlannedDuration)
    /// The step's `when` labels do not match the target: apply skips it there, and nothing
    /// of it was rendered for this target.
    case skipped(Kind)

    /// A step's kind, as the runbook and the plan's encoding name it.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case run, health, file, wait
        case cacheRefresh = "cache_refresh"
    }

    /// The kind of step this is, skipped or not.
    public var kind: Kind {
        switch self {
        case .run: .run
        case .cacheRefresh: .cacheRefresh
        case .health: .health
        case .file: .file
        case .wait: .wait
        case .skipped(let kind): kind
        }
    }
}

/// One step on one target.
public struct PlannedStep: Sendable, Equatable {
    /// The step's name: how the journal, `resume` and `rollback` match it.
    public var name: String
    /// What the step does on this target, or that it is skipped here.
    public var action: PlannedAction
    /// What plan runs instead of a run step.
    public var check: PlannedCommand?
    /// What undoes a run or cache_refresh step; nil when the step has none (a file step's undo is
    /// its backup, not a command).
    public var rollback: PlannedCommand?
    /// How long one try may take.
    public var timeout: PlannedDuration
    /// How many more times the step is tried after a failure.
    public var retries: Int
    /// The pause between tries.
    public var retryDelay: PlannedDuration
    /// How the dry run verified the step, and what it found.
    public var verification: CheckOutcome
    /// The step's `env:` rendered, with secret values.
    @Executable public var environment: [String: String]?

    /// A step as planned for one target.
    public init(
        name: String, action: PlannedAction, check: PlannedCommand? = nil, rollback: PlannedCommand? = nil,
        timeout: PlannedDuration, retries: Int, retryDelay: PlannedDuration, verification: CheckOutcome,
        environment: [String: String]? = nil
    ) {
        self.name = name
        self.action = action
        self.check = check
        self.rollback = rollback
        self.timeout = timeout
        self.retries = retries
        self.retryDelay = retryDelay
        self.verification = verification
        self.environment = environment
    }

    /// False when the step's `when` labels do not match the target: apply skips it there.
    public var applies: Bool {
        if case .skipped = action { false } else { true }
    }

    /// The command of a run or cache_refresh step.
    public var command: PlannedCommand? {
        switch action {
        case .run(let command), .cacheRefresh(let command): command
        default: nil
        }
    }

    /// A health step's probe.
    public var health: PlannedHealth? {
        if case .health(let health) = action { health } else { nil }
    }

    /// A file step's change; the dry run fills in what it found.
    public var file: PlannedFile? {
        get { if case .file(let file) = action { file } else { nil } }
        set {
            guard let newValue, case .file = action else { return }
            action = .file(newValue)
        }
    }

    /// A wait step's time.
    public var wait: PlannedDuration? {
        if case .wait(let duration) = action { duration } else { nil }
    }
}

/// The plan's encoding of a step (saved plans, journals, `plan --json`) is as it was when the
/// step was a bag of optionals: `action` names the kind and the one key that matters for it
/// holds its content. Decoding is strict: an unknown kind, or a step that applies without its
/// content, is an error (a damaged journal must not run with a default).
extension PlannedStep: Codable {
    enum CodingKeys: String, CodingKey {
        case name, action, applies, command, check, rollback, health, file, wait, timeout, retries, retryDelay, verification
        case environment
    }

    /// Reads a step strictly: an unknown `action`, or a step that applies without its action's
    /// content, is a `DecodingError` naming the key.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        let kindName = try container.decode(String.self, forKey: .action)
        guard let kind = PlannedAction.Kind(rawValue: kindName) else {
            throw DecodingError.dataCorruptedError(
                forKey: .action, in: container,
                debugDescription: "unknown step action `\(kindName)` (one of \(PlannedAction.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if try container.decode(Bool.self, forKey: .applies) {
            switch kind {
            case .run: action = .run(try container.decode(PlannedCommand.self, forKey: .command))
            case .cacheRefresh: action = .cacheRefresh(try container.decode(PlannedCommand.self, forKey: .command))
            case .health: action = .health(try container.decode(PlannedHealth.self, forKey: .health))
            case .file: action = .file(try container.decode(PlannedFile.self, forKey: .file))
            case .wait: action = .wait(try container.decode(PlannedDuration.self, forKey: .wait))
            }
        } else {
            action = .skipped(kind)
        }
        check = try container.decodeIfPresent(PlannedCommand.self, forKey: .check)
        rollback = try container.decodeIfPresent(PlannedCommand.self, forKey: .rollback)
        timeout = try container.decode(PlannedDuration.self, forKey: .timeout)
        retries = try container.decode(Int.self, forKey: .retries)
        retryDelay = try container.decode(PlannedDuration.self, forKey: .retryDelay)
        verification = try container.decode(CheckOutcome.self, forKey: .verification)
        _environment = try container.decode(Executable<[String: String]>.self, forKey: .environment)
    }

    /// Writes the step with `action` naming its kind, in the keys' usual order.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(action.kind.rawValue, forKey: .action)
        try container.encode(applies, forKey: .applies)
        // In the order the keys always had.
        try container.encodeIfPresent(command, forKey: .command)
        try container.encodeIfPresent(check, forKey: .check)
        try container.encodeIfPresent(rollback, forKey: .rollback)
        try container.encodeIfPresent(health, forKey: .health)
        try container.encodeIfPresent(file, forKey: .file)
        try container.encodeIfPresent(wait, forKey: .wait)
        try container.encode(timeout, forKey: .timeout)
        try container.encode(retries, forKey: .retries)
        try container.encode(retryDelay, forKey: .retryDelay)
        try container.encode(verification, forKey: .verification)
        try container.encode(_environment, forKey: .environment)
    }
}
