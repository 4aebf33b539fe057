import Foundation
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceExecution

@Suite("One SSH connection per host for the run", .serialized)
struct SSHConnectionTests {
    @Test func oneMasterServesEveryCommandAndIsClosedAtTheEnd() async throws {
        try await SSHWorld.with { world in
            // Given ten commands, five one after another and five at once
            for _ in 0..<5 { #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded) }
            let together = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<5 { group.addTask { await world.transport.run(CommandRequest(command: .shell("sleep 0.2"))).succeeded } }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(together == Array(repeating: true, count: 5))
            // Then one master process carried them all, over one login
            #expect(SSHTestServer.masters(in: world.connections.folder).count == 1)
            #expect(world.server.logins == 1)
            let remoteFolder = try await world.transport.runFolder()
            #expect(FileManager.default.fileExists(atPath: remoteFolder))
            // When the run ends
            let problems = await world.connections.close()
            // Then no ssh process of the run is left, its sockets and its folder on the host are gone
            #expect(problems.isEmpty)
            #expect(await SSHTestServer.eventually { SSHTestServer.naming(world.connections.folder).isEmpty })
            #expect(!FileManager.default.fileExists(atPath: world.connections.folder))
            #expect(!FileManager.default.fileExists(atPath: remoteFolder))
            // And the connections refuse further use
            let after = await world.transport.run(CommandRequest(command: .shell("true")))
            guard case .connectionFailed = after.termination else { Issue.record("\(after.termination)"); return }
        }
    }

    @Test func commandsPerHostStayUnderTheSessionCap() async throws {
        // Given an sshd allowing 2 sessions per connection, and the cap set to match
        var settings = SSHSettings()
        settings.sessionsPerHost = 2
        try await SSHWorld.with(maxSessions: 2, settings: settings) { world in
            // When six commands are started at once
            let results = await withTaskGroup(of: CommandResult.Termination.self) { group in
                for _ in 0..<6 { group.addTask { await world.transport.run(CommandRequest(command: .shell("sleep 0.3"))).termination } }
                return await group.reduce(into: [CommandResult.Termination]()) { $0.append($1) }
            }
            // Then they took turns, and none was refused by sshd
            #expect(results == Array(repeating: .exited(0), count: 6))
            #expect(world.server.logins == 1)
        }
    }

    @Test func mastersAtOnceAreCapped() async throws {
        // Given room for one connection, and two names for the host
        var settings = SSHSettings()
        settings.mastersAtOnce = 1
        try await SSHWorld.with(settings: settings) { world in
            var other = world.server.destination
            other.host = "localhost"
            let second = world.transport(other)
            // When commands go to one, the other, and the first again
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
            #expect(SSHTestServer.masters(in: world.connections.folder).count == 1)
            #expect(await second.run(CommandRequest(command: .shell("true"))).succeeded)
            // Then the idle connection was closed to make room each time
            #expect(await SSHTestServer.eventually { SSHTestServer.masters(in: world.connections.folder).count == 1 })
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
            #expect(await SSHTestServer.eventually { SSHTestServer.masters(in: world.connections.folder).count == 1 })
            #expect(world.server.logins == 3)
        }
    }

    @Test func aMasterThatDiedIsReplacedByTheNextCommand() async throws {
        try await SSHWorld.with { world in
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
            let first = SSHTestServer.masters(in: world.connections.folder)
            #expect(first.count == 1)
            for pid in first { kill(pid, SIGKILL) }
            #expect(await SSHTestServer.eventually { SSHTestServer.masters(in: world.connections.folder).isEmpty })
            // The watcher's exit is seen before reuse: a fresh connection, not a failure
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
            #expect(world.server.logins == 2)
        }
    }

    @Test func aRetryAfterAConnectionFailureGetsAFreshConnection() async throws {
        try await SSHWorld.with { world in
            // Given a command that waits the first time and finishes the second
            let marker = SSHWorld.marker()
            let flag = "/tmp/sluice-flag-\(UUID().uuidString)"
            defer { unlink(flag) }
            let command = CommandRequest(command: .shell("if [ -e \(flag) ]; then echo ran; else touch \(flag); sleep \(marker); fi"))
            // When its connection dies while it waits (the master killed)
            let result = await withTaskGroup(of: CommandResult?.self) { group in
                group.addTask { await world.transport.runRetryingConnection(command, attempts: 2) }
                group.addTask {
                    _ = await SSHTestServer.eventually { !SSHTestServer.remote(marker).isEmpty }
                    for pid in SSHTestServer.masters(in: world.connections.folder) { kill(pid, SIGKILL) }
                    return nil
                }
                var result: CommandResult?
                for await next in group where next != nil { result = next }
                return result
            }
            // Then the retry ran it again over a new login, and the first attempt left nothing
            #expect(result?.termination == .exited(0))
            #expect(result?.output == "ran\n")
            #expect(world.server.logins == 2)
            #expect(await SSHTestServer.eventually { SSHTestServer.remote(marker).isEmpty })
        }
    }

    @Test func foldersOfDeadRunnersAreCleanedUpAndTheirMastersEnded() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-base-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try await SSHWorld.with(base: base) { world in
            // Given a live run's folder, and a dead runner's with a master still listening in it
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
            let stale = base + "/sluice-ssh-stale1"
            try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try "999999999 1\n".write(toFile: stale + "/runner", atomically: true, encoding: .utf8)
            let destination = world.server.destination
            try await SSHTestServer.run(
                "/usr/bin/ssh",
                destination.sshOptions(controlPath: stale + "/sock", settings: SSHSettings()) + ["-M", "-N", "-f", "--", destination.host])
            #expect(SSHTestServer.naming(stale).count == 1)
            // When a new run cleans up
            let removed = await SSHConnections.removeStaleFolders(in: base)
            // Then the dead runner's folder and master are gone, the live one is untouched
            #expect(removed == [stale])
            #expect(!FileManager.default.fileExists(atPath: stale))
            #expect(await SSHTestServer.eventually { SSHTestServer.naming(stale).isEmpty })
            #expect(FileManager.default.fileExists(atPath: world.connections.folder))
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
        }
    }

    @Test func theSocketFolderIsPrivateAndItsPathShort() async throws {
        let connections = try SSHConnections(runID: "r-test-folder")
        var status = stat()
        #expect(lstat(connections.folder, &status) == 0)
        #expect(status.st_mode & 0o7777 == 0o700)
        #expect(status.st_uid == getuid())
        #expect(connections.folder.utf8.count + 1 + 40 + 17 < 108)
        await connections.close()
        #expect(!FileManager.default.fileExists(atPath: connections.folder))
    }
}
