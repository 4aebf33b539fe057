import SluiceCore

/// One attempt of a health check.
public struct ProbeRequest: Sendable {
    /// What to probe: an HTTP URL, a TCP address or a command.
    public var probe: RenderedProbe
    /// The expected HTTP status; nil accepts any 2xx.
    public var status: Int?
    /// Text the HTTP body must contain.
    public var contains: String?
    /// The bound on this attempt.
    public var timeout: Duration
    /// For command probes: the transport of the target they run on, the variables they get
    /// there, and what to redact.
    public var transport: any TargetTransport
    /// Variables set for a command probe (`SLUICE_*`, the step's `env:`).
    public var environment: [String: String]
    /// Hides secret values in what a command probe printed.
    public var redactor: Redactor

    /// One attempt of `probe`, bounded by `timeout`.
    public init(
        probe: RenderedProbe, status: Int? = nil, contains: String? = nil, timeout: Duration = .seconds(5),
        transport: any TargetTransport = LocalTransport(directory: "/"), environment: [String: String] = [:],
        redactor: Redactor = .none
    ) {
        self.probe = probe
        self.status = status
        self.contains = contains
        self.timeout = timeout
        self.transport = transport
        self.environment = environment
        self.redactor = redactor
    }
}

/// What one attempt found.
public struct ProbeResult: Sendable, Equatable {
    /// Whether this attempt found the target healthy.
    public var healthy: Bool
    /// For people: "HTTP 200", "HTTP 503", "connection refused", "body lacks `ok`", a command's output.
    public var detail: String

    /// What one attempt found.
    public init(healthy: Bool, detail: String) {
        self.healthy = healthy
        self.detail = detail
    }
}

/// Probes a target's health once. The seam between the engine and the network.
public protocol HealthProber: Sendable {
    func probe(_ request: ProbeRequest) async -> ProbeResult
}

/// The attempts of a health check: it fails only after every attempt failed.
public struct HealthCheckOutcome: Sendable, Equatable {
    /// Each attempt's result, in order; the last decides.
    public var attempts: [ProbeResult]

    /// Whether the last attempt found the target healthy.
    public var healthy: Bool { attempts.last?.healthy ?? false }
}

extension HealthProber {
    /// Probes up to `attempts` times, `interval` apart on `clock`, stopping at the first success.
    public func check<C: Clock>(
        _ request: ProbeRequest, attempts: Int, interval: Duration, clock: C
    ) async -> HealthCheckOutcome where C.Duration == Duration {
        var results: [ProbeResult] = []
        for attempt in 1...max(attempts, 1) {
            let result = await probe(request)
            results.append(result)
            if result.healthy || attempt == attempts { break }
            try? await clock.sleep(for: interval)
        }
        return HealthCheckOutcome(attempts: results)
    }
}
