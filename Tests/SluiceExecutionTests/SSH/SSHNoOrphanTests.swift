import Foundation
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceExecution

/// No remote process outlives its step: each case is checked by looking for the command's
/// processes on the host afterwards.
@Suite("No remote process outlives its step", .serialized)
struct SSHNoOrphanTests {
    /// A command that starts a child in the background and then waits itself, both marked.
    static func waiting(_ marker: String, ignoringTERM: Bool = false) -> RenderedCommand {
        .shell((ignoringTERM ? "trap '' TERM; " : "") + "sleep \(marker) & sleep \(marker); echo never")
    }

    /// Runs `request` while `during` acts once the marked processes run on the host.
    static func run(
        _ transport: SSHTransport, _ request: CommandRequest, marker: String, during: @escaping @Sendable () async -> Void
    ) async -> CommandResult {
        await withTaskGroup(of: CommandResult?.self) { group in
            group.addTask { await transport.run(request) }
            group.addTask {
                guard await SSHTestServer.eventually({ SSHTestServer.remote(marker).count >= 2 }) else {
                    Issue.record("the command never started on the host")
                    transport.terminateRunning(grace: .zero)
                    return nil
                }
                await during()
                return nil
            }
            var result: CommandResult?
            for await next in group where next != nil { result = next }
            guard let result else { preconditionFailure("the command's task returned nothing") }
            return result
        }
    }

    @Test func aTimedOutCommandsWholeGroupIsKilledOnTheHost() async throws {
        try await SSHWorld.with { world in
            let marker = SSHWorld.marker()
            let result = await world.transport.run(CommandRequest(
                command: Self.waiting(marker), timeout: .seconds(1), killGrace: .seconds(1)))
            #expect(result.termination == .timedOut)
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
        }
    }

    @Test func aCommandIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        try await SSHWorld.with { world in
            let marker = SSHWorld.marker()
            let result = await world.transport.run(CommandRequest(
                command: Self.waiting(marker, ignoringTERM: true), timeout: .seconds(1), killGrace: .milliseconds(500)))
            #expect(result.termination == .timedOut)
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
        }
    }

    @Test func terminateRunningKillsTheGroupOnTheHost() async throws {
        try await SSHWorld.with { world in
            let marker = SSHWorld.marker()
            let transport = world.transport
            let result = await Self.run(transport, CommandRequest(command: Self.waiting(marker)), marker: marker) {
                transport.terminateRunning(grace: .seconds(1))
            }
            #expect(result.termination == .signalled(SIGTERM))
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
            // Commands started afterwards are not affected
            #expect(await transport.run(CommandRequest(command: .shell("true"))).succeeded)
        }
    }

    @Test func killingTheLocalSshClientKillsTheGroupOnTheHost() async throws {
        try await SSHWorld.with { world in
            let marker = SSHWorld.marker()
            let result = await Self.run(world.transport, CommandRequest(command: Self.waiting(marker)), marker: marker) {
                for pid in SSHTestServer.clients(marker) { kill(pid, SIGKILL) }
            }
            guard case .connectionFailed(let reason) = result.termination else { Issue.record("\(result.termination)"); return }
            #expect(reason.contains("signal 9"))
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
        }
    }

    @Test func aConnectionThatEndsKillsTheGroupOnTheHost() async throws {
        try await SSHWorld.with { world in
            let marker = SSHWorld.marker()
            let folder = world.connections.folder
            let result = await Self.run(world.transport, CommandRequest(command: Self.waiting(marker)), marker: marker) {
                for pid in SSHTestServer.masters(in: folder) { kill(pid, SIGKILL) }
            }
            guard case .connectionFailed = result.termination else { Issue.record("\(result.termination)"); return }
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
        }
    }

    @Test func aRunnerKilledWithSIGKILLLeavesNothingOnTheHost() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-base-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try await SSHTestServer.with { server in
            // Given a runner (the probe) running a command on the host over its own master
            let marker = SSHWorld.marker()
            let destination = server.destination
            let printed = base + "/probe.out"
            let probe = try SpawnedProcess.start(
                Self.probe.path,
                [
                    base, destination.host, String(server.port), SSHTestServer.user, destination.identity!, destination.configFile!,
                    destination.knownHostsFile!, "sleep \(marker) & sleep \(marker)",
                ], output: printed)
            let said = { (try? String(contentsOfFile: printed, encoding: .utf8)) ?? "" }
            #expect(await SSHTestServer.eventually { said().contains("\n") })
            let folder = String(said().split(separator: "\n").first?.dropFirst("folder ".count) ?? "")
            #expect(folder.hasPrefix(base + "/sluice-ssh-"))
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).count >= 2 })
            #expect(SSHTestServer.masters(in: folder).count == 1)
            // When the runner is killed with SIGKILL
            kill(probe.pid, SIGKILL)
            _ = await probe.exit()
            // Then its commands on the host, its ssh client and its master all end
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
            #expect(await SSHTestServer.eventually { SSHTestServer.naming(folder).isEmpty })
            // And the next run removes its socket folder, and its run folder on the host
            #expect(await SSHConnections.removeStaleFolders(in: base) == [folder])
            let probeRun = "r-probe-\(probe.pid)"
            let leftovers = { ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("sluice-\(probeRun).") } }
            #expect(leftovers().count == 1)
            let connections = try SSHConnections(runID: "r-test-tidy")
            #expect(try await SSHTransport(destination: destination, connections: connections).removeRunFolders(of: probeRun) == 1)
            await connections.close()
            #expect(leftovers().isEmpty)
        }
    }

    /// The probe built beside the test bundle.
    static let probe: URL = {
        let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleFolder, bundleFolder.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("sluice-ssh-probe")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/sluice-ssh-probe")
    }()
}
