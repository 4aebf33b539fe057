import Foundation
import SluiceCore
import SluiceTesting
import Testing
@testable import SluiceExecution

/// One engine test's world on the fakes: a manual clock, one recording transport that every
/// target and the runner itself share (so one list shows every command in order), a recorder,
/// and the prober of the test's choosing. Nothing runs for real and no time passes.
struct ScriptedWorld {
    /// The folder the runbook claims to be in: nothing is ever read from or written to it.
    static let folder = "/srv/runbooks"
    /// The wall-clock time when the clock reads zero, for the window's cutoff.
    static let origin = Date(timeIntervalSince1970: 1_800_000_000)

    let clock = ManualClock()
    let transport: RecordingTransport
    let recorder = RecordingRecorder()
    /// Answers HTTP and TCP probes, when the world uses it (`scriptedHealth`).
    let probes: ScriptedHealthProber
    let prober: any HealthProber

    /// A world whose health commands run through the transport (`NetworkHealthProber` runs a
    /// command probe through the target's transport), or, with `scriptedHealth`, whose every
    /// probe is answered by ``probes``.
    init(scriptedHealth: Bool = false) {
        transport = RecordingTransport(clock: clock)
        probes = ScriptedHealthProber(clock: clock)
        prober = scriptedHealth ? probes : NetworkHealthProber()
    }

    /// Plans `yaml` (a whole runbook) as `sluice apply` would.
    func plan(_ yaml: String) throws -> Plan {
        let loaded = RunbookLoader().load(text: yaml, file: "runbook.yaml", directory: Self.folder)
        let runbook = try #require(loaded.validRunbook, "\(loaded.diagnostics)")
        return try Planner().plan(
            runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-083015-7f3a",
            now: Self.origin, content: ContentDigest(files: []), validateFile: { _, index, path in path + ".validate-\(index)" })
    }

    /// The wall-clock time the engine reads: the origin plus how far the manual clock went.
    var now: @Sendable () -> Date {
        let clock = clock
        return {
            let (seconds, attoseconds) = clock.now.offset.components
            return Self.origin.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
        }
    }

    func engine(transports: Transports? = nil) -> RolloutEngine<ManualClock> {
        RolloutEngine(
            executor: StepExecutor(prober: prober, clock: clock), transports: transports ?? Transports(runner: transport),
            recorder: recorder, clock: clock, redactor: .none, now: now)
    }

    /// Runs `plan` to its end on the clock.
    func run(_ plan: Plan, stop: StopSignal? = nil, transports: Transports? = nil) async -> RolloutMachine.RunResult {
        let engine = engine(transports: transports)
        return await clock.run { await engine.run(plan, stop: stop) }
    }

    /// `kind target step` of each event of the given kinds (all when nil), in order.
    func events(_ kinds: Set<String>? = nil) -> [String] {
        recorder.events.filter { kinds?.contains($0.kind.rawValue) ?? true }.map { event in
            [event.kind.rawValue, event.target, event.step].compactMap { $0 }.joined(separator: " ")
        }
    }

    /// The commands that ran, without the guard checks.
    func commands(excluding fragment: String? = nil) -> [String] {
        transport.commands.filter { fragment == nil || !$0.contains(fragment!) }
    }

    /// When each command containing `fragment` started, on the clock.
    func times(of fragment: String) -> [Duration] {
        transport.ran.filter { $0.text.contains(fragment) }.compactMap(\.at)
    }
}
