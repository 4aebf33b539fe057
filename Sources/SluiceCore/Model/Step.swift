import Foundation

/// A command as a runbook writes it: a string for `/bin/sh -c`, or a list run as argv.
public struct Command: Sendable, Equatable {
    /// Which of the two forms the runbook wrote.
    public enum Form: Sendable, Equatable {
        /// Run by `/bin/sh -c`; inserted values are shell-quoted.
        case shell(Template)
        /// Run directly; inserted values go in verbatim, one argument per element.
        case argv([Template])
    }

    /// The command's form, with its templates.
    public var form: Form
    /// Where the command is written in the runbook.
    public var location: SourceLocation

    /// A command in `form`, written at `location`.
    public init(_ form: Form, location: SourceLocation) {
        self.form = form
        self.location = location
    }

    /// Every template in the command.
    public var templates: [Template] {
        switch form {
        case .shell(let template): [template]
        case .argv(let arguments): arguments
        }
    }

    /// The command's script: its first word when that word is a path containing `/`.
    ///
    /// Validation requires the script to exist and be executable; approvals and saved plans cover
    /// its content. A first word built from a template is not a script: its value is not known
    /// until the run.
    public var script: String? {
        let firstWord: Substring?
        switch form {
        case .shell(let template):
            firstWord = template.text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first
        case .argv(let arguments):
            firstWord = arguments.first.map { Substring($0.text) }
        }
        guard let firstWord, firstWord.contains("/"), !firstWord.contains("{{") else { return nil }
        return String(firstWord)
    }

    /// The simple commands it runs, each as its words: the list form is one; a string is split
    /// at `;`, `|`, `&` and parentheses into simple commands, and each at blanks into words,
    /// surrounding quotes removed. Left out: words built from a template (their value is not
    /// known until the run), and the file after `>` or `>>`, which the command writes.
    package var invocations: [[String]] {
        func clean(_ words: [Substring]) -> [String] {
            words.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }.filter { !$0.isEmpty && !$0.contains("{{") }
        }
        guard case .shell(let template) = form else {
            return [clean(templates.map { Substring($0.text) })]
        }
        // A placeholder's blanks must not split the word it is part of: each `{{ ... }}` becomes
        // `{{}}`, and its word is left out below.
        var text = ""
        var unread = template.text[...]
        while let open = unread.range(of: "{{"), let close = unread.range(of: "}}", range: open.upperBound..<unread.endIndex) {
            text += unread[..<open.lowerBound] + "{{}}"
            unread = unread[close.upperBound...]
        }
        text += unread
        var invocations: [[Substring]] = [[]]
        var rest = text[...]
        var written = false  // the next word is a redirection's output file
        while let start = rest.firstIndex(where: { !" \t".contains($0) }) {
            rest = rest[start...]
            if let first = rest.first, "\n;|&()<>".contains(first) {
                if first == ">" {
                    // `>&1` duplicates a stream: its `&` joins nothing.
                    written = true
                    rest = rest.dropFirst(rest.dropFirst().first == "&" ? 2 : 1)
                    continue
                }
                if first != "<" { written = false }
                if "\n;|&()".contains(first), invocations.last?.isEmpty == false { invocations.append([]) }
                rest = rest.dropFirst()
                continue
            }
            let end = rest.firstIndex { " \t\n;|&<>()".contains($0) } ?? rest.endIndex
            let word = rest[..<end]
            // `2>` names a stream, not a file: the `>` that follows decides.
            let isStream = end < rest.endIndex && rest[end] == ">" && word.allSatisfy(\.isNumber)
            if !written && !isStream { invocations[invocations.count - 1].append(word) }
            written = false
            rest = rest[end...]
        }
        return invocations.map(clean).filter { !$0.isEmpty }
    }

    /// Programs that run a file named among their arguments: the files of the runbook's folder
    /// named in such a command are what it runs, and approvals cover them like scripts.
    package static let interpreters: Set<String> = [
        "sh", "bash", "dash", "ksh", "zsh", "python", "python3", "perl", "ruby", "node", "php", "lua", "awk", "source", ".",
    ]

    /// The arguments of each simple command run by an interpreter (`sh scripts/x.sh`,
    /// `env X=1 python3 z.py`, `[bash, ./y]`): the words that may name the file it runs.
    package var interpreterArguments: [String] {
        invocations.flatMap { words -> [String] in
            // `env` and `VAR=value` before the program only set its environment.
            let program = words.drop { $0 == "env" || ($0.contains("=") && !$0.hasPrefix("-")) }
            guard let first = program.first, Self.interpreters.contains((first as NSString).lastPathComponent) else { return [] }
            return Array(program.dropFirst())
        }
    }
}

