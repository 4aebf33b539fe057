import Foundation
import SluiceCore
import Subprocess
import Synchronization
import SystemPackage

/// Runs commands as real processes with swift-subprocess.
///
/// Each command gets its own process group, so a timeout can stop everything it started:
/// SIGTERM to the group, then SIGKILL after the request's `killGrace`. Standard output and
/// standard error share one pipe, so the kept tail shows them interleaved as they were written.
/// The runner waits for the command's own process, not for everything it started: once it has
/// exited, output still arriving is read for a short moment and then the pipe is closed, so a
/// background process that keeps the pipe open cannot hold up a step.
public struct SubprocessCommandRunner: CommandRunner {
    /// How long output is still read after the command exited.
    let drainGrace: Duration
    /// The process groups of the commands running now, for ``terminateRunning(grace:)``.
    private let running = RunningGroups()

    /// A runner that reads a command's output for `drainGrace` after it exited.
    public init(drainGrace: Duration = .milliseconds(300)) {
        self.drainGrace = drainGrace
    }

    /// Terminates every command running now, with everything it started: SIGTERM to each
    /// process group, then SIGKILL to those still running after `grace`. Commands started
    /// afterwards (a rollback's) are not affected.
    public func terminateRunning(grace: Duration = .seconds(10)) {
        let groups = running.current
        for group in groups { kill(-group, SIGTERM) }
        let running = running
        Task.detached {
            try? await Task.sleep(for: grace)
            for group in groups where running.current.contains(group) { kill(-group, SIGKILL) }
        }
    }

    /// Runs the request as a process in a new process group, to its end or its timeout.
    public func run(_ request: CommandRequest) async -> CommandResult {
        let clock = ContinuousClock()
        let start = clock.now
        let arguments = request.command.executableArguments
        guard let program = arguments.first, !program.isEmpty else {
            return CommandResult(termination: .failedToStart("the command is empty"), output: "", duration: .zero)
        }
        let pipe: (read: Int32, write: Int32)
        do {
            pipe = try Self.makePipe()
        } catch {
            return CommandResult(termination: .failedToStart("\(error)"), output: "", duration: .zero)
        }
        let reader = PipeReader(fd: pipe.read, limit: request.outputLimit, redactor: request.redactor, onOutput: request.onOutput)
        guard reader.start() else {
            close(pipe.read)
            close(pipe.write)
            return CommandResult(termination: .failedToStart("no file descriptor left to read its output with"), output: "", duration: .zero)
        }

        let environment = Self.overrides(request.environment)
        let options = Self.platformOptions()
        let executable: Subprocess.Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        let processGroup = ProcessGroupLeader()

        let termination: CommandResult.Termination
        do {
            termination = try await withThrowingTaskGroup(of: CommandResult.Termination?.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        executable, arguments: Arguments(Array(arguments.dropFirst())),
                        environment: .custom(environment),
                        workingDirectory: request.workingDirectory.map { FilePath($0) }, platformOptions: options,
                        input: .none, output: .fileDescriptor(FileDescriptor(rawValue: pipe.write), closeAfterSpawningProcess: true),
                        error: .combinedWithOutput
                    ) { [running] execution in
                        processGroup.pid = execution.processIdentifier.value
                        running.insert(execution.processIdentifier.value)
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
                // Timed out: stop the whole group, gently first.
                let leader = processGroup.pid
                if let leader { kill(-leader, SIGTERM) }
                group.addTask {
                    try await Task.sleep(for: request.killGrace)
                    return nil
                }
                while let next = try await group.next() {
                    if next == nil, let leader { kill(-leader, SIGKILL) }
                    if next != nil { break }
                }
                group.cancelAll()
                if let leader { kill(-leader, SIGKILL) }  // whatever of the group is left
                return .timedOut
            }
        } catch is CancellationError {
            termination = .failedToStart("cancelled")
        } catch {
            // No close of the write end here: swift-subprocess owns it once handed over and has
            // closed it, spawned or not. Closing it again could close another command's pipe
            // that reused the number meanwhile (seen with strace: a second close, EBADF).
            termination = .failedToStart(Self.describe(error, program: program, folder: request.workingDirectory ?? FileManager.default.currentDirectoryPath))
        }
        // On every path out, so that a later terminateRunning() never signals a reused number.
        running.remove(processGroup.pid)
        let output = await reader.finish(after: drainGrace)
        return CommandResult(termination: termination, output: output, duration: clock.now - start)
    }

    /// This process's environment, read once: reading it for every command was a measurable
    /// share of a step's cost.
    static let inherited: [Environment.Key: String] = {
        var inherited: [Environment.Key: String] = [:]
        for (name, value) in ProcessInfo.processInfo.environment {
            if let key = Environment.Key(rawValue: name) { inherited[key] = value }
        }
        return inherited
    }()

    /// The inherited environment with the request's variables added (they win).
    static func overrides(_ variables: [String: String]) -> [Environment.Key: String] {
        var environment = inherited
        for (name, value) in variables {
            if let key = Environment.Key(rawValue: name) { environment[key] = value }
        }
        return environment
    }

    static func platformOptions() -> PlatformOptions {
        var options = PlatformOptions()
        options.processGroupID = 0  // a new group led by the command, so a timeout can stop all of it
        return options
    }

    static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        // The read end must not leak into the command, or the pipe would never see its end; it
        // never blocks, so the output pump's one thread can never hang on a single pipe.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }

    static func describe(_ error: any Error, program: String, folder: String) -> String {
        if !FileManager.default.fileExists(atPath: folder) {
            return "the working folder \(folder) does not exist"
        }
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : folder + "/" + program
            if !FileManager.default.fileExists(atPath: path) { return "\(program) does not exist" }
            if !FileManager.default.isExecutableFile(atPath: path) { return "\(program) is not executable; run chmod +x \(program)" }
        }
        return "\(program): \(error)"
    }
}

/// The process groups of running commands.
final class RunningGroups: Sendable {
    private let groups = Mutex<Set<pid_t>>([])

    var current: Set<pid_t> { groups.withLock { $0 } }
    func insert(_ group: pid_t) { groups.withLock { _ = $0.insert(group) } }
    func remove(_ group: pid_t?) {
        guard let group else { return }
        groups.withLock { _ = $0.remove(group) }
    }
}

/// The process id of a running command, which is also its process group's id.
final class ProcessGroupLeader: Sendable {
    private let state = Mutex<pid_t?>(nil)

    var pid: pid_t? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
