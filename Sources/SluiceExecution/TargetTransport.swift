import Foundation
import SluiceCore

/// How Sluice acts on one host: runs commands there and reads, changes and restores its files.
///
/// Everything the engine, the step executor, the command health probe and the dry run do to a
/// target goes through its transport, so that where a target lives (this machine today, a host
/// over SSH next: SPEC section 6) is decided once, when the transports are chosen from the plan.
/// The transport owns what only it can know: the folder its commands run in and how their
/// environment is set there, and what "everything a command started" means on its host (a
/// process group on that host is the unit it terminates).
///
/// Like a ``CommandRunner``, a command that fails, times out or cannot start is a result; a
/// file operation that cannot be done throws a ``FileChangeError`` (or the transport's own
/// error) that says why.
public protocol TargetTransport: CommandRunner {
    /// Where this transport acts, for people: `local` for this machine.
    var location: String { get }

    /// Runs a command on the host. A request without a `workingDirectory` runs where the
    /// transport runs commands (for ``LocalTransport``, the runbook's folder); `environment`
    /// is added to what commands get there.
    func run(_ request: CommandRequest) async -> CommandResult

    /// The file's bytes, mode, owner and group, or that it does not exist; `follow` snapshots
    /// the file a symbolic link points to instead of refusing the link.
    func snapshot(_ path: String, follow: Bool) async throws -> FileSnapshot

    /// Offers new content for `path`: staged beside it, checked by `validate` when given,
    /// renamed into place atomically with the owner, group and mode kept (or `mode` given).
    /// See ``FileChanger/write(_:to:mode:temporary:previous:validate:)`` for the guarantees
    /// every transport keeps.
    func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String?, previous: FileSnapshot?,
        validate: (@Sendable (String) async -> CommandResult)?
    ) async throws -> FileWriteOutcome

    /// Puts a snapshot back exactly (bytes, mode, owner, group, or no file), leaving a file
    /// already as in the snapshot alone.
    func restore(_ snapshot: FileSnapshot) async throws -> FileRestoreOutcome

    /// Writes `content` to a private temporary file named `name` beside `path` (owned as the
    /// existing file is), runs `body` while it exists, and removes it: a `validate` command's
    /// `{{ file }}` in a dry run, or beside a followed link.
    func validating<Checked: Sendable>(
        _ content: Data, beside path: String, as name: String, _ body: @Sendable () async -> Checked
    ) async throws -> Checked

    /// Terminates every command running through this transport now, with everything it started
    /// (SIGTERM, then SIGKILL after `grace`). Commands started afterwards are not affected.
    func terminateRunning(grace: Duration)
}

/// The transport of every target of a run, and of the runner itself (holds, guards), chosen
/// once from the plan.
public struct Transports: Sendable {
    /// The runner's own machine: where holds and guards run.
    public let runner: any TargetTransport
    private let byTarget: [String: any TargetTransport]

    /// A transport per target name; a target not named uses `runner`.
    public init(runner: any TargetTransport, targets: [String: any TargetTransport] = [:]) {
        self.runner = runner
        self.byTarget = targets
    }

    /// Every target on this machine, commands run in the runbook's folder (all a plan can say
    /// today: SPEC section 6 adds `host:`, and with it a transport per host).
    public static func local(for plan: Plan, commands: SubprocessCommandRunner = SubprocessCommandRunner()) -> Transports {
        Transports(runner: LocalTransport(directory: plan.runbook.directory, commands: commands))
    }

    /// The transport that reaches `target`.
    public func transport(for target: String) -> any TargetTransport { byTarget[target] ?? runner }

    /// Terminates every command running through any of the transports now.
    public func terminateRunning(grace: Duration = .seconds(10)) {
        runner.terminateRunning(grace: grace)
        for transport in byTarget.values { transport.terminateRunning(grace: grace) }
    }
}
