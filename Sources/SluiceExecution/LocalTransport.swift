import Foundation
import SluiceCore

/// The runner's own machine: commands as local processes (``SubprocessCommandRunner``, each in
/// its own process group), files through ``FileChanger``'s descriptor-relative, race-free calls.
public struct LocalTransport: TargetTransport {
    /// Where commands run unless a request names a folder: the runbook's folder.
    public let directory: String
    let commands: SubprocessCommandRunner

    /// Runs commands in `directory` (the runbook's folder) through `commands`.
    public init(directory: String, commands: SubprocessCommandRunner = SubprocessCommandRunner()) {
        self.directory = directory
        self.commands = commands
    }

    /// `local`: the runner's own machine.
    public var location: String { "local" }

    /// Runs the request as a local process, in the runbook's folder unless it names one.
    public func run(_ request: CommandRequest) async -> CommandResult {
        var request = request
        if request.workingDirectory == nil { request.workingDirectory = directory }
        return await commands.run(request)
    }

    /// The file as ``FileChanger/snapshot(_:follow:)`` reads it.
    public func snapshot(_ path: String, follow: Bool) async throws -> FileSnapshot {
        try FileChanger.snapshot(path, follow: follow)
    }

    /// Writes through ``FileChanger/write(_:to:mode:temporary:previous:validate:)``.
    public func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String?, previous: FileSnapshot?,
        validate: (@Sendable (String) async -> CommandResult)?
    ) async throws -> FileWriteOutcome {
        try await FileChanger.write(content, to: path, mode: mode, temporary: temporary, previous: previous, validate: validate)
    }

    /// Restores through ``FileChanger/restore(_:)``.
    public func restore(_ snapshot: FileSnapshot) async throws -> FileRestoreOutcome {
        try FileChanger.restore(snapshot)
    }

    /// Stages the content beside `path` with ``FileChanger/stageForValidation(_:beside:as:)``, runs `body`, and removes it.
    public func validating<Checked: Sendable>(
        _ content: Data, beside path: String, as name: String, _ body: @Sendable () async -> Checked
    ) async throws -> Checked {
        let staged = try FileChanger.stageForValidation(content, beside: path, as: name)
        defer { staged.discard(); staged.close() }
        return await body()
    }

    /// Terminates the local commands' process groups (SIGTERM, then SIGKILL after `grace`).
    public func terminateRunning(grace: Duration) {
        commands.terminateRunning(grace: grace)
    }
}
