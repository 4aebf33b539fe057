import Foundation
import SluiceCore
import Synchronization
import SluiceTestSupport
import Testing
@testable import SluiceExecution

/// `become` through `sudo -n -u USER`, with the harness's own sudoers.d file letting the test
/// user run anything as root (and nothing as anyone else) without a password.
@Suite("become and scripts over SSH", .serialized)
struct SSHBecomeTests {
    @Test func becomeRunsTheCommandAsTheUserWithItsVariablesAndFolder() async throws {
        try await SSHWorld.with(sudo: true) { world in
            let root = world.transport.becoming("root")
            try await root.connect()
            let result = await root.run(CommandRequest(command: .shell(#"id -un; printf '%s\n' "$SLUICE_STEP"; pwd"#), environment: ["SLUICE_STEP": "restart postfix"]))
            #expect(result.termination == .exited(0))
            let lines = result.output.split(separator: "\n").map(String.init)
            #expect(lines.first == "root")
            #expect(lines.dropFirst().first == "restart postfix")
            // Root's commands run in a private folder of root's own
            let folder = try await root.runFolder()
            #expect(lines.last == folder)
            #expect(FileChangerStatus.owner(folder) == 0)
            #expect(try await world.transport.runFolder() != folder)
        }
    }

    @Test func aSudoThatWantsAPasswordFailsFastAndSaysSo() async throws {
        try await SSHWorld.with(sudo: true) { world in
            let nobody = world.transport.becoming("nobody")
            await #expect {
                try await nobody.connect()
            } throws: { error in
                guard case SSHError.becomeRefused(_, "nobody", let reason) = error else { return false }
                return reason.contains("password")
            }
            let result = await nobody.run(CommandRequest(command: .shell("echo ran"), workingDirectory: "/tmp"))
            guard case .failedToStart(let reason) = result.termination else { Issue.record("\(result.termination)"); return }
            #expect(reason.contains("sudo -n -u nobody"))
            #expect(reason.contains("password"))
            #expect(!result.output.contains("ran"))
        }
    }

    @Test func aWriteAsRootKeepsAnotherUsersOwnershipAndARestoreIsExact() async throws {
        try await SSHWorld.with(sudo: true) { world in
            // Given a file owned by another user and group (4242:4343), mode 0604, in root's folder
            let folder = try SSHFileTests.HostFolder(owner: 0)
            let path = folder.file("relay.conf")
            try folder.put("relay.conf", Data("old\n".utf8), mode: 0o604, owner: 4242, group: 4343)
            let root = world.transport.becoming("root")
            let backup = try await root.snapshot(path, follow: false)
            #expect(backup.owner == 4242 && backup.group == 4343 && backup.mode == 0o604)
            // When new content is written, validated as the staged file's owner sees it
            let transport = root
            let seen = Mutex("")
            let outcome = try await root.write(Data("new\n".utf8), to: path, mode: nil, temporary: nil, previous: backup) { staged in
                let result = await transport.run(CommandRequest(command: .argv(["stat", "-c", "%u:%g:%a", staged])))
                seen.withLock { $0 = result.output }
                return result
            }
            #expect(outcome == .written)
            #expect(seen.withLock { $0 } == "4242:4343:604\n")
            // Then the new file keeps the owner, group and mode
            #expect(FileChangerStatus.describe(path) == "4242:4343:604")
            #expect(FileManager.default.contents(atPath: path) == Data("new\n".utf8))
            // And a restore puts back the exact old file, owner included
            chown(path, 0, 0)
            #expect(try await root.restore(backup) == .restored)
            #expect(FileChangerStatus.describe(path) == "4242:4343:604")
            #expect(FileManager.default.contents(atPath: path) == Data("old\n".utf8))
            #expect(folder.entries == ["relay.conf"])
        }
    }

    @Test func aScriptIsCopiedIntoTheRunFolderCheckedAndRunFromThere() async throws {
        try await SSHWorld.with { world in
            let local = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-script-\(UUID().uuidString).sh").path
            defer { unlink(local) }
            let script = Data("#!/bin/sh\necho \"hello from $(id -un) in $(pwd)\"\n".utf8)
            try script.write(to: URL(fileURLWithPath: local))
            let path = try await world.transport.installScript(local, sha256: ContentDigest.sha256(script), as: "hello.sh")
            let folder = try await world.transport.runFolder()
            #expect(path == folder + "/hello.sh")
            #expect(FileChangerStatus.owner(path) == world.server.userID)
            #expect(FileChangerStatus.describe(path)?.hasSuffix(":700") == true)
            let result = await world.transport.run(CommandRequest(command: .argv([path])))
            #expect(result.output == "hello from \(SSHTestServer.user) in \(folder)\n")
        }
    }

    @Test func aScriptWhoseDigestIsNotTheApprovedOneIsRefusedAndRemoved() async throws {
        try await SSHWorld.with { world in
            let local = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-script-\(UUID().uuidString).sh").path
            defer { unlink(local) }
            try Data("#!/bin/sh\necho changed since approval\n".utf8).write(to: URL(fileURLWithPath: local))
            let approved = ContentDigest.sha256(Data("#!/bin/sh\necho approved\n".utf8))
            await #expect {
                try await world.transport.installScript(local, sha256: approved, as: "apply.sh")
            } throws: { error in
                guard case SSHError.scriptMismatch(_, _, let expected, let actual) = error else { return false }
                return expected == approved && actual != approved
            }
            let folder = try await world.transport.runFolder()
            #expect((try? FileManager.default.contentsOfDirectory(atPath: folder)) == [])
        }
    }
}

/// A file's owner, group and mode as the tests read them.
enum FileChangerStatus {
    static func owner(_ path: String) -> uid_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_uid : nil
    }

    /// `UID:GID:MODE` (mode in octal).
    static func describe(_ path: String) -> String? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        return "\(status.st_uid):\(status.st_gid):\(String(status.st_mode & 0o7777, radix: 8))"
    }
}
