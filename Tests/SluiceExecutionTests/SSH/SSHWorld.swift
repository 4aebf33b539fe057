import Foundation
import SluiceTestSupport
@testable import SluiceExecution

/// One test's world over SSH: a fresh server, the run's connections, a transport to the host.
struct SSHWorld {
    let server: SSHTestServer
    let connections: SSHConnections
    let transport: SSHTransport

    /// Runs `body` in a fresh world and ends it (connections closed, server stopped) whatever
    /// happened.
    static func with<T>(
        maxSessions: Int = 10, sudo: Bool = false, settings: SSHSettings = SSHSettings(), base: String = "/tmp",
        _ body: (SSHWorld) async throws -> T
    ) async throws -> T {
        try await SSHTestServer.with(maxSessions: maxSessions, sudo: sudo) { server in
            let connections = try SSHConnections(runID: "r-test-\(UUID().uuidString.prefix(8).lowercased())", base: base, settings: settings)
            let world = SSHWorld(server: server, connections: connections, transport: SSHTransport(destination: server.destination, connections: connections))
            do {
                let result = try await body(world)
                await connections.close()
                return result
            } catch {
                await connections.close()
                throw error
            }
        }
    }

    /// A transport to the same server reached as `destination`.
    func transport(_ destination: SSHDestination) -> SSHTransport { SSHTransport(destination: destination, connections: connections) }

    /// A marker for the command line of a test's remote processes: a `sleep` that no one else runs.
    static func marker() -> String { "98\(Int.random(in: 1_000_000...9_999_999)).5" }
}
