import Foundation
import SluiceCore
import SluiceExecution
import Synchronization

/// A target that exists only in memory: its commands are answered from a script, its files are
/// bytes with a mode, an owner and a group, and every call made to it is recorded in order.
///
/// Commands: the rules added with ``on(_:_:then:)`` (the latest that matches wins; see ``RequestMatcher``)
/// say how each command ends, what it prints and how long it takes; a command no rule matches
/// gets the default reply (exit 0, no output). Given a clock, a command that takes time sleeps
/// that long on it; a command that takes longer than its request's timeout ends
/// ``CommandResult/Termination/timedOut`` at the timeout, and ``terminateRunning(grace:)`` ends the
/// commands running then as killed by SIGTERM. Output goes through the request's redactor, to
/// `onOutput` line by line and to the result's tail of `outputLimit` bytes, as with a real runner.
///
/// Files keep ``LocalTransport``'s contract (``FileChanger``): a write of what the file already
/// holds is ``FileWriteOutcome/unchanged`` (and `validate` does not run); new content is staged
/// beside the file (mode 0600 until committed, owned as the old file), `validate` runs while the
/// staged file exists, a refusal is ``FileWriteOutcome/rejected(_:)`` and leaves the file as it
/// was; a replaced file keeps its owner and group, and its mode unless one is given (0644 for a
/// new file); a restore puts back the exact bytes, mode, owner and group, leaves a file already as
/// in the snapshot alone (``FileRestoreOutcome/alreadyAsBefore``) and removes a file that did not
/// exist. Symbolic links are refused unless followed. ``fail(_:at:with:times:)`` makes an
/// operation throw, for the failure paths.
///
/// Thread-safe: every call may come from any task.
public final class RecordingTransport: TargetTransport {
    /// How a scripted command ends.
    public struct Reply: Sendable, Equatable {
        public var termination: CommandResult.Termination
        /// What it prints (before redaction).
        public var output: String
        /// How long it runs; on the transport's clock, if it has one.
        public var takes: Duration

        public init(termination: CommandResult.Termination, output: String = "", takes: Duration = .zero) {
            self.termination = termination
            self.output = output
            self.takes = takes
        }

        /// Exits with `status` (0: success).
        public static func exit(_ status: Int32 = 0, output: String = "", takes: Duration = .zero) -> Reply {
            Reply(termination: .exited(status), output: output, takes: takes)
        }

        public static let success = Reply.exit(0)

        /// Never starts, for `reason`.
        public static func failedToStart(_ reason: String) -> Reply { Reply(termination: .failedToStart(reason)) }
    }

    /// A command that ran.
    public struct Ran: Sendable, Equatable, CustomStringConvertible {
        /// The command as executed (secrets included).
        public var command: RenderedCommand
        /// The variables it was given.
        public var environment: [String: String]
        /// The folder it was asked to run in; nil: the transport's own.
        public var workingDirectory: String?
        public var timeout: Duration
        /// When it started, on the transport's clock since the transport was made; nil without a clock.
        public var at: Duration?

        public init(
            command: RenderedCommand, environment: [String: String] = [:], workingDirectory: String? = nil,
            timeout: Duration = Step.defaultTimeout, at: Duration? = nil
        ) {
            self.command = command
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.timeout = timeout
            self.at = at
        }

        /// The command's text: the shell string, or the argv words shell-quoted.
        public var text: String { command.description }

        public var description: String { text }
    }

    /// New content offered for a file, and what came of it.
    public struct Written: Sendable, Equatable {
        public var path: String
        public var content: Data
        /// The mode asked for; nil: keep the file's.
        public var mode: UInt32?
        /// Where it was staged.
        public var staged: String
        public var outcome: FileWriteOutcome

        public init(path: String, content: Data, mode: UInt32?, staged: String, outcome: FileWriteOutcome) {
            self.path = path
            self.content = content
            self.mode = mode
            self.staged = staged
            self.outcome = outcome
        }
    }

