import Foundation
import NIOCore
import NIOPosix
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceExecution

@Suite("Health probes against real servers on 127.0.0.1")
struct NetworkHealthProberTests {
    let prober = NetworkHealthProber()

    func withServer(_ body: (Int) async throws -> Void) async throws {
        let server = try await TestHTTPServer()
        do {
            try await body(server.port)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func anyTwoHundredIsHealthyByDefault() async throws {
        try await withServer { port in
            let result = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/ok")))
            #expect(result == ProbeResult(healthy: true, detail: "HTTP 200"))
        }
    }

    @Test func wrongStatusIsUnhealthy() async throws {
        try await withServer { port in
            let down = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/down")))
            #expect(down == ProbeResult(healthy: false, detail: "HTTP 503, expected 2xx"))
            let expected = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/down"), status: 503))
            #expect(expected.healthy)
            let notThis = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/ok"), status: 204))
            #expect(notThis == ProbeResult(healthy: false, detail: "HTTP 200, expected 204"))
        }
    }

    @Test func bodyMustContainTheText() async throws {
        try await withServer { port in
            let good = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/text"), contains: "good"))
            #expect(good == ProbeResult(healthy: true, detail: "HTTP 200, body contains `good`"))
            let bad = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/text"), contains: "login ok"))
            #expect(bad == ProbeResult(healthy: false, detail: "HTTP 200, but the body lacks `login ok`"))
        }
    }

    @Test func eachAttemptIsBoundedByItsTimeout() async throws {
        try await withServer { port in
            let result = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/slow"), timeout: .milliseconds(300)))
            #expect(result == ProbeResult(healthy: false, detail: "no answer within 300ms"))
        }
    }

    @Test func connectionRefusedIsUnhealthy() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let http = await prober.probe(ProbeRequest(probe: .http(url: "http://127.0.0.1:\(port)/ok")))
        #expect(http == ProbeResult(healthy: false, detail: "connection refused"))
        let tcp = await prober.probe(ProbeRequest(probe: .tcp(host: "127.0.0.1", port: port)))
        #expect(tcp == ProbeResult(healthy: false, detail: "127.0.0.1:\(port): connection refused"))
    }

    @Test func tcpConnects() async throws {
        try await withServer { port in
            let result = await prober.probe(ProbeRequest(probe: .tcp(host: "127.0.0.1", port: port)))
            #expect(result == ProbeResult(healthy: true, detail: "connected to 127.0.0.1:\(port)"))
        }
    }

    @Test func commandProbeUsesTheExitStatus() async {
        let healthy = await prober.probe(ProbeRequest(probe: .command(.shell("echo login ok"))))
        #expect(healthy == ProbeResult(healthy: true, detail: "exited with status 0: login ok"))
        let broken = await prober.probe(ProbeRequest(probe: .command(.shell("echo 'login failed: 401' >&2; exit 2"))))
        #expect(broken == ProbeResult(healthy: false, detail: "exited with status 2: login failed: 401"))
    }

    @Test func attemptsStopAtTheFirstSuccessAndFailOnlyWhenAllFail() async throws {
        // Given a server that is down for the first two attempts
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-attempts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let comesUpOnThird = ProbeRequest(
            probe: .command(.shell("n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]")),
            transport: LocalTransport(directory: folder.path))
        // When it is checked with 5 attempts, and then with 2 on a fresh count
        let outcome = await prober.check(comesUpOnThird, attempts: 5, interval: .milliseconds(10), clock: ContinuousClock())
        try FileManager.default.removeItem(at: folder.appendingPathComponent("n"))
        let tooFew = await prober.check(comesUpOnThird, attempts: 2, interval: .milliseconds(10), clock: ContinuousClock())
        // Then the first stops after its third attempt, healthy; the second fails after both attempts
        #expect(outcome.attempts.map(\.healthy) == [false, false, true])
        #expect(outcome.healthy)
        #expect(tooFew.attempts.map(\.healthy) == [false, false])
        #expect(!tooFew.healthy)
    }

}
