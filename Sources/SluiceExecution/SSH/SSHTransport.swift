import Foundation
import SluiceCore
import Subprocess
import Synchronization

/// One host over SSH: commands run there through the run's connection to it, files are read,
/// changed and restored there (SPEC section 6).
///
/// A command runs under a small wrapper on the host (``RemoteCommand``): in the run's private
/// folder there (unless the request names one), with `SLUICE_*` and the step's variables set
/// by the wrapper, as `become` through `sudo -n -u USER` when set, in a process group of its
/// own that the wrapper terminates when the step times out, on ``terminateRunning(grace:)``,
/// and when the session ends for any reason (the runner or its ssh client killed included).
/// Its standard output and standard error reach `onOutput` line by line and the kept tail,
/// redacted, as locally. ssh's own failure (exit status 255, or its client killed) is
/// ``CommandResult/Termination/connectionFailed(_:)``, never the command's status; the
/// connection it ran over is then closed, so the next command (a retry) gets a fresh one.
///
/// Copies made with ``becoming(_:)`` share the connection and the set of running commands.
public struct SSHTransport: TargetTransport {
    /// The host and how to reach it; its `become` is the user commands run as.
    public let destination: SSHDestination
    /// The run's connections, shared by every transport of the run.
    public let connections: SSHConnections
    /// How long output is still read after ssh exited (the master may hold it a moment).
    let drainGrace: Duration
    let running: RunningRemoteCommands

    /// A transport for `destination` over `connections`.
    public init(destination: SSHDestination, connections: SSHConnections) {
        self.init(destination: destination, connections: connections, running: RunningRemoteCommands())
    }

    private init(destination: SSHDestination, connections: SSHConnections, running: RunningRemoteCommands, drainGrace: Duration = .milliseconds(300)) {
        self.destination = destination
        self.connections = connections
        self.running = running
        self.drainGrace = drainGrace
    }

    /// `user@host:port`, with the parts that are set.
    public var location: String { destination.description }

    /// The same host, commands and files as `user` (nil: the login user): a step's own
    /// `become`. Shares this transport's connection and running commands.
    public func becoming(_ user: String?) -> SSHTransport {
        var destination = destination
        destination.become = user
        return SSHTransport(destination: destination, connections: connections, running: running, drainGrace: drainGrace)
    }

    /// Opens the connection to the host (or checks the open one) and, with `become`, checks
    /// that `sudo -n -u USER` works there without a password: what preflight and `plan` ask
    /// per target.
    ///
    /// - Throws: ``SSHError/connectionFailed(host:reason:)`` with ssh's reason (unreachable,
    ///   login refused, unknown or changed host key), ``SSHError/becomeRefused(host:user:reason:)``,
    ///   or ``SSHError/invalidDestination(host:problem:)``.
    public func connect() async throws {
        try await connections.connect(destination)
        if let user = destination.become {
            let answer = try await connections.runScript("echo ok", arguments: [], on: destination, as: user, what: "checking become")
            guard answer.firstLine == "ok" else {
                throw SSHError.becomeRefused(host: location, user: user, reason: answer.problem)
            }
        }
    }

    /// The run's private folder on the host for the user commands run as (made 0700 on first
    /// use, removed by ``SSHConnections/close()``): where commands run, and scripts are copied.
    public func runFolder() async throws -> String {
        try await connections.runFolder(on: destination, as: destination.become)
    }

    /// Removes the private folders that run `runID` left on the host for the user commands
    /// run as (a runner that died never removed them): for `resume` and `rollback` of that
    /// run, once they no longer need them, or for the next run to tidy up. Only folders that
    /// user owns and that are named for that run are removed.
    ///
    /// - Returns: how many were removed.
    /// - Throws: ``SSHError`` when the host cannot be reached or sudo refuses.
    @discardableResult
    public func removeRunFolders(of runID: String) async throws -> Int {
        let answer = try await connections.runScript(
            RemoteScripts.removeRunFolders, arguments: [runID], on: destination, as: destination.become, what: "removing old run folders")
        guard let line = answer.firstLine, line.hasPrefix("ok "), let count = Int(line.dropFirst(3)) else {
            throw SSHError.remoteFailure(host: location, what: "removing old run folders", reason: answer.problem)
        }
        return count
    }

