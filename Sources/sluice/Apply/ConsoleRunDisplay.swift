import Dispatch
import Foundation
import SluiceAudit
import SluiceCore
import SluiceExecution
import SluiceRuns
import Synchronization

/// How `apply`, `resume` and `rollback` show a run: timestamped progress lines (or JSON lines
/// with `--json`), a live status line under them on a terminal, and Ctrl-C, SIGTERM and SIGHUP
/// handled while the run is driven.
final class ConsoleRunDisplay: RunDisplay {
    let style: TerminalStyle
    let json: Bool
    private let progress: ProgressLines
    /// Set once the run is driven, on a terminal only.
    private let live = Mutex<LiveStatus?>(nil)

    init(style: TerminalStyle, json: Bool) {
        self.style = style
        self.json = json
        progress = ProgressLines(style: style)
    }

    func show(_ event: RunEvent, of run: RunID) {
        if json {
            Console.line(ProgressLines.json(for: event, runID: run.rawValue))
        } else if let live = live.withLock({ $0 }) {
            Console.write(live.render(event, line: progress.line(for: event)))
        } else if let line = progress.line(for: event) {
            Console.line(line)
        }
    }

    func show(output line: String, target: String, step: String) {
        // --json carries events only; a command's output is in its step's event.
        guard !json else { return }
        let text = progress.line(forOutput: line, target: target, step: step)
        if let live = live.withLock({ $0 }) {
            Console.write(live.render(above: text))
        } else {
            Console.line(text)
        }
    }

    func say(_ line: String) { Console.line(line) }

    func note(_ text: String) { Console.note(text) }

    func warn(_ text: String) { Console.error("warning: \(text)") }

    func whileDriving(
        _ control: RunControl, _ body: @escaping @Sendable () async -> RolloutMachine.RunResult
    ) async -> RolloutMachine.RunResult {
        let signals = SignalHandling(control)
        defer { signals.restoreDefaults() }
        // On a terminal a live status line sits under the event lines; elsewhere, plain lines.
        guard !json, isatty(STDOUT_FILENO) == 1 else { return await body() }
        let status = LiveStatus(
            steps: Dictionary(control.plan.targets.map { ($0.name, $0.steps.filter(\.applies).count) }, uniquingKeysWith: { first, _ in first }),
            phase: control.firstPhase, style: style)
        live.withLock { $0 = status }
        // The live status line's clock advances every second, between events too.
        let result = await whileRunning({
            while (try? await Task.sleep(for: .seconds(1))) != nil {
                Console.write(status.redraw())
            }
        }, body)
        live.withLock { $0 = nil }
        Console.write(status.clear())
        return result
    }
}

/// Ctrl-C, SIGTERM and SIGHUP (a closed terminal) while a run goes on. The first stops the
/// rollout: no new step starts, running ones finish, then the run acts as on failure. The
/// second also terminates the running commands (SIGTERM to their process groups, SIGKILL 10 s
/// later), whose steps then fail and are rolled back, except during a rollback, whose commands
/// are never terminated. Later ones only repeat what is happening.
final class SignalHandling {
    private let sources: [any DispatchSourceSignal]
    private let count = Atomic<Int>(0)

    init(_ control: RunControl) {
        let then = control.plan.onFailure == .halt ? "the run halts, keeping its state" : "the run rolls back"
        var sources: [any DispatchSourceSignal] = []
        for number in Self.stopping {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [self] in
                switch self.count.add(1, ordering: .relaxed).newValue {
                case 1:
                    control.requestStop()
                    Console.note("stopping: no new step starts; running steps finish, then \(then). Press Ctrl-C again to terminate the running commands.")
                case 2 where control.isRollingBack:
                    // Killing an undo would leave its target half undone, and it would only run again.
                    Console.note("the rollback is under way: its commands are never terminated (a target would be left half undone). Rollback, recovery and holds finish, then the run ends; `kill -9` stops the runner, and `sluice rollback RUN` then finishes the rollback.")
                case 2:
                    Console.note("terminating the running commands (SIGTERM, then SIGKILL after 10 s); their targets are rolled back. Holds are still resumed.")
                    control.terminateRunning()
                default:
                    Console.note("already stopping: rollback, recovery and holds are finishing; wait for the summary.")
                }
            }
            source.resume()
        }
    }

    /// Stops handling: the signals kill the process again, as they do outside a run.
    func restoreDefaults() {
        for source in sources { source.cancel() }
        for number in Self.stopping { signal(number, SIG_DFL) }
    }

    /// The signals that stop a run: Ctrl-C, SIGTERM, and SIGHUP (the terminal or SSH session
    /// went away), each the same.
    static let stopping = [SIGINT, SIGTERM, SIGHUP]
}
