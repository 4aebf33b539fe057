import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceTestSupport
import SluiceTesting
import Testing

/// The quickstart's demo service (`sluice-demo`), a real HTTP server, answering from its state.
@Suite("The quickstart's demo service, run as a program", .ownThread)
struct DemoServerTests {
    static let executable = SluiceBinary.executable.deletingLastPathComponent().appendingPathComponent("sluice-demo")

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Starts the demo service for `folder` on a port free a moment ago, and waits until it
    /// answers. A port another test took in that moment makes the service exit, and another port
    /// is tried.
    static func startServer(for folder: TemporaryFolder) async throws -> (server: Process, port: Int, answer: (status: Int, body: String)) {
        for _ in 0..<10 {
            let port = try ClosedPort().port  // a port the system had free, let go again
            let server = Process()
            server.executableURL = Self.executable
            server.arguments = [folder.url.path, "web-1", "\(port)"]
            server.standardOutput = Pipe()
            server.standardError = Pipe()
            try server.run()
            var answer = (status: 0, body: "")
            for _ in 0..<200 where answer.status == 0 && server.isRunning {
                answer = (try? await Self.get("http://127.0.0.1:\(port)/health")) ?? (0, "")
                if answer.status == 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
            if answer.status != 0 { return (server, port, answer) }
            server.terminate()
            server.waitUntilExit()
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "sluice-demo never answered on any of 10 ports"])
    }

    @Test func healthFollowsTheServiceStateAndAPortInUseIsAClearError() async throws {
        let folder = try TemporaryFolder()
        let (server, port, answer) = try await Self.startServer(for: folder)
        defer { server.terminate(); server.waitUntilExit() }
        #expect(answer.status == 503)
        #expect(answer.body == "web-1 is not installed\n")

        try folder.write("web-1/state", "running\n")
        try folder.write("web-1/version", "2.0\n")
        #expect(try await Self.get("http://127.0.0.1:\(port)/health") == (200, "healthy: web-1 on version 2.0\n"))
        try folder.write("web-1/state", "crashed\n")
        #expect(try await Self.get("http://127.0.0.1:\(port)/health").status == 503)

        let second = Process()
        second.executableURL = Self.executable
        second.arguments = [folder.url.path, "web-1", "\(port)"]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        second.waitUntilExit()
        #expect(second.terminationStatus == 1)
        #expect(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("cannot listen on 127.0.0.1:\(port)"))
    }
}