    /// One call made to the transport.
    public enum Call: Sendable, Equatable, CustomStringConvertible {
        case run(Ran)
        case snapshot(String, follow: Bool)
        /// Recorded when the write returns: a `validate` command it ran comes before it.
        case write(Written)
        case restore(String, FileRestoreOutcome)
        /// A copy staged for a `validate` command beside `path` (a dry run, a followed link).
        case validating(path: String, staged: String, content: Data)
        case terminateRunning(grace: Duration)
        /// A file operation that threw an error ``fail(_:at:with:times:)`` put there.
        case failed(FileOperation, String)

        public var description: String {
            switch self {
            case .run(let ran): "run \(ran.text)"
            case .snapshot(let path, let follow): "snapshot \(path)\(follow ? " (follow)" : "")"
            case .write(let written): "write \(written.path): \(written.outcome)"
            case .restore(let path, let outcome): "restore \(path): \(outcome)"
            case .validating(let path, let staged, _): "validate beside \(path) as \(staged)"
            case .terminateRunning(let grace): "terminate running (grace \(grace))"
            case .failed(let operation, let path): "\(operation) \(path) failed"
            }
        }
    }

    /// A file as the transport holds it.
    public struct File: Sendable, Equatable {
        public var content: Data
        public var mode: UInt32
        public var owner: UInt32
        public var group: UInt32

        public init(content: Data, mode: UInt32 = 0o644, owner: UInt32 = 0, group: UInt32 = 0) {
            self.content = content
            self.mode = mode
            self.owner = owner
            self.group = group
        }

        /// The content as UTF-8 text.
        public var text: String { String(decoding: content, as: UTF8.self) }
    }

    /// A file operation that ``fail(_:at:with:times:)`` can make throw.
    public enum FileOperation: Sendable, Hashable {
        case snapshot, write, restore, validating
    }

    struct State {
        var script: Script<CommandRequest, Reply>
        var calls: [Call] = []
        var files: [String: File] = [:]
        var links: [String: String] = [:]
        var failures: [FailureKey: [any Error & Sendable]] = [:]
        var nextStaged = 0
        /// Commands running now, by id, with the continuation that ends them when terminated.
        var running: [Int: CheckedContinuation<Bool, Never>?] = [:]
        var terminated: Set<Int> = []
        var nextCommand = 0
    }

    struct FailureKey: Hashable {
        var operation: FileOperation
        var path: String
    }

    public let location: String
    /// Who owns the files the transport creates.
    public let user: (owner: UInt32, group: UInt32)
    let state: Mutex<State>
    private let sleep: (@Sendable (Duration) async throws -> Void)?
    private let elapsed: (@Sendable () -> Duration)?

    /// A transport without a clock: commands take no time (their `takes` is only reported).
    public init(location: String = "recording", default reply: Reply = .success, user: (owner: UInt32, group: UInt32) = (0, 0)) {
        self.location = location
        self.user = user
        state = Mutex(State(script: Script(fallback: reply)))
        sleep = nil
        elapsed = nil
    }

    /// A transport whose commands take their time on `clock`, and whose record says when each
    /// command started.
    public init<C: Clock>(
        location: String = "recording", default reply: Reply = .success, user: (owner: UInt32, group: UInt32) = (0, 0), clock: C
    ) where C.Duration == Duration {
        self.location = location
        self.user = user
        state = Mutex(State(script: Script(fallback: reply)))
        sleep = { duration in try await clock.sleep(for: duration) }
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
    }

    // MARK: The script

    /// Answers the commands `matcher` matches with `replies` in turn; after the last, with `then`
    /// when given, else with the last again. The rule added last that matches a command answers it.
    public func on(_ matcher: RequestMatcher<CommandRequest>, _ replies: Reply..., then: Reply? = nil) {
        state.withLock { $0.script.add(matcher, replies, then: then) }
    }

