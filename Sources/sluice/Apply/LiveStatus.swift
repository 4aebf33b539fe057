import Foundation
import SluiceExecution
import Synchronization

/// The live status line under the event lines on a terminal: what the run is doing (preflight,
/// holds paused, a stage, rolling back), how many targets are done (or undone), failed and
/// running, each running target's current step, and the time since the start.
///
/// Each event line is printed above the status line, which is then redrawn in place.
final class LiveStatus: Sendable {
    private struct State {
        /// What the run is doing, in a few words: `preflight`, `stage canary`, `rolling back`.
        var phase = "preflight"
        var stepsFinished: [String: Int] = [:]
        var done = Set<String>()
        var failed = Set<String>()
        /// Targets whose undo (a rollback step) ran, in this run.
        var undone = Set<String>()
        var running: [String: String] = [:]
        var rollingBack = false
    }

    private let state = Mutex(State())
    private let started = ContinuousClock.now
    private let totalTargets: Int
    /// How many steps each target runs, to know when one is done.
    private let steps: [String: Int]
    private let style: TerminalStyle

    /// - Parameter phase: what the run does first: `preflight` for a new run.
    init(steps: [String: Int], phase: String, style: TerminalStyle) {
        state.withLock { state in
            state.phase = phase
            state.rollingBack = phase == "rolling back"
        }
        self.totalTargets = steps.count
        self.steps = steps
        self.style = style
    }

    /// Updates the status from `event` and returns what to write: the event line (if any) above
    /// a redrawn status line.
    func render(_ event: RunEvent, line: String?) -> String {
        let status = state.withLock { state -> String in
            switch event.kind {
            case .preflightFinished:
                state.phase = "preflight"
            case .holdPaused:
                state.phase = "holds paused"
            case .stageStarted:
                if !state.rollingBack { state.phase = "stage \(event.stage ?? "")" }
            case .rollbackStepStarted:
                if let target = event.target { state.running[target] = "undo \(event.step ?? "")" }
            case .rollbackStepFinished, .recoveryStepFinished:
                guard let target = event.target else { break }
                state.undone.insert(target)
                state.running[target] = nil
            case .holdResumed:
                state.phase = state.rollingBack ? "rolled back: resuming holds" : "resuming holds"
            case .stepStarted:
                if let target = event.target { state.running[target] = event.step }
            case .stepFinished:
                guard let target = event.target else { break }
                state.stepsFinished[target, default: 0] += 1
                if event.status == .failed {
                    state.failed.insert(target)
                    state.running[target] = nil
                } else if state.stepsFinished[target] == steps[target] {
                    state.done.insert(target)
                    state.running[target] = nil
                }
            case .rollbackStarted:
                state.rollingBack = true
                state.phase = "rolling back"
            default:
                break
            }
            return statusLine(state)
        }
        // Clear the status line, write the event line, then the new status without a newline.
        return "\r\u{1B}[K" + (line.map { $0 + "\n" } ?? "") + status
    }

    /// `line` (a command's output) written above the status line, which is redrawn.
    func render(above line: String) -> String {
        "\r\u{1B}[K" + line + "\n" + state.withLock { statusLine($0) }
    }

    /// The status line redrawn, for the clock to advance between events.
    func redraw() -> String {
        "\r\u{1B}[K" + state.withLock { statusLine($0) }
    }

    private func statusLine(_ state: State) -> String {
        let seconds = Int((ContinuousClock.now - started).components.seconds)
        let clock = String(format: "%02d:%02d", seconds / 60, seconds % 60)
        let running = state.running.sorted { $0.key < $1.key }.prefix(4).map { "\($0.key) (\($0.value))" }
        var text = state.phase
        text += state.rollingBack ? "  undone \(state.undone.count)" : "  done \(state.done.count)/\(totalTargets)"
        text += "  failed \(state.failed.count)  running \(state.running.count)"
        if !running.isEmpty { text += ": " + running.joined(separator: ", ") + (state.running.count > 4 ? ", ..." : "") }
        return style.dim(text + "  " + clock)
    }

    /// Clears the status line before the final summary.
    func clear() -> String { "\r\u{1B}[K" }
}
