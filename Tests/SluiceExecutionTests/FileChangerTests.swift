import Foundation
import SluiceCore
import Testing
@testable import SluiceExecution

@Suite("Atomic file changes and exact restores")
struct FileChangerTests {
    final class Folder {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-files-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
        var entries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? [] }
    }

    static func mode(_ path: String) -> UInt32? {
        var status = stat()
        return stat(path, &status) == 0 ? UInt32(status.st_mode) & 0o7777 : nil
    }

    @Test func newContentReplacesTheFileWithTheRequestedMode() async throws {
        let folder = try Folder()
        let path = folder.file("app.conf")
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        let outcome = try await FileChanger.write(Data("new\n".utf8), to: path, mode: 0o600)
        #expect(outcome == .written)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        #expect(Self.mode(path) == 0o600)
        #expect(folder.entries == ["app.conf"])  // no temporary file left behind
    }

    @Test func existingModeIsKeptWhenNoneIsGiven() async throws {
        let folder = try Folder()
        let path = folder.file("app.conf")
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o640)
        _ = try await FileChanger.write(Data("new\n".utf8), to: path, mode: nil)
        #expect(Self.mode(path) == 0o640)
        let created = folder.file("created.conf")
        _ = try await FileChanger.write(Data("x".utf8), to: created, mode: nil)
        #expect(Self.mode(created) == 0o644)
    }

    @Test func validateSeesTheNewContentAndCanRefuseIt() async throws {
        // Given a file and a validator that rejects content containing "bad"
        let folder = try Folder()
        let path = folder.file("app.conf")
        try Data("good\n".utf8).write(to: URL(fileURLWithPath: path))
        let runner = SubprocessCommandRunner()
        let validate: (String) async -> CommandResult = { temporary in
            await runner.run(CommandRequest(command: .argv(["sh", "-c", "! grep -q bad \"$1\" || { echo \"bad in $1\" >&2; exit 1; }", "sh", temporary]), workingDirectory: folder.path))
        }
        // When bad content is offered
        let outcome = try await FileChanger.write(Data("bad\n".utf8), to: path, mode: nil, validate: validate)
        // Then it is refused, the file is untouched, and no temporary file remains
        guard case .rejected(let result) = outcome else { Issue.record("expected a rejection"); return }
        #expect(result.termination == .exited(1))
        #expect(result.output.contains("/.app.conf.sluice-"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "good\n")
        #expect(folder.entries == ["app.conf"])
        // And good content passes
        #expect(try await FileChanger.write(Data("fine\n".utf8), to: path, mode: nil, validate: validate) == .written)
    }

    @Test func restoreBringsBackTheExactBytesAndMode() async throws {
        let folder = try Folder()
        let path = folder.file("bytes.bin")
        let original = Data([0, 1, 2, 255, 10, 13, 0xC3, 0x28]) + Data("no newline at end".utf8)
        try original.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o604)
        let snapshot = try FileChanger.snapshot(path)
        _ = try await FileChanger.write(Data("replaced".utf8), to: path, mode: 0o755)
        try FileChanger.restore(snapshot)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        #expect(Self.mode(path) == 0o604)
    }

    @Test func restoreRemovesAFileThatDidNotExist() async throws {
        let folder = try Folder()
        let path = folder.file("new.conf")
        let snapshot = try FileChanger.snapshot(path)
        #expect(snapshot == FileSnapshot(path: path, existed: false, content: nil, mode: nil))
        _ = try await FileChanger.write(Data("x".utf8), to: path, mode: nil)
        try FileChanger.restore(snapshot)
        #expect(!FileManager.default.fileExists(atPath: path))
        try FileChanger.restore(snapshot)  // safe to repeat
    }

    @Test func missingFolderIsAClearError() async throws {
        let folder = try Folder()
        await #expect(throws: FileChangeError.folderMissing(folder.file("nope"))) {
            try await FileChanger.write(Data("x".utf8), to: folder.file("nope/app.conf"), mode: nil)
        }
    }

    static func owner(_ path: String) -> (uid: UInt32, gid: UInt32)? {
        var status = stat()
        return lstat(path, &status) == 0 ? (status.st_uid, status.st_gid) : nil
    }

    static func inode(_ path: String) -> (ino: UInt, mtime: Int)? {
        var status = stat()
        return lstat(path, &status) == 0 ? (UInt(status.st_ino), status.st_mtim.tv_sec * 1_000_000_000 + status.st_mtim.tv_nsec) : nil
    }

    /// nobody:nogroup, for the ownership tests (they need root to give files away).
    static let nobody: (uid: UInt32, gid: UInt32) = (65534, 65534)

    @Test(.enabled(if: getuid() == 0, "needs root to give a file to nobody"))
    func aWriteAndARestoreKeepOwnerGroupAndMode() async throws {
        // Given a file owned nobody:nogroup 0640, as a service's config is
        let folder = try Folder()
        let path = folder.file("service.conf")
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: path))
        chown(path, Self.nobody.uid, Self.nobody.gid)
        chmod(path, 0o640)
        let snapshot = try FileChanger.snapshot(path)
        #expect(snapshot.owner == Self.nobody.uid && snapshot.group == Self.nobody.gid && snapshot.mode == 0o640)

        // When root writes new content, then restores the snapshot
        #expect(try await FileChanger.write(Data("new\n".utf8), to: path, mode: nil) == .written)
        #expect(Self.owner(path)?.uid == Self.nobody.uid && Self.owner(path)?.gid == Self.nobody.gid)
        #expect(Self.mode(path) == 0o640)
        // (a root-owned file in its place makes the restore put the owner back too)
        chown(path, 0, 0)
        #expect(try FileChanger.restore(snapshot) == .restored)

        // Then the file is back as it was: content, owner, group and mode
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        #expect(Self.owner(path)?.uid == Self.nobody.uid && Self.owner(path)?.gid == Self.nobody.gid)
        #expect(Self.mode(path) == 0o640)
        #expect(folder.entries == ["service.conf"])
    }

    @Test func theSameContentIsNotWrittenAgainAndARestoreOfItChangesNothing() async throws {
        // Given a file that already holds the new content
        let folder = try Folder()
        let path = folder.file("app.conf")
        try Data("same\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        let before = try #require(Self.inode(path))
        let snapshot = try FileChanger.snapshot(path)
        var validated = false

        // When it is offered again (with its own mode)
        let outcome = try await FileChanger.write(Data("same\n".utf8), to: path, mode: 0o644, previous: snapshot) { _ in
            validated = true
            return CommandResult(termination: .exited(0), output: "", duration: .zero)
        }

        // Then nothing is written or validated, and restoring its snapshot touches nothing
        #expect(outcome == .unchanged)
        #expect(!validated)
        #expect(try FileChanger.restore(snapshot) == .alreadyAsBefore)
        let after = try #require(Self.inode(path))
        #expect(after.ino == before.ino && after.mtime == before.mtime)
        // A different mode is a change
        #expect(try await FileChanger.write(Data("same\n".utf8), to: path, mode: 0o600) == .written)
    }

    @Test func aRefusedChangeLeavesTheSameInodeAndItsRestoreDoesNothing() async throws {
        let folder = try Folder()
        let path = folder.file("app.conf")
        try Data("good\n".utf8).write(to: URL(fileURLWithPath: path))
        let before = try #require(Self.inode(path))
        let snapshot = try FileChanger.snapshot(path)
        let outcome = try await FileChanger.write(Data("bad\n".utf8), to: path, mode: nil) { _ in
            CommandResult(termination: .exited(1), output: "refused", duration: .zero)
        }
        guard case .rejected = outcome else { Issue.record("expected a rejection, got \(outcome)"); return }
        #expect(try FileChanger.restore(snapshot) == .alreadyAsBefore)
        let after = try #require(Self.inode(path))
        #expect(after.ino == before.ino && after.mtime == before.mtime)
        #expect(folder.entries == ["app.conf"])
    }

    @Test func aSymbolicLinkIsRefusedUnlessFollowedAndThenKept() async throws {
        // Given app.conf -> real/app.conf
        let folder = try Folder()
        try FileManager.default.createDirectory(atPath: folder.file("real"), withIntermediateDirectories: true)
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: folder.file("real/app.conf")))
        try FileManager.default.createSymbolicLink(atPath: folder.file("app.conf"), withDestinationPath: "real/app.conf")

        // Then without `follow` it is refused, naming the link and its target
        #expect(throws: FileChangeError.symbolicLink(folder.file("app.conf"), target: "real/app.conf")) {
            try FileChanger.snapshot(folder.file("app.conf"))
        }
        // And with `follow` the file it points to changes, the link stays, and the restore puts it back
        let snapshot = try FileChanger.snapshot(folder.file("app.conf"), follow: true)
        #expect(snapshot.path.hasSuffix("/real/app.conf"))
        #expect(try await FileChanger.write(Data("new\n".utf8), to: snapshot.path, mode: nil, previous: snapshot) == .written)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.file("app.conf")) == "real/app.conf")
        #expect(try String(contentsOfFile: folder.file("app.conf"), encoding: .utf8) == "new\n")
        try FileChanger.restore(snapshot)
        #expect(try String(contentsOfFile: folder.file("real/app.conf"), encoding: .utf8) == "old\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.file("app.conf")) == "real/app.conf")
    }

    @Test func aDirectoryOrAFIFOAtThePathIsRefused() async throws {
        let folder = try Folder()
        try FileManager.default.createDirectory(atPath: folder.file("conf.d"), withIntermediateDirectories: true)
        mkfifo(folder.file("pipe"), 0o644)
        #expect(throws: FileChangeError.notRegularFile(folder.file("conf.d"), kind: "directory")) {
            try FileChanger.snapshot(folder.file("conf.d"))
        }
        // A FIFO is never opened (that would hang until a writer came)
        #expect(throws: FileChangeError.notRegularFile(folder.file("pipe"), kind: "FIFO (named pipe)")) {
            try FileChanger.snapshot(folder.file("pipe"))
        }
    }

    @Test func aTemporaryFileSwappedForALinkFailsTheWriteAndNothingIsFollowed() async throws {
        // Given a victim file elsewhere and a racer that, during validate, renames a link to the
        // victim over Sluice's temporary file
        let folder = try Folder()
        let victimFolder = try Folder()
        let victim = victimFolder.file("shadow")
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: victim))
        chmod(victim, 0o600)
        let path = folder.file("app.conf")
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o666)

        // When the write goes on after the swap
        await #expect(throws: FileChangeError.swapped(path)) {
            _ = try await FileChanger.write(Data("new\n".utf8), to: path, mode: nil) { temporary in
                let link = folder.file("planted")
                symlink(victim, link)
                rename(link, temporary)
                return CommandResult(termination: .exited(0), output: "", duration: .zero)
            }
        }

        // Then the victim is untouched: content, mode
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "secret\n")
        #expect(Self.mode(victim) == 0o600)
    }
}
