import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import SluiceCore

/// Probes health for real: HTTP with AsyncHTTPClient and TCP with SwiftNIO from the runner,
/// commands on their target through its ``TargetTransport``.
public struct NetworkHealthProber: HealthProber {
    /// At most this much of an HTTP body is read to look for `contains`.
    static let bodyLimit = 1 << 20

    private let client: HTTPClient

    /// Uses the shared HTTP client and event loops, which live as long as the process.
    public init() {
        self.client = HTTPClient.shared
    }

    /// Probes once: HTTP and TCP from here, a command on its target's transport.
    public func probe(_ request: ProbeRequest) async -> ProbeResult {
        switch request.probe {
        case .http(let url): await probeHTTP(url, request)
        case .tcp(let host, let port): await probeTCP(host: host, port: port, timeout: request.timeout)
        case .command(let command): await probeCommand(command, request)
        }
    }

    private func probeHTTP(_ url: String, _ request: ProbeRequest) async -> ProbeResult {
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = .GET
        httpRequest.headers.add(name: "User-Agent", value: "sluice-health/\(SluiceVersion.current)")
        do {
            let deadline = NIODeadline.now() + .nanoseconds(Int64(request.timeout.nanoseconds))
            let response = try await client.execute(httpRequest, deadline: deadline)
            let status = Int(response.status.code)
            let statusOK = request.status.map { $0 == status } ?? (200..<300).contains(status)
            guard statusOK else {
                let expected = request.status.map { "expected \($0)" } ?? "expected 2xx"
                return ProbeResult(healthy: false, detail: "HTTP \(status), \(expected)")
            }
            guard let needle = request.contains else { return ProbeResult(healthy: true, detail: "HTTP \(status)") }
            let body = try await response.body.collect(upTo: Self.bodyLimit)
            let text = String(buffer: body)
            return text.contains(needle)
                ? ProbeResult(healthy: true, detail: "HTTP \(status), body contains `\(needle)`")
                : ProbeResult(healthy: false, detail: "HTTP \(status), but the body lacks `\(needle)`")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return ProbeResult(healthy: false, detail: "no answer within \(RunbookDuration.format(request.timeout))")
        } catch {
            return ProbeResult(healthy: false, detail: Self.describe(error))
        }
    }

    private func probeTCP(host: String, port: Int, timeout: Duration) async -> ProbeResult {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(timeout.nanoseconds)))
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            try? await channel.close()
            return ProbeResult(healthy: true, detail: "connected to \(host):\(port)")
        } catch {
            return ProbeResult(healthy: false, detail: "\(host):\(port): \(Self.describe(error))")
        }
    }

    private func probeCommand(_ command: RenderedCommand, _ request: ProbeRequest) async -> ProbeResult {
        let result = await request.transport.run(CommandRequest(
            command: command, environment: request.environment,
            timeout: request.timeout, killGrace: .seconds(2), redactor: request.redactor))
        let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let summary = output.split(separator: "\n").last.map(String.init) ?? ""
        return ProbeResult(healthy: result.succeeded, detail: summary.isEmpty ? result.termination.description : "\(result.termination): \(summary)")
    }

    static func describe(_ error: any Error) -> String {
        if let ioError = error as? IOError, ioError.errnoCode == ECONNREFUSED { return "connection refused" }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError { return "no connection within the timeout" }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}

extension Duration {
    /// The duration in whole nanoseconds, for APIs that count them.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
