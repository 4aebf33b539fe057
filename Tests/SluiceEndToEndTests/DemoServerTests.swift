import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
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

    @Test func healthFollowsTheServiceStateAndAPortInUseIsAClearError() async throws {
        let folder = try TemporaryFolder()
        let port = 20_000 + Int(getpid() % 20_000)
        let server = Process()
        server.executableURL = Self.executable
        server.arguments = [folder.url.path, "web-1", "\(port)"]
        server.standardOutput = Pipe()
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var answer = (status: 0, body: "")
        for _ in 0..<100 where answer.status == 0 {
            answer = (try? await Self.get("http://127.0.0.1:\(port)/health")) ?? (0, "")
            if answer.status == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
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
