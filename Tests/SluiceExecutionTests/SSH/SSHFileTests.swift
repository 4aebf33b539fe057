import Foundation
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceExecution

@Suite("Files on a host over SSH", .serialized)
struct SSHFileTests {
    /// A folder "on the host" (this machine, seen through sshd), owned by `owner`.
    final class HostFolder {
        let path: String
        init(owner: uid_t, mode: mode_t = 0o755) throws {
            path = "/tmp/sluice-hostfiles-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            chown(path, owner, gid_t.max)
            chmod(path, mode)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
        var entries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? [] }

        /// Writes a file as root, then gives it `owner`, `group` and `mode`.
        func put(_ name: String, _ content: Data, mode: mode_t, owner: uid_t, group: gid_t) throws {
            try content.write(to: URL(fileURLWithPath: file(name)))
            chown(file(name), owner, group)
            chmod(file(name), mode)
        }
    }

    static func status(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    /// Every byte value, NUL and newlines included: content must arrive exactly.
    static let binary = Data((0...255).map { UInt8($0) } + Array("\nend\r\n".utf8))

    @Test func aSnapshotHasTheHostsBytesModeAndOwner() async throws {
        try await SSHWorld.with { world in
            let folder = try HostFolder(owner: world.server.userID)
            try folder.put("app.conf", Self.binary, mode: 0o640, owner: world.server.userID, group: world.server.groupID)
            let snapshot = try await world.transport.snapshot(folder.file("app.conf"), follow: false)
            #expect(snapshot == FileSnapshot(
                path: folder.file("app.conf"), existed: true, content: Self.binary, mode: 0o640, owner: world.server.userID, group: world.server.groupID))
            let missing = try await world.transport.snapshot(folder.file("none.conf"), follow: false)
            #expect(missing == FileSnapshot(path: folder.file("none.conf"), existed: false, content: nil, mode: nil))
            await #expect(throws: FileChangeError.folderMissing(folder.path + "/no")) {
                try await world.transport.snapshot(folder.path + "/no/app.conf", follow: false)
            }
        }
    }

    @Test func linksAreRefusedUnlessFollowedAndOtherKindsAlways() async throws {
        try await SSHWorld.with { world in
            let folder = try HostFolder(owner: world.server.userID)
            try folder.put("real.conf", Data("real\n".utf8), mode: 0o644, owner: world.server.userID, group: world.server.groupID)
            symlink("real.conf", folder.file("link.conf"))
            symlink("nowhere.conf", folder.file("dangling.conf"))
            mkdir(folder.file("dir.conf"), 0o755)
            mkfifo(folder.file("fifo.conf"), 0o644)
            await #expect(throws: FileChangeError.symbolicLink(folder.file("link.conf"), target: "real.conf")) {
                try await world.transport.snapshot(folder.file("link.conf"), follow: false)
            }
            let followed = try await world.transport.snapshot(folder.file("link.conf"), follow: true)
            #expect(followed.path == folder.file("real.conf"))
            #expect(followed.content == Data("real\n".utf8))
            let dangling = try await world.transport.snapshot(folder.file("dangling.conf"), follow: true)
            #expect(dangling == FileSnapshot(path: folder.file("nowhere.conf"), existed: false, content: nil, mode: nil))
            await #expect(throws: FileChangeError.notRegularFile(folder.file("dir.conf"), kind: "directory")) {
                try await world.transport.snapshot(folder.file("dir.conf"), follow: false)
            }
            await #expect(throws: FileChangeError.notRegularFile(folder.file("fifo.conf"), kind: "FIFO (named pipe)")) {
                try await world.transport.snapshot(folder.file("fifo.conf"), follow: false)
            }
        }
    }

    @Test func aWriteReplacesTheFileAtomicallyKeepingOwnerAndMode() async throws {
        try await SSHWorld.with { world in
            // Given a file of the login user's, mode 0640
            let folder = try HostFolder(owner: world.server.userID)
            let path = folder.file("app.conf")
            try folder.put("app.conf", Data("old\n".utf8), mode: 0o640, owner: world.server.userID, group: world.server.groupID)
            let before = try #require(Self.status(path))
            // When new binary content is written
            let outcome = try await world.transport.write(Self.binary, to: path, mode: nil, temporary: nil, previous: nil, validate: nil)
            // Then it is in place, a new inode, with the old mode and owner, and nothing else is left
            #expect(outcome == .written)
            #expect(FileManager.default.contents(atPath: path) == Self.binary)
            let after = try #require(Self.status(path))
            #expect(after.st_ino != before.st_ino)
            #expect(after.st_mode & 0o7777 == 0o640)
            #expect(after.st_uid == world.server.userID)
            #expect(folder.entries == ["app.conf"])
            // And the same content again writes nothing
            let again = try await world.transport.write(Self.binary, to: path, mode: nil, temporary: nil, previous: nil, validate: nil)
            #expect(again == .unchanged)
            #expect(Self.status(path)?.st_ino == after.st_ino)
            // And a mode given is the mode the file gets
            _ = try await world.transport.write(Data("x".utf8), to: path, mode: 0o600, temporary: nil, previous: nil, validate: nil)
            #expect(Self.status(path).map { $0.st_mode & 0o7777 } == 0o600)
        }
    }

    @Test func validateSeesTheStagedFileAndItsRefusalLeavesTheFileUntouched() async throws {
        try await SSHWorld.with { world in
            // Given a file and a validator, run on the host, refusing content with "bad"
            let folder = try HostFolder(owner: world.server.userID)
            let path = folder.file("app.conf")
            try folder.put("app.conf", Data("good\n".utf8), mode: 0o644, owner: world.server.userID, group: world.server.groupID)
            let before = try #require(Self.status(path))
            let transport = world.transport
            let validate: @Sendable (String) async -> CommandResult = { staged in
                await transport.run(CommandRequest(command: .argv(["sh", "-c", "echo \"checking $1\"; ! grep -q bad \"$1\"", "sh", staged])))
            }
            // When bad content is offered
            let outcome = try await transport.write(Data("bad\n".utf8), to: path, mode: nil, temporary: nil, previous: nil, validate: validate)
            // Then it is refused, after validate saw a staged file beside it, and nothing changed
            guard case .rejected(let result) = outcome else { Issue.record("expected a rejection, got \(outcome)"); return }
            #expect(result.termination == .exited(1))
            #expect(result.output.hasPrefix("checking \(folder.path)/.app.conf.sluice-"))
            #expect(FileManager.default.contents(atPath: path) == Data("good\n".utf8))
            #expect(Self.status(path)?.st_ino == before.st_ino)
            #expect(folder.entries == ["app.conf"])
            // And good content passes and is written
            let good = try await transport.write(Data("fine\n".utf8), to: path, mode: nil, temporary: nil, previous: nil, validate: validate)
            #expect(good == .written)
            #expect(FileManager.default.contents(atPath: path) == Data("fine\n".utf8))
        }
    }

    @Test func aRestorePutsBackTheExactFileOrRemovesIt() async throws {
        try await SSHWorld.with { world in
            let folder = try HostFolder(owner: world.server.userID)
            let path = folder.file("app.conf")
            try folder.put("app.conf", Self.binary, mode: 0o604, owner: world.server.userID, group: world.server.groupID)
            let backup = try await world.transport.snapshot(path, follow: false)
            _ = try await world.transport.write(Data("new\n".utf8), to: path, mode: 0o600, temporary: nil, previous: backup, validate: nil)
            #expect(try await world.transport.restore(backup) == .restored)
            #expect(try await world.transport.snapshot(path, follow: false) == backup)
            #expect(try await world.transport.restore(backup) == .alreadyAsBefore)
            // A file that did not exist is removed again
            let absent = try await world.transport.snapshot(folder.file("new.conf"), follow: false)
            _ = try await world.transport.write(Data("x".utf8), to: folder.file("new.conf"), mode: nil, temporary: nil, previous: absent, validate: nil)
            #expect(try await world.transport.restore(absent) == .removed)
            #expect(try await world.transport.restore(absent) == .alreadyAsBefore)
            #expect(folder.entries == ["app.conf"])
        }
    }

    @Test func aValidationCopyExistsOnlyWhileItIsChecked() async throws {
        try await SSHWorld.with { world in
            let folder = try HostFolder(owner: world.server.userID)
            let path = folder.file("app.conf")
            try folder.put("app.conf", Data("old\n".utf8), mode: 0o644, owner: world.server.userID, group: world.server.groupID)
            try folder.put(".app.conf.plan", Data("leftover".utf8), mode: 0o644, owner: world.server.userID, group: world.server.groupID)
            let staged = folder.file(".app.conf.plan")
            let seen = try await world.transport.validating(Data("new\n".utf8), beside: path, as: ".app.conf.plan") {
                (FileManager.default.contents(atPath: staged), Self.status(staged).map { $0.st_mode & 0o7777 })
            }
            #expect(seen.0 == Data("new\n".utf8))
            #expect(seen.1 == 0o600)
            #expect(folder.entries == ["app.conf"])
        }
    }

    @Test func withoutBecomeAFolderTheLoginUserCannotWriteIsRefused() async throws {
        try await SSHWorld.with { world in
            let folder = try HostFolder(owner: 0)
            try folder.put("app.conf", Data("old\n".utf8), mode: 0o644, owner: 0, group: 0)
            await #expect {
                try await world.transport.write(Data("new\n".utf8), to: folder.file("app.conf"), mode: nil, temporary: nil, previous: nil, validate: nil)
            } throws: { error in
                guard case FileChangeError.unwritable(let path, _) = error else { return false }
                return path == folder.file("app.conf")
            }
            #expect(FileManager.default.contents(atPath: folder.file("app.conf")) == Data("old\n".utf8))
        }
    }
}
