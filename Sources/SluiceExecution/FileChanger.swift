import Foundation
import SluiceCore

/// A file's state before a change: its exact bytes and mode, or that it did not exist.
public struct FileSnapshot: Sendable, Equatable, Codable {
    public var path: String
    public var existed: Bool
    public var content: Data?
    /// Permission bits, e.g. 0o644.
    public var mode: UInt32?

    public init(path: String, existed: Bool, content: Data?, mode: UInt32?) {
        self.path = path
        self.existed = existed
        self.content = content
        self.mode = mode
    }
}

/// Why a file could not be changed or restored.
public enum FileChangeError: Error, Equatable, CustomStringConvertible {
    case folderMissing(String)
    case unreadable(String, reason: String)
    case unwritable(String, reason: String)

    public var description: String {
        switch self {
        case .folderMissing(let folder): "the folder \(folder) does not exist; create it in an earlier step"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason); check the folder's permissions"
        }
    }
}

/// What happened when new content was offered for a file.
public enum FileWriteOutcome: Sendable, Equatable {
    /// The new content replaced the old (or created the file).
    case written
    /// `validate` refused the new content; the file was not touched.
    case rejected(CommandResult)
}

/// Writes configuration files atomically and restores them exactly.
///
/// New content goes to a temporary file in the same folder, is flushed to disk, checked by
/// `validate` there, and only then renamed over the old file, so a reader sees either the old
/// file or the new one, never a mix, and a crash leaves no half-written file. The folder is
/// flushed after the rename so that the rename itself survives a crash. Owner and group of a
/// replaced file are kept where the process may set them.
public enum FileChanger {
    /// The file's current bytes and mode, or that it does not exist.
    public static func snapshot(_ path: String) throws -> FileSnapshot {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { return FileSnapshot(path: path, existed: false, content: nil, mode: nil) }
            throw FileChangeError.unreadable(path, reason: String(cString: strerror(errno)))
        }
        guard let content = FileManager.default.contents(atPath: path) else {
            throw FileChangeError.unreadable(path, reason: "permission denied")
        }
        return FileSnapshot(path: path, existed: true, content: content, mode: UInt32(status.st_mode) & 0o7777)
    }

    /// Offers `content` for `path`: writes it to a temporary file beside `path`, runs `validate`
    /// on that file (when given), and replaces `path` only if it passed.
    ///
    /// - Parameters:
    ///   - mode: the new file's mode; nil keeps an existing file's mode (0644 for a new file).
    ///   - temporary: the temporary file to write, in `path`'s folder (so that the rename into
    ///     place is atomic); nil picks a fresh name. A leftover file at that path is replaced.
    public static func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String? = nil,
        validate: ((String) async -> CommandResult)? = nil
    ) async throws -> FileWriteOutcome {
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileChangeError.folderMissing(folder)
        }
        let previous = try snapshot(path)
        var owner = stat()
        let hasOwner = previous.existed && stat(path, &owner) == 0
        let temporary = try writeTemporary(content, beside: path, at: temporary, mode: mode ?? previous.mode ?? 0o644)
        if hasOwner { _ = chown(temporary, owner.st_uid, owner.st_gid) }
        if let validate {
            let result = await validate(temporary)
            guard result.succeeded else {
                unlink(temporary)
                return .rejected(result)
            }
        }
        try replace(path, with: temporary, folder: folder)
        return .written
    }

    /// Puts `snapshot` back: the exact old bytes and mode, or no file when there was none.
    public static func restore(_ snapshot: FileSnapshot) throws {
        let folder = (snapshot.path as NSString).deletingLastPathComponent.isEmpty ? "." : (snapshot.path as NSString).deletingLastPathComponent
        guard snapshot.existed, let content = snapshot.content else {
            if unlink(snapshot.path) != 0, errno != ENOENT {
                throw FileChangeError.unwritable(snapshot.path, reason: String(cString: strerror(errno)))
            }
            syncFolder(folder)
            return
        }
        let temporary = try writeTemporary(content, beside: snapshot.path, mode: snapshot.mode ?? 0o644)
        try replace(snapshot.path, with: temporary, folder: folder)
    }

    private static func writeTemporary(_ content: Data, beside path: String, at chosen: String? = nil, mode: UInt32) throws -> String {
        let name = (path as NSString).lastPathComponent
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = chosen ?? (folder.isEmpty ? "" : folder + "/") + ".\(name).sluice-\(UInt32.random(in: 0...UInt32.max))"
        if chosen != nil { unlink(temporary) }  // left by a run that died at this step
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o600))
        guard fd >= 0 else { throw FileChangeError.unwritable(temporary, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var failure: String?
        content.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { failure = String(cString: strerror(errno)); return }
                offset += written
            }
        }
        // fchmod, not the umask-filtered open mode: the runbook's mode is what the file gets.
        if failure == nil, fchmod(fd, mode_t(mode)) != 0 { failure = String(cString: strerror(errno)) }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw FileChangeError.unwritable(path, reason: failure)
        }
        return temporary
    }

    private static func replace(_ path: String, with temporary: String, folder: String) throws {
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileChangeError.unwritable(path, reason: reason)
        }
        syncFolder(folder)
    }

    private static func syncFolder(_ folder: String) {
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
