import SluiceCore

/// Runs one command to completion, or until its timeout.
///
/// The seam between the engine and real processes: the engine asks for a command to run and gets
/// a ``CommandResult`` back. A command that fails, times out or cannot start is a result, never a
/// thrown error, because the engine turns results into rollbacks.
public protocol CommandRunner: Sendable {
    func run(_ request: CommandRequest) async -> CommandResult
}

/// A command to run and how to run it.
public struct CommandRequest: Sendable {
    /// The command to run, as an argument vector or a shell string.
    public var command: RenderedCommand
    /// The folder the command runs in; nil: where its transport runs commands (for
    /// ``LocalTransport``, the runbook's folder; a bare ``SubprocessCommandRunner``, this
    /// process's own folder).
    public var workingDirectory: String?
    /// Variables added to the inherited environment (`SLUICE_*`, the step's `env:`).
    public var environment: [String: String]
    /// How long the command may run before its process group is terminated.
    public var timeout: Duration
    /// How long a timed-out command's process group has between SIGTERM and SIGKILL.
    public var killGrace: Duration
    /// How many bytes of output, from the end, the result keeps.
    public var outputLimit: Int
    /// Hides secret values in the output before anyone sees it.
    public var redactor: Redactor
    /// Called with each line of output as it arrives (a very long line in pieces), already
    /// redacted, for live display.
    public var onOutput: (@Sendable (String) -> Void)?

    /// A request for `command`; without a folder it runs where its transport runs commands.
    public init(
        command: RenderedCommand, workingDirectory: String? = nil, environment: [String: String] = [:],
        timeout: Duration = Step.defaultTimeout, killGrace: Duration = .seconds(10), outputLimit: Int = 4096,
        redactor: Redactor = .none, onOutput: (@Sendable (String) -> Void)? = nil
    ) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.timeout = timeout
        self.killGrace = killGrace
        self.outputLimit = outputLimit
        self.redactor = redactor
        self.onOutput = onOutput
    }
}

/// How a command ended, with the end of what it printed.
public struct CommandResult: Sendable, Equatable {
    /// How the command ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        /// Ended by a signal it did not get from sluice.
        case signalled(Int32)
        /// Killed by sluice (with its whole process group) after its timeout.
        case timedOut
        /// Never ran: the program was missing, not executable, or the folder did not exist.
        case failedToStart(String)
        /// The connection to the target's host failed (over SSH: ssh's own exit status 255, or
        /// the ssh client died), with ssh's reason: not the command's status, which is unknown.
        /// A local command never ends this way.
        case connectionFailed(String)

        /// The ending in words, as step events and the display show it.
        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            case .timedOut: "timed out"
            case .failedToStart(let reason): "could not start: \(reason)"
            case .connectionFailed(let reason): "connection failed: \(reason)"
            }
        }
    }

    /// How the command ended.
    public var termination: Termination
    /// The last bytes of standard output and standard error, interleaved as written, redacted.
    public var output: String
    /// From start to the end of its output, on the runner's clock.
    public var duration: Duration

    /// A result as a runner reports it.
    public init(termination: Termination, output: String, duration: Duration) {
        self.termination = termination
        self.output = output
        self.duration = duration
    }

    /// Whether the command exited with status 0.
    public var succeeded: Bool { termination == .exited(0) }

    /// The exit status, when the command exited by itself.
    public var exitCode: Int32? {
        if case .exited(let code) = termination { code } else { nil }
    }
}
