import Foundation
import SluiceCore

/// What running (or undoing) one step on one target did.
public struct StepOutcome: Sendable, Equatable {
    /// Whether the step did what it should (or the undo undid it).
    public var succeeded: Bool
    /// For people and the audit store: what decided the outcome.
    public var detail: String
    /// Every command the step ran, in order (attempts, `validate`, `reload`, a health command).
    public var commands: [CommandResult]
    /// For a file step: the file as it was before the change, for its rollback.
    public var snapshot: FileSnapshot?

    /// An outcome, with the commands it ran.
    public init(succeeded: Bool, detail: String, commands: [CommandResult] = [], snapshot: FileSnapshot? = nil) {
        self.succeeded = succeeded
        self.detail = detail
        self.commands = commands
        self.snapshot = snapshot
    }

    /// The last command's exit status, if it exited.
    public var exitCode: Int32? { commands.last?.exitCode }
}

/// Runs one planned step on one target, and undoes it, through the target's transport.
///
/// Retries, health attempts and waits use the injected clock, so tests never sleep for real.
/// A failed step is a value, not an error: the engine turns it into a rollback.
public struct StepExecutor<C: Clock>: Sendable where C.Duration == Duration {
    let prober: any HealthProber
    let clock: C

    /// An executor that probes health with `prober` and waits on `clock`.
    public init(prober: any HealthProber, clock: C) {
        self.prober = prober
        self.clock = clock
    }

    /// Where and how the step's commands run.
    public struct Context: Sendable {
        /// The target's transport: its commands run and its files change through it.
        public var transport: any TargetTransport
        /// `SLUICE_*` and the step's `env:`, which the transport sets for each command.
        public var environment: [String: String]
        /// Hides secret values in everything the step's commands print.
        public var redactor: Redactor
        /// Called with each line the step's commands print, already redacted, for the display.
        public var onOutput: (@Sendable (String) -> Void)?
        /// Fired when the run stops (Ctrl-C, a guard): a `wait` step ends at once.
        var stopping: Latch?

        /// A context on `transport`, with the variables each command gets there.
        public init(
            transport: any TargetTransport, environment: [String: String], redactor: Redactor,
            onOutput: (@Sendable (String) -> Void)? = nil
        ) {
            self.transport = transport
            self.environment = environment
            self.redactor = redactor
            self.onOutput = onOutput
        }

        /// A request to run `command` here.
        func request(_ command: RenderedCommand, timeout: Duration) -> CommandRequest {
            CommandRequest(command: command, environment: environment, timeout: timeout, redactor: redactor, onOutput: onOutput)
        }

        /// Runs `command` on the target.
        func run(_ command: RenderedCommand, timeout: Duration) async -> CommandResult {
            await transport.run(request(command, timeout: timeout))
        }
    }

    /// Runs the step. For a file step, `saveSnapshot` is called with the file's current state
    /// before anything is written, so that the backup is durable before the change.
    public func run(
        _ step: PlannedStep, in context: Context, saveSnapshot: (FileSnapshot) async throws -> Void = { _ in }
    ) async -> StepOutcome {
        let timeout = step.timeout.duration
        switch step.action {
        case .health(let health):
            guard let probe = health.executableProbe else { return Self.nothingPlanned(step) }
            let request = ProbeRequest(
                probe: probe, status: health.status, contains: health.contains,
                timeout: health.timeout.duration, transport: context.transport,
                environment: context.environment, redactor: context.redactor)
            let outcome = await prober.check(request, attempts: health.attempts, interval: health.interval.duration, clock: clock)
            let last = outcome.attempts.last?.detail ?? "no attempt"
            return StepOutcome(
                succeeded: outcome.healthy,
                detail: outcome.healthy ? "healthy after \(outcome.attempts.count) attempt(s): \(last)" : "unhealthy after \(outcome.attempts.count) attempt(s): \(last)")
        case .file(let file):
            return await write(file, timeout: timeout, in: context, saveSnapshot: saveSnapshot)
        case .wait(let planned):
            let wait = planned.duration
            let start = clock.now
            guard await clock.sleep(for: wait, unless: context.stopping) else {
                return StepOutcome(succeeded: true, detail: "waited \(RunbookDuration.format(wait))")
            }
            // Cut short, not failed: the run is stopping anyway, and a halted run's target stays as it is.
            let waited = start.duration(to: clock.now)
            return StepOutcome(succeeded: true, detail: "cut short by the stop after \(RunbookDuration.format(waited)) of \(RunbookDuration.format(wait))")
        case .run(let command), .cacheRefresh(let command):
            guard let executable = command.executable else { return Self.nothingPlanned(step) }
            return await runWithRetries(executable, attempts: step.retries + 1, delay: step.retryDelay.duration, timeout: timeout, in: context)
        case .skipped:
            return StepOutcome(succeeded: true, detail: "not on this target: skipped")
        }
    }

    /// A plan read back without its executable parts (a saved plan is never run that way).
    private static func nothingPlanned(_ step: PlannedStep) -> StepOutcome {
        StepOutcome(succeeded: false, detail: "nothing to run: the plan holds no command for this step")
    }

