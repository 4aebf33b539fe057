import SluiceCore
import SluiceExecution
import SluiceTesting
import Testing

@Suite("The scripted health prober", .timeLimit(.minutes(1)))
struct ScriptedHealthProberTests {
    static func request(_ url: String, target: String) -> ProbeRequest {
        ProbeRequest(probe: .http(url: url), environment: ["SLUICE_TARGET": target])
    }

    @Test func eachProbeGetsItsResultsInTurnThenTheDefault() async {
        // Given web2's probe unhealthy twice, then (by default) healthy; web3's always unhealthy
        let prober = ScriptedHealthProber()
        prober.on("web2", .unhealthy("HTTP 503"), .unhealthy("HTTP 503"), then: .healthy("HTTP 200"))
        prober.on(.environment("SLUICE_TARGET", "web3"), .unhealthy("connection refused"))

        // When each is probed three times
        var answers: [String] = []
        for target in ["web1", "web2", "web3"] {
            for _ in 0..<3 {
                let result = await prober.probe(Self.request("http://\(target)/health", target: target))
                answers.append("\(target) \(result.healthy ? "healthy" : "unhealthy") \(result.detail)")
            }
        }

        // Then
        #expect(answers == [
            "web1 healthy healthy", "web1 healthy healthy", "web1 healthy healthy",
            "web2 unhealthy HTTP 503", "web2 unhealthy HTTP 503", "web2 healthy HTTP 200",
            "web3 unhealthy connection refused", "web3 unhealthy connection refused", "web3 unhealthy connection refused",
        ])
        #expect(prober.probes.map(\.description).prefix(4) == [
            "web1: GET http://web1/health", "web1: GET http://web1/health", "web1: GET http://web1/health", "web2: GET http://web2/health",
        ])
    }

    @Test func aCheckProbesAtItsIntervalOnTheClockAndStopsAtTheFirstSuccess() async {
        // Given a probe healthy on its third attempt, on a manual clock
        let clock = ManualClock()
        let prober = ScriptedHealthProber(clock: clock)
        prober.on(.any, .unhealthy, .unhealthy, .healthy)

        // When a check of five attempts, 2 s apart, runs
        let outcome = await clock.run {
            await prober.check(Self.request("http://web1/health", target: "web1"), attempts: 5, interval: .seconds(2), clock: clock)
        }

        // Then it probed at 0 s, 2 s and 4 s, and was healthy
        #expect(outcome.healthy)
        #expect(prober.probes.map(\.at) == [.zero, .seconds(2), .seconds(4)])
        #expect(clock.now.offset == .seconds(4))
    }

    @Test func aComputedResultSeesTheRequest() async {
        let prober = ScriptedHealthProber(default: .unhealthy("not scripted"))
        prober.on("connect to") { request in .healthy("\(request.probe)") }
        #expect(await prober.probe(ProbeRequest(probe: .tcp(host: "127.0.0.1", port: 6379))) == .healthy("connect to 127.0.0.1:6379"))
        #expect(await prober.probe(Self.request("http://web1/", target: "web1")) == .unhealthy("not scripted"))
    }
}
