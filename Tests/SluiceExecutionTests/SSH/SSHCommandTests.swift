import Foundation
import SluiceCore
import Synchronization
import SluiceTestSupport
import Testing
@testable import SluiceExecution

@Suite("Commands on a host over SSH (a real sshd on 127.0.0.1)", .serialized)
struct SSHCommandTests {
    @Test func statusOutputVariablesFolderAndUserAreTheHosts() async throws {
        try await SSHWorld.with { world in
            // Given a command printing to both streams, its variables, its folder and its user
            let result = await world.transport.run(CommandRequest(
                command: .shell(#"echo out; echo err >&2; printf '%s|%s\n' "$SLUICE_TARGET" "$ODD"; pwd; id -un; exit 3"#),
                environment: ["SLUICE_TARGET": "relay 1", "ODD": #"a'b $c "d" `e`"#]))
            // Then its status, output and variables come back as they were on the host
            #expect(result.termination == .exited(3))
            let lines = result.output.split(separator: "\n").map(String.init)
            #expect(Array(lines.prefix(3)) == ["out", "err", #"relay 1|a'b $c "d" `e`"#])
            // And it ran in the run's private folder there, as the login user
            let folder = try await world.transport.runFolder()
            #expect(folder.hasPrefix("/tmp/sluice-\(world.connections.runID)."))
            #expect(lines.dropFirst(3).first == folder)
            #expect(lines.last == SSHTestServer.user)
            var status = stat()
            #expect(lstat(folder, &status) == 0)
            #expect(status.st_mode & 0o7777 == 0o700)
            #expect(status.st_uid == world.server.userID)
        }
    }

    @Test func argvIsNotInterpretedByAnyShell() async throws {
        try await SSHWorld.with { world in
            let result = await world.transport.run(CommandRequest(command: .argv(["printf", "%s", "$(echo hi); `x` 'q' \"w\" *"])))
            #expect(result.termination == .exited(0))
            #expect(result.output == "$(echo hi); `x` 'q' \"w\" *")
        }
    }

    @Test func outputIsStreamedLineByLineAndRedacted() async throws {
        try await SSHWorld.with { world in
            let lines = Mutex<[String]>([])
            let result = await world.transport.run(CommandRequest(
                command: .shell("echo one; echo 'token hunter22'; echo three >&2"), redactor: Redactor(secrets: ["hunter22"]),
                onOutput: { line in lines.withLock { $0.append(line) } }))
            #expect(result.output == "one\ntoken ***\nthree\n")
            #expect(lines.withLock { $0 } == ["one\n", "token ***\n", "three\n"])
        }
    }

    @Test func aMissingProgramOrFolderCannotStart() async throws {
        try await SSHWorld.with { world in
            let missing = await world.transport.run(CommandRequest(command: .argv(["no-such-program-xyz"])))
            guard case .failedToStart(let reason) = missing.termination else { Issue.record("\(missing.termination)"); return }
            #expect(reason.contains("no-such-program-xyz"))
            let folder = await world.transport.run(CommandRequest(command: .shell("true"), workingDirectory: "/no/such/folder"))
            #expect(folder.termination == .failedToStart("the working folder /no/such/folder does not exist on \(world.transport.location)"))
        }
    }

    @Test func theCommandsOwnStatus255IsNotAConnectionFailure() async throws {
        try await SSHWorld.with { world in
            let result = await world.transport.run(CommandRequest(command: .shell("echo bye; exit 255")))
            #expect(result.termination == .exited(255))
            #expect(result.output == "bye\n")
        }
    }

    @Test func aHostThatWentAwayIsAConnectionFailureWithSshsReason() async throws {
        try await SSHWorld.with { world in
            // Given a host reached once
            #expect(await world.transport.run(CommandRequest(command: .shell("true"))).succeeded)
            // When its sshd and every session end
            await world.server.stopServer()
            // Then a command is a connection failure, not a status, and so is connecting again
            let result = await world.transport.run(CommandRequest(command: .shell("true")))
            guard case .connectionFailed(let reason) = result.termination else { Issue.record("\(result.termination)"); return }
            #expect(!reason.isEmpty)
            await #expect {
                try await world.transport.connect()
            } throws: { error in
                guard case SSHError.connectionFailed(_, let reason) = error else { return false }
                return reason.contains("Connection refused")
            }
        }
    }

    @Test func anUnknownHostKeyIsRefusedWithSshsReason() async throws {
        try await SSHWorld.with { world in
            // Given a known_hosts that does not know the host
            var destination = world.server.destination
            destination.knownHostsFile = world.server.folder + "/empty_known_hosts"
            FileManager.default.createFile(atPath: destination.knownHostsFile!, contents: nil)
            let transport = world.transport(destination)
            // Then connecting is refused, and says why in ssh's words
            await #expect {
                try await transport.connect()
            } throws: { error in
                guard case SSHError.connectionFailed(_, let reason) = error else { return false }
                return reason.contains("Host key verification failed")
            }
            let result = await transport.run(CommandRequest(command: .shell("true")))
            guard case .connectionFailed(let reason) = result.termination else { Issue.record("\(result.termination)"); return }
            #expect(reason.contains("Host key verification failed"))
            #expect(world.server.logins == 0)
        }
    }

    @Test func aChangedHostKeyIsRefused() async throws {
        try await SSHWorld.with { world in
            // Given a known_hosts holding another key for the host
            try await SSHTestServer.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", world.server.folder + "/other_key"])
            let other = try String(contentsOfFile: world.server.folder + "/other_key.pub", encoding: .utf8).split(separator: " ").prefix(2)
            var destination = world.server.destination
            destination.knownHostsFile = world.server.folder + "/changed_known_hosts"
            try "[127.0.0.1]:\(world.server.port) \(other.joined(separator: " "))\n".write(
                toFile: destination.knownHostsFile!, atomically: true, encoding: .utf8)
            // Then connecting is refused
            await #expect {
                try await world.transport(destination).connect()
            } throws: { error in
                guard case SSHError.connectionFailed(_, let reason) = error else { return false }
                return reason.contains("Host key verification failed")
            }
        }
    }

    @Test func acceptNewLearnsTheKeyOfAHostSeenForTheFirstTime() async throws {
        try await SSHWorld.with { world in
            var destination = world.server.destination
            destination.knownHostsFile = world.server.folder + "/learned_known_hosts"
            FileManager.default.createFile(atPath: destination.knownHostsFile!, contents: nil)
            destination.options = ["StrictHostKeyChecking": "accept-new"]
            try await world.transport(destination).connect()
            let learned = try String(contentsOfFile: destination.knownHostsFile!, encoding: .utf8)
            #expect(learned.contains("[127.0.0.1]:\(world.server.port)"))
        }
    }

    @Test(arguments: [
        (["StrictHostKeyChecking": "no"], "StrictHostKeyChecking=no"),
        (["stricthostkeychecking": "off"], "refused"),
        (["ControlPath": "/tmp/x"], "set by Sluice"),
        (["BatchMode": "no"], "set by Sluice"),
        (["Proxy Jump": "x"], "not an ssh option name"),
    ])
    func unsafeOptionsAreRefused(_ options: [String: String], _ said: String) async throws {
        let destination = SSHDestination(host: "relay-1.example.net", options: options)
        #expect(destination.problems.count == 1)
        #expect(destination.problems.first?.contains(said) == true)
        let connections = try SSHConnections(runID: "r-test-options")
        await #expect(throws: SSHError.self) { try await connections.connect(destination) }
        await connections.close()
    }

    @Test func hostsAndUsersThatLookLikeOptionsAreRefused() {
        #expect(!SSHDestination(host: "-oProxyCommand=evil").problems.isEmpty)
        #expect(!SSHDestination(host: "relay", user: "-x").problems.isEmpty)
        #expect(!SSHDestination(host: "relay", port: 70000).problems.isEmpty)
        #expect(SSHDestination(host: "relay", user: "deploy", port: 2222, options: ["ProxyJump": "bastion"]).problems.isEmpty)
        #expect(SSHDestination(host: "relay", user: "deploy", port: 2222).description == "deploy@relay:2222")
    }
}
