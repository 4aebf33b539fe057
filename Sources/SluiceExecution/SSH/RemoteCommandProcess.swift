import Foundation
import SluiceCore
import Subprocess
import Synchronization
import SystemPackage

/// The local `ssh` client of one remote command.
///
/// Its standard input is one end of a socket pair whose other end only this process holds:
/// the wrapper on the host reads it through the session, so closing it (the step timed out)
/// or writing `stop TENTHS` (``SSHTransport/terminateRunning(grace:)``) terminates the command's
/// process group there, and so does this process dying, which closes it. A socket rather than
/// a pipe so that writing to it can never raise SIGPIPE in the runner (`MSG_NOSIGNAL`).
/// Standard output (the command's output and errors, joined on the host) and standard error
/// (the wrapper's reports, ssh's and sudo's words) are read by the ``OutputPump``.
enum RemoteCommandProcess {
    /// How the local ssh client ended.
    enum Status: Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// ssh itself could not be started.
        case notStarted(String)
    }

    struct Ran {
        var status: Status
        var output: String
        var errors: String
        var duration: Duration
    }

    /// How much of ssh's standard error is kept: the wrapper's reports and ssh's reason.
    static let errorLimit = 16 * 1024
    /// How long after the wrapper's grace the local ssh client of a timed-out command is still
    /// waited for, before it is killed (a connection that hangs cannot carry the end).
    static let slack: Duration = .seconds(5)

    static func run(
        _ request: CommandRequest, line: String, lease: SSHConnections.Lease, program: String, host: String,
        control: RemoteCommandControl, drainGrace: Duration
    ) async -> Ran {
        let clock = ContinuousClock()
        let start = clock.now
        func notStarted(_ reason: String) -> Ran { Ran(status: .notStarted(reason), output: "", errors: "", duration: clock.now - start) }

        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { return notStarted(String(cString: strerror(errno))) }
        for fd in pair { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        control.attach(pair[0])
        defer { control.finish() }
        let output: (read: Int32, write: Int32)
        let errors: (read: Int32, write: Int32)
        do {
            output = try SubprocessCommandRunner.makePipe()
            errors = try SubprocessCommandRunner.makePipe()
        } catch {
            close(pair[1])
            return notStarted("\(error)")
        }
        let outputReader = PipeReader(fd: output.read, limit: request.outputLimit, redactor: request.redactor, onOutput: request.onOutput)
        let errorReader = PipeReader(fd: errors.read, limit: errorLimit, redactor: request.redactor, onOutput: nil)
        guard outputReader.start(), errorReader.start() else {
            for fd in [pair[1], output.write, errors.write] { close(fd) }
            return notStarted("no file descriptor left to read its output with")
        }

        let arguments = lease.options + ["-o", "ControlMaster=no", "-T", "--", host, line]
        let options = SSHTransport.ownProcessGroup
        let clientInput = pair[1]
        let client = ProcessGroupLeader()
        let status: Status
        do {
            status = try await withThrowingTaskGroup(of: Status?.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        .path(FilePath(program)), arguments: Arguments(arguments), platformOptions: options,
                        input: .fileDescriptor(FileDescriptor(rawValue: clientInput), closeAfterSpawningProcess: true),
                        output: .fileDescriptor(FileDescriptor(rawValue: output.write), closeAfterSpawningProcess: true),
                        error: FileDescriptorOutput.fileDescriptor(FileDescriptor(rawValue: errors.write), closeAfterSpawningProcess: true)
                    ) { execution in
                        client.pid = execution.processIdentifier.value
                    }
                    switch result.terminationStatus {
                    case .exited(let code): return .exited(code)
                    case .signaled(let signal): return .signalled(signal)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: request.timeout)
                    return nil
                }
                guard let first = try await group.next() else { preconditionFailure("a task group of two returned nothing") }
                if let finished = first {
                    group.cancelAll()
                    return finished
                }
                // Timed out: the wrapper ends the command's group once its input ends.
                control.timeOut()
                group.addTask {
                    try await Task.sleep(for: request.killGrace + slack)
                    return nil
                }
                while let next = try await group.next() {
                    if let finished = next {
                        group.cancelAll()
                        return finished
                    }
                    if let pid = client.pid { killpg(pid, SIGKILL) }
                }
                preconditionFailure("the ssh task ended without a status")
            }
        } catch {
            status = .notStarted("\(program): \(error)")
        }
        let text = await outputReader.finish(after: drainGrace)
        let said = await errorReader.finish(after: drainGrace)
        return Ran(status: status, output: text, errors: said, duration: clock.now - start)
    }
}

/// How the runner ends one remote command: through its ssh client's standard input.
final class RemoteCommandControl: Sendable {
    private struct State {
        var fd: Int32?
        var terminated = false
        var timedOut = false
        var finished = false
        var grace: Duration?
    }

    private let state = Mutex(State())

    /// Whether ``stop(grace:)`` ended it.
    var terminated: Bool { state.withLock { $0.terminated } }
    /// Whether its timeout ended it.
    var timedOut: Bool { state.withLock { $0.timedOut } }

    /// The runner's end of the ssh client's standard input; a stop asked for before is
    /// carried out now.
    func attach(_ fd: Int32) {
        let pending: Duration? = state.withLock { state in
            guard !state.finished else { return nil }
            state.fd = fd
            return state.terminated ? state.grace : nil
        }
        if let pending { stop(grace: pending) }
    }

    /// Asks the wrapper to terminate the command's group with `grace` between SIGTERM and
    /// SIGKILL, and ends its input.
    func stop(grace: Duration) {
        let fd: Int32? = state.withLock { state in
            state.terminated = true
            state.grace = grace
            defer { state.fd = nil }
            return state.fd
        }
        guard let fd else { return }
        let line = Array("stop \(RemoteCommand.tenths(grace))\n".utf8)
        _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }

    /// Ends its input: the wrapper terminates the group with the request's own grace.
    func timeOut() {
        let fd: Int32? = state.withLock { state in
            state.timedOut = true
            defer { state.fd = nil }
            return state.fd
        }
        if let fd { close(fd) }
    }

    /// The command is over: its input is closed if still open.
    func finish() {
        let fd: Int32? = state.withLock { state in
            state.finished = true
            defer { state.fd = nil }
            return state.fd
        }
        if let fd { close(fd) }
    }
}
