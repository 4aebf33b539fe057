import Foundation
import SluiceCore

/// The runner's own machine: commands as local processes (``SubprocessCommandRunner``, each in
/// its own process group), files through ``FileChanger``'s descriptor-relative, race-free calls.
public struct LocalTransport: TargetTransport {
    /// Where commands run unless a request names a folder: the runbook's folder.
    public let directory: String
    let commands: SubprocessCommandRunner

    public init(directory: String, commands: SubprocessCommandRunner = SubprocessCommandRunner()) {
        self.directory = directory
        self.commands = commands
    }

    public var location: String { "local" }

    public func run(_ request: CommandRequest) async -> CommandResult {
        var request = request
        if request.workingDirectory == nil { request.workingDirectory = directory }
        return await commands.run(request)
    }

    public func snapshot(_ path: String, follow: Bool) async throws -> FileSnapshot {
        try FileChanger.snapshot(path, follow: follow)
    }

    public func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String?, previous: FileSnapshot?,
        validate: (@Sendable (String) async -> CommandResult)?
    ) async throws -> FileWriteOutcome {
        try await FileChanger.write(content, to: path, mode: mode, temporary: temporary, previous: previous, validate: validate)
    }

    public func restore(_ snapshot: FileSnapshot) async throws -> FileRestoreOutcome {
        try FileChanger.restore(snapshot)
    }

    public func validating<Checked: Sendable>(
        _ content: Data, beside path: String, as name: String, _ body: @Sendable () async -> Checked
    ) async throws -> Checked {
        let staged = try FileChanger.stageForValidation(content, beside: path, as: name)
        defer { staged.discard(); staged.close() }
        return await body()
    }

    public func terminateRunning(grace: Duration) {
        commands.terminateRunning(grace: grace)
    }
}
