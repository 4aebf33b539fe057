import SluiceCore
import SluiceExecution
import Synchronization

/// A health prober that answers each probe from a script, at once, and records every probe.
///
/// The rules added with ``on(_:_:then:)`` are tried latest first (see ``RequestMatcher``: a
/// string matches the probe's text, `GET URL`, `connect to HOST:PORT` or its command); the first
/// that matches answers with its results in turn, then with its `then`, else its last result
/// again. A probe no rule matches gets the default (healthy). Nothing runs: a
/// command probe does not reach its transport.
///
/// Thread-safe: probes may come from any task.
public final class ScriptedHealthProber: HealthProber {
    /// One probe, as asked for.
    public struct Probed: Sendable, Equatable, CustomStringConvertible {
        public var probe: RenderedProbe
        public var environment: [String: String]
        /// When it was asked for, on the prober's clock since the prober was made; nil without a clock.
        public var at: Duration?

        /// The probe's target (`SLUICE_TARGET`), when it has one.
        public var target: String? { environment["SLUICE_TARGET"] }

        public var description: String { "\(target ?? "-"): \(probe)" }
    }

    private struct State {
        var script: Script<ProbeRequest, ProbeResult>
        var probes: [Probed] = []
    }

    private let state: Mutex<State>
    private let elapsed: (@Sendable () -> Duration)?

    /// A prober answering `default` where its script says nothing.
    public init(default result: ProbeResult = .healthy) {
        state = Mutex(State(script: Script(fallback: result)))
        elapsed = nil
    }

    /// A prober whose record says when each probe came, on `clock`.
    public init<C: Clock>(default result: ProbeResult = .healthy, clock: C) where C.Duration == Duration {
        state = Mutex(State(script: Script(fallback: result)))
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
    }

    /// Answers the probes `matcher` matches with `results` in turn; after the last, with `then`
    /// when given, else with the last again.
    public func on(_ matcher: RequestMatcher<ProbeRequest>, _ results: ProbeResult..., then: ProbeResult? = nil) {
        state.withLock { $0.script.add(matcher, results, then: then) }
    }

    /// Answers the probes `matcher` matches with what `result` makes of each request.
    public func on(_ matcher: RequestMatcher<ProbeRequest>, result: @escaping @Sendable (ProbeRequest) -> ProbeResult) {
        state.withLock { $0.script.add(matcher, compute: result) }
    }

    /// Every probe asked for, in order.
    public var probes: [Probed] { state.withLock { $0.probes } }

    public func probe(_ request: ProbeRequest) async -> ProbeResult {
        let at = elapsed?()
        let (answer, compute) = state.withLock { state in
            state.probes.append(Probed(probe: request.probe, environment: request.environment, at: at))
            return state.script.answer(request)
        }
        guard let result = answer ?? compute?(request) else { preconditionFailure("the script gave no answer to \(request.probe)") }
        return result
    }
}

extension ProbeResult {
    /// Healthy, with `detail` for people.
    public static func healthy(_ detail: String = "healthy") -> ProbeResult { ProbeResult(healthy: true, detail: detail) }
    /// Unhealthy, with `detail` for people.
    public static func unhealthy(_ detail: String = "unhealthy") -> ProbeResult { ProbeResult(healthy: false, detail: detail) }
    public static var healthy: ProbeResult { .healthy() }
    public static var unhealthy: ProbeResult { .unhealthy() }
}