/// Batch jobs or other work paused before the first stage and always resumed at the end.
public struct Hold: Sendable, Equatable {
    /// Unique among holds; `SLUICE_STEP` for its commands, and its name in the audit store.
    public var name: String
    /// Run once before the first stage (`SLUICE_MODE=apply`), and again when `resume` or `rollback`
    /// goes on with the run.
    public var pause: Command
    /// Run at the end of every run that paused the hold, whatever happened (`SLUICE_MODE=recovery`).
    public var resume: Command
    /// Where the hold is declared.
    public var location: SourceLocation

    /// A hold with its two commands.
    public init(name: String, pause: Command, resume: Command, location: SourceLocation) {
        self.name = name
        self.pause = pause
        self.resume = resume
        self.location = location
    }
}

/// A condition checked before every stage and every `every` during stages and bake.
public struct Guard: Sendable, Equatable {
    /// How long one guard check may take: a guard is a quick look at a resource, and one that
    /// hangs must not hold up a stage.
    public static let timeout: Duration = .seconds(60)

    /// Unique among guards; `SLUICE_STEP` for its command, and the `step` of its `guard.failed` event.
    public var name: String
    /// The check: exit status 0 passes; any other status, or taking longer than ``timeout``, fails.
    public var run: Command
    /// How often the guard is checked again while a stage runs or bakes (1s or more); nil: only
    /// before each stage. With several, all guards are checked at the shortest `every`.
    public var every: Duration?
    /// Where the guard is declared.
    public var location: SourceLocation

    /// A guard checked only before stages unless `every` is given.
    public init(name: String, run: Command, every: Duration? = nil, location: SourceLocation) {
        self.name = name
        self.run = run
        self.every = every
        self.location = location
    }
}

/// A read-only per-target check run by `plan` and again by `apply` before anything changes.
public struct PreflightCheck: Sendable, Equatable {
    /// Unique among preflight checks; `SLUICE_STEP` for its command.
    public var name: String
    /// The check, run once per target (`SLUICE_MODE=check`): exit status 0 passes.
    public var run: Command
    /// Where the check is declared.
    public var location: SourceLocation

    /// A preflight check with its command.
    public init(name: String, run: Command, location: SourceLocation) {
        self.name = name
        self.run = run
        self.location = location
    }
}

/// One action on one target.
public struct Step: Sendable, Equatable {
    /// What the step does. A step has exactly one action.
    public enum Action: Sendable, Equatable {
        /// Run the command; exit status 0 is success.
        case run(Command)
        /// Probe the target until it answers or the attempts run out; it changes nothing.
        case health(HealthCheck)
        /// A run step that recovery repeats.
        case cacheRefresh(Command)
        /// Write a configuration file atomically, keeping the old one for the rollback.
        case file(FileChange)
        /// Pause this long; a rollout stopped from outside the stage ends the pause at once.
        case wait(Duration)

        /// The runbook key that introduces this action.
        public var key: String {
            switch self {
            case .run: "run"
            case .health: "health"
            case .cacheRefresh: "cache_refresh"
            case .file: "file"
            case .wait: "wait"
            }
        }
    }

    /// How long a step may take when it gives no `timeout`: 5 minutes.
    public static let defaultTimeout: Duration = .seconds(300)
    /// The pause between tries when a step gives no `retry_delay`: 1 second.
    public static let defaultRetryDelay: Duration = .seconds(1)

    /// Unique among the steps (or among the recovery steps); `SLUICE_STEP`, and how journals,
    /// `resume` and `rollback` match a step.
    public var name: String
    /// What the step does.
    public var action: Action
    /// What `plan` runs instead of the action.
    public var check: Command?
    /// What undoes the action.
    public var rollback: Command?
    /// How long one try may take (more than 0s); ``defaultTimeout`` when not given.
    public var timeout: Duration
    /// How many more times the step is tried after a failure (0 to 100; 0 by default).
    public var retries: Int
    /// The pause between tries; ``defaultRetryDelay`` when not given.
    public var retryDelay: Duration
    /// The step runs only on targets carrying all these labels.
    public var when: [String: String]
    /// Extra environment for the step's commands; values are templates.
    public var env: [(name: String, value: Template)]
    /// Where the step is written (its `name`).
    public var location: SourceLocation

    /// A step with the runbook's defaults: no check or rollback, 5 minutes, no retry, every target.
    public init(
        name: String, action: Action, check: Command? = nil, rollback: Command? = nil,
        timeout: Duration = Step.defaultTimeout, retries: Int = 0, retryDelay: Duration = Step.defaultRetryDelay,
        when: [String: String] = [:], env: [(name: String, value: Template)] = [], location: SourceLocation
    ) {
        self.name = name
        self.action = action
        self.check = check
        self.rollback = rollback
        self.timeout = timeout
        self.retries = retries
        self.retryDelay = retryDelay
        self.when = when
        self.env = env
        self.location = location
    }