    /// Undoes the step: its `rollback` command, or for a file step the restored snapshot followed
    /// by `reload`. A failing undo is retried once more than the step's own retries.
    ///
    /// A file already as in its snapshot was never changed (refused by `validate`, or
    /// unchanged): nothing is restored and nothing reloads, unless `reloadAlways` says an earlier
    /// undo was cut short after restoring it.
    public func undo(_ step: PlannedStep, snapshot: FileSnapshot?, reloadAlways: Bool = false, in context: Context) async -> StepOutcome {
        let timeout = step.timeout.duration
        let attempts = step.retries + 2
        let delay = step.retryDelay.duration
        if let file = step.file {
            guard let snapshot else {
                return StepOutcome(succeeded: true, detail: "the file was never changed: nothing to restore")
            }
            var restored: FileRestoreOutcome?
            var failure = ""
            for attempt in 1...attempts where restored == nil {
                do {
                    restored = try await context.transport.restore(snapshot)
                } catch {
                    failure = "\(error)"
                    if attempt < attempts { try? await clock.sleep(for: delay) }
                }
            }
            let what: String
            switch restored {
            case nil: return StepOutcome(succeeded: false, detail: "could not restore \(snapshot.path): \(failure)")
            case .alreadyAsBefore where reloadAlways:
                what = "\(snapshot.path) was already restored by the rollback cut short"
            case .alreadyAsBefore:
                // The change never happened (refused by `validate`, or unchanged): nothing to undo, nothing to reload.
                return StepOutcome(succeeded: true, detail: "nothing to restore: \(snapshot.path) is as it was before the run; not reloaded")
            case .restored: what = "restored the previous \(snapshot.path)"
            case .removed: what = "removed \(snapshot.path), which did not exist before"
            }
            guard let reload = file.reload?.executable else { return StepOutcome(succeeded: true, detail: what) }
            var outcome = await runWithRetries(reload, attempts: attempts, delay: delay, timeout: timeout, in: context)
            outcome.detail = outcome.succeeded ? "\(what), then reloaded" : "\(what), but reload failed: \(outcome.detail)"
            return outcome
        }
        guard let rollback = step.rollback?.executable else {
            return StepOutcome(succeeded: true, detail: "no rollback: nothing to undo for this step")
        }
        return await runWithRetries(rollback, attempts: attempts, delay: delay, timeout: timeout, in: context)
    }

    private func write(
        _ file: PlannedFile, timeout: Duration, in context: Context, saveSnapshot: (FileSnapshot) async throws -> Void
    ) async -> StepOutcome {
        guard let path = file.executablePath, let content = file.executableContent else {
            return StepOutcome(succeeded: false, detail: "the plan holds no content for \(file.path)")
        }
        var ran: [CommandResult] = []
        do {
            let transport = context.transport
            let snapshot = try await transport.snapshot(path, follow: file.follow ?? false)
            try await saveSnapshot(snapshot)
            // The plan rendered `validate` with `file.validateFile` as `{{ file }}`: the new content
            // is written there, checked, and renamed into place.
            let validateCommand = file.validate?.executable
            var validate: (@Sendable (String) async -> CommandResult)?
            if let command = validateCommand {
                validate = { @Sendable _ in await context.run(command, timeout: timeout) }
            }
            let data = Data(content.utf8)
            let mode = file.mode.flatMap { UInt32($0, radix: 8) }
            var temporary = file.validateFile
            if snapshot.path != path, let planned = file.validateFile, let command = validateCommand {
                // A followed link: the new content is validated beside the link, where `{{ file }}`
                // points, then written beside the file the link points to.
                temporary = nil
                validate = { _ in
                    do {
                        return try await transport.validating(data, beside: path, as: planned) {
                            await context.run(command, timeout: timeout)
                        }
                    } catch {
                        return CommandResult(termination: .failedToStart("\(error)"), output: "", duration: .zero)
                    }
                }
            }
            let written = try await transport.write(
                data, to: snapshot.path, mode: mode, temporary: temporary, previous: snapshot, validate: validate)
            switch written {
            case .rejected(let result):
                return StepOutcome(succeeded: false, detail: "validate refused the new content (\(result.termination))", commands: [result], snapshot: nil)
            case .unchanged:
                return StepOutcome(succeeded: true, detail: "unchanged: \(file.path) already holds the new content; not reloaded", snapshot: snapshot)
            case .written:
                break
            }
            guard let reload = file.reload?.executable else {
                return StepOutcome(succeeded: true, detail: "wrote \(file.path)", snapshot: snapshot)
            }
            let result = await context.run(reload, timeout: timeout)
            ran.append(result)
            return StepOutcome(
                succeeded: result.succeeded,
                detail: result.succeeded ? "wrote \(file.path), then reloaded" : "wrote \(file.path), but reload \(result.termination)",
                commands: ran, snapshot: snapshot)
        } catch {
            return StepOutcome(succeeded: false, detail: "\(error)", commands: ran)
        }
    }

    private func runWithRetries(
        _ command: RenderedCommand, attempts: Int, delay: Duration, timeout: Duration, in context: Context
    ) async -> StepOutcome {
        var results: [CommandResult] = []
        for attempt in 1...max(attempts, 1) {
            let result = await context.run(command, timeout: timeout)
            results.append(result)
            if result.succeeded {
                return StepOutcome(succeeded: true, detail: attempt == 1 ? "\(result.termination)" : "\(result.termination) on attempt \(attempt)", commands: results)
            }
            if attempt < attempts { try? await clock.sleep(for: delay) }
        }
        let last = results.last?.termination.description ?? "did not run"
        return StepOutcome(succeeded: false, detail: attempts > 1 ? "\(last) after \(attempts) attempts" : last, commands: results)
    }
}
