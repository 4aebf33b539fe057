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
}