    /// Every command the step holds: its action's, `check`, `rollback`, a file's `validate` and `reload`.
    public var commands: [Command] {
        var commands = [check, rollback].compactMap { $0 }
        switch action {
        case .run(let command), .cacheRefresh(let command): commands.append(command)
        case .health(let health): if case .command(let command) = health.probe { commands.append(command) }
        case .file(let change): commands += [change.validate, change.reload].compactMap { $0 }
        case .wait: break
        }
        return commands
    }

    /// Equal when every part is; `env` pair by pair, as tuples are not `Equatable`.
    public static func == (lhs: Step, rhs: Step) -> Bool {
        lhs.name == rhs.name && lhs.action == rhs.action && lhs.check == rhs.check && lhs.rollback == rhs.rollback
            && lhs.timeout == rhs.timeout && lhs.retries == rhs.retries && lhs.retryDelay == rhs.retryDelay
            && lhs.when == rhs.when && lhs.env.map(\.name) == rhs.env.map(\.name)
            && lhs.env.map(\.value) == rhs.env.map(\.value) && lhs.location == rhs.location
    }
}

/// A health probe with its retry policy. It fails only after all its attempts fail.
public struct HealthCheck: Sendable, Equatable {
    /// How the target is asked whether it is healthy.
    public enum Probe: Sendable, Equatable {
        /// GET this URL.
        case http(Template)
        /// Connect to `host:port`.
        case tcp(Template)
        /// Run this command; exit status 0 is healthy.
        case command(Command)
    }

    /// What each attempt does.
    public var probe: Probe
    /// The HTTP status expected; nil accepts any 2xx.
    public var status: Int?
    /// Text the HTTP body must contain.
    public var contains: String?
    /// How many tries (1 to 10000; 10 by default); the check fails only when all of them failed.
    public var attempts: Int
    /// The pause between tries (2s by default).
    public var interval: Duration
    /// The bound on each attempt.
    public var timeout: Duration

    /// A health check with the runbook's defaults: any 2xx, 10 attempts 2s apart, 5s each.
    public init(
        probe: Probe, status: Int? = nil, contains: String? = nil, attempts: Int = 10,
        interval: Duration = .seconds(2), timeout: Duration = .seconds(5)
    ) {
        self.probe = probe
        self.status = status
        self.contains = contains
        self.attempts = attempts
        self.interval = interval
        self.timeout = timeout
    }
}

/// A configuration file written atomically, after `validate` accepted the new content.
public struct FileChange: Sendable, Equatable {
    /// Where the new content comes from.
    public enum Content: Sendable, Equatable {
        /// `content:` written in the runbook; empty writes an empty file.
        case inline(Template)
        /// A file relative to the runbook, loaded with the runbook; its content is a template too.
        case source(path: String, template: Template)

        /// The content's template, whichever way it was given.
        public var template: Template {
            switch self {
            case .inline(let template), .source(_, let template): template
            }
        }
    }

    /// The file to write, a template rendered verbatim; a relative path starts at the runbook's folder.
    public var path: Template
    /// The new content, rendered for each target.
    public var content: Content
    /// Permission bits, e.g. 0o644; nil keeps an existing file's mode (0644 for a new file).
    public var mode: UInt32?
    /// Run on the new content, in a temporary file named by `{{ file }}`, before it replaces the old.
    public var validate: Command?
    /// Run after the new content is in place, and again after a rollback restores the old.
    public var reload: Command?
    /// When `path` is a symbolic link: change the file it points to and keep the link. Without
    /// it, a link at `path` is refused (a file step never replaces a link with a file).
    public var follow: Bool

    /// A file change that keeps the file's mode, validates and reloads nothing and refuses a link,
    /// unless told otherwise.
    public init(
        path: Template, content: Content, mode: UInt32? = nil, validate: Command? = nil, reload: Command? = nil,
        follow: Bool = false
    ) {
        self.path = path
        self.content = content
        self.mode = mode
        self.validate = validate
        self.reload = reload
        self.follow = follow
    }
}

/// A webhook told about run events.
public struct Notification: Sendable, Equatable {
    /// An `http://` or `https://` URL with a host, as written (not a template); its path and query
    /// may hold a token, so logs name only its scheme, host and port.
    public var webhook: String
    /// Audit event kinds to send, e.g. `run.started`.
    public var events: [String]
    /// Where the webhook is declared: logs and `notify.failed` name it by this place.
    public var location: SourceLocation

    /// A webhook told about `events`.
    public init(webhook: String, events: [String], location: SourceLocation) {
        self.webhook = webhook
        self.events = events
        self.location = location
    }
}