    /// Answers the commands `matcher` matches with what `reply` makes of each request, called
    /// when the command runs (it may read the transport: a guard that fails once a step ran).
    public func on(_ matcher: RequestMatcher<CommandRequest>, reply: @escaping @Sendable (CommandRequest) -> Reply) {
        state.withLock { $0.script.add(matcher, compute: reply) }
    }

    // MARK: The record

    /// Every call, in the order made.
    public var calls: [Call] { state.withLock { $0.calls } }

    /// Every command that ran, in order.
    public var ran: [Ran] {
        calls.compactMap { if case .run(let ran) = $0 { ran } else { nil } }
    }

    /// The text of every command that ran, in order.
    public var commands: [String] { ran.map(\.text) }

    // MARK: TargetTransport

    public func run(_ request: CommandRequest) async -> CommandResult {
        let at = elapsed?()
        let (answer, compute, id) = state.withLock { state in
            state.calls.append(.run(Ran(
                command: request.command, environment: request.environment, workingDirectory: request.workingDirectory,
                timeout: request.timeout, at: at)))
            let (answer, compute) = state.script.answer(request)
            defer { state.nextCommand += 1 }
            state.running[state.nextCommand] = .some(nil)
            return (answer, compute, state.nextCommand)
        }
        guard let reply = answer ?? compute?(request) else { preconditionFailure("the script gave no answer to \(request.command)") }
        var termination = reply.termination
        var took = min(reply.takes, request.timeout)
        if reply.takes > request.timeout { termination = .timedOut }
        if let sleep, took > .zero, await runs(id, for: took, sleep: sleep) == .terminated {
            termination = .signalled(SIGTERM)
            took = at.flatMap { start in elapsed.map { $0() - start } } ?? took
        }
        _ = state.withLock { $0.running.removeValue(forKey: id) }
        let output = request.redactor.redact(reply.output)
        if let onOutput = request.onOutput {
            // Line by line, each with its newline, as a real runner streams them.
            var rest = Substring(output)
            while let newline = rest.firstIndex(of: "\n") {
                onOutput(String(rest[...newline]))
                rest = rest[rest.index(after: newline)...]
            }
            if !rest.isEmpty { onOutput(String(rest)) }
        }
        let tail = String(decoding: Data(output.utf8).suffix(request.outputLimit), as: UTF8.self)
        return CommandResult(termination: termination, output: tail, duration: took)
    }

    public func terminateRunning(grace: Duration) {
        let waiting = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.calls.append(.terminateRunning(grace: grace))
            var waiting: [CheckedContinuation<Bool, Never>] = []
            for (id, continuation) in state.running {
                state.terminated.insert(id)
                if let continuation { waiting.append(continuation) }
                state.running[id] = .some(nil)
            }
            return waiting
        }
        for continuation in waiting { continuation.resume(returning: true) }
    }

    // MARK: Helpers

    private enum Ending { case ranItsTime, terminated }

    /// Lets command `id` run for `duration` on the clock, unless it is terminated first.
    private func runs(_ id: Int, for duration: Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) async -> Ending {
        await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                try? await sleep(duration)
                return .ranItsTime
            }
            group.addTask { await self.untilTerminated(id) ? .terminated : nil }
            var ending = Ending.ranItsTime
            if let first = await group.next() { ending = first ?? .ranItsTime }
            group.cancelAll()
            return ending
        }
    }

    /// Returns true once command `id` is terminated, false when the waiting task is cancelled.
    private func untilTerminated(_ id: Int) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer = state.withLock { state -> Bool? in
                    if state.terminated.contains(id) { return true }
                    if state.running[id] == nil { return false }  // cancelled before it got here
                    state.running[id] = .some(continuation)
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let entry = state.running[id] else { return nil }
                // Gone from `running` marks the cancellation for a wait not yet registered.
                state.running.removeValue(forKey: id)
                return entry
            }
            waiting?.resume(returning: false)
        }
    }

}