    /// Runs `request` on the host; see the type's documentation for how.
    public func run(_ request: CommandRequest) async -> CommandResult {
        if let name = request.environment.keys.sorted().first(where: { !RemoteCommand.isVariableName($0) }) {
            return CommandResult(
                termination: .failedToStart("`\(name)` cannot be set as an environment variable on \(location)"), output: "", duration: .zero)
        }
        let folder: String
        if let named = request.workingDirectory {
            folder = named
        } else {
            do {
                folder = try await runFolder()
            } catch {
                return CommandResult(termination: Self.termination(for: error), output: "", duration: .zero)
            }
        }
        let line = RemoteCommand.line(
            for: request.command, folder: folder, environment: request.environment, grace: request.killGrace, become: destination.become)
        let lease: SSHConnections.Lease
        do {
            lease = try await connections.lease(destination)
        } catch {
            return CommandResult(termination: Self.termination(for: error), output: "", duration: .zero)
        }
        let control = RemoteCommandControl()
        running.insert(control)
        let ran = await RemoteCommandProcess.run(
            request, line: line, lease: lease, program: connections.settings.program, host: destination.host, control: control,
            drainGrace: drainGrace)
        running.remove(control)
        let termination = Self.termination(
            ssh: ran.status, report: RemoteCommand.Report(ran.errors), control: control, folder: folder, program: request.command,
            location: location, become: destination.become)
        if case .connectionFailed = termination {
            await connections.release(lease, connectionFailed: true)
        } else {
            await connections.release(lease)
        }
        return CommandResult(termination: termination, output: ran.output, duration: ran.duration)
    }

    /// Runs `request`, and again on a fresh connection after a connection failure, up to
    /// `attempts` times in all; a command that ran and failed is not run again (that is the
    /// step's own `retries`).
    public func runRetryingConnection(_ request: CommandRequest, attempts: Int = 2) async -> CommandResult {
        var result = await run(request)
        var attempt = 1
        while case .connectionFailed = result.termination, attempt < attempts {
            await connections.reconnect(destination)
            result = await run(request)
            attempt += 1
        }
        return result
    }

    /// Terminates every command running through this transport now, with its process group
    /// on the host: the wrapper sends SIGTERM, then SIGKILL after `grace`. The commands end
    /// as ``CommandResult/Termination/signalled(_:)`` (SIGTERM or SIGKILL), like local ones.
    public func terminateRunning(grace: Duration) {
        for control in running.current { control.stop(grace: grace) }
    }

    /// How an error met before the command ran ends it.
    static func termination(for error: any Error) -> CommandResult.Termination {
        switch error {
        case SSHError.connectionFailed(_, let reason): .connectionFailed(reason)
        default: .failedToStart("\(error)")
        }
    }

    /// How a command ended, from ssh's status and what the wrapper reported.
    static func termination(
        ssh status: RemoteCommandProcess.Status, report: RemoteCommand.Report, control: RemoteCommandControl, folder: String,
        program: RenderedCommand, location: String, become: String?
    ) -> CommandResult.Termination {
        if control.timedOut { return .timedOut }
        if let code = report.exitStatus {
            return control.terminated && code > 128 ? .signalled(code - 128) : .exited(code)
        }
        if report.noFolder { return .failedToStart("the working folder \(folder) does not exist on \(location)") }
        if report.noProgram {
            let name = program.executableArguments.first ?? ""
            return .failedToStart("\(name) does not exist on \(location), or is not executable there")
        }
        let said = report.reason
        switch status {
        case .signalled(let signal):
            return .connectionFailed(
                "ssh to \(location) was killed by signal \(signal)" + (report.started ? "; the command on the host was ended with its session" : ""))
        case .exited(255), .notStarted:
            let lost = report.started ? "the connection to \(location) was lost while the command ran" : "cannot reach \(location)"
            return .connectionFailed(said.isEmpty ? lost : "\(lost): \(said)")
        case .exited(let code):
            if !report.started, let become, said.contains("sudo:") {
                return .failedToStart("`sudo -n -u \(become)` on \(location) refused (it must not ask for a password): \(said)")
            }
            return .failedToStart("the command's wrapper did not start on \(location) (status \(code))" + (said.isEmpty ? "" : ": \(said)"))
        }
    }
}

extension SSHTransport {
    /// How every local ssh client is started: in a process group of its own, not the
    /// terminal's, so that the operator's Ctrl-C (a graceful stop, for the runner to handle)
    /// does not kill it and with it the command on the host.
    static var ownProcessGroup: PlatformOptions {
        var options = PlatformOptions()
        options.processGroupID = 0
        return options
    }
}

/// The commands running through one transport (and its ``SSHTransport/becoming(_:)`` copies).
final class RunningRemoteCommands: Sendable {
    private let controls = Mutex<[ObjectIdentifier: RemoteCommandControl]>([:])

    var current: [RemoteCommandControl] { controls.withLock { Array($0.values) } }
    func insert(_ control: RemoteCommandControl) { controls.withLock { $0[ObjectIdentifier(control)] = control } }
    func remove(_ control: RemoteCommandControl) { controls.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(control)) } }
}
