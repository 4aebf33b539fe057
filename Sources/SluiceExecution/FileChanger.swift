import Foundation
import SluiceCore
import Synchronization

/// A file's state before a change: its exact bytes, mode, owner and group, or that it did not
/// exist.
public struct FileSnapshot: Sendable, Equatable, Codable {
    /// The regular file's path (for a followed link, the file the link points to).
    public var path: String
    /// Whether a file was at the path; false: the snapshot stands for "no file".
    public var existed: Bool
    /// The file's exact bytes; nil when it did not exist.
    public var content: Data?
    /// Permission bits, e.g. 0o644.
    public var mode: UInt32?
    /// The owner's user id.
    public var owner: UInt32?
    /// The group id.
    public var group: UInt32?

    /// A snapshot of `path` as it was.
    public init(path: String, existed: Bool, content: Data?, mode: UInt32?, owner: UInt32? = nil, group: UInt32? = nil) {
        self.path = path
        self.existed = existed
        self.content = content
        self.mode = mode
        self.owner = owner
        self.group = group
    }
}

/// Why a file could not be changed or restored.
public enum FileChangeError: Error, Equatable, CustomStringConvertible {
    case folderMissing(String)
    case unreadable(String, reason: String)
    case unwritable(String, reason: String)
    /// The path is a symbolic link and the step does not say `follow: true`.
    case symbolicLink(String, target: String)
    /// The path is a directory, FIFO, socket or device: a file step writes regular files only.
    case notRegularFile(String, kind: String)
    /// A name Sluice had just written was replaced by something else before it could be checked
    /// (another user who can write the folder): nothing was followed, the step fails.
    case swapped(String)

    /// The reason in words, with what to do.
    public var description: String {
        switch self {
        case .folderMissing(let folder): "the folder \(folder) does not exist; create it in an earlier step"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason); check the folder's permissions"
        case .symbolicLink(let path, let target):
            "\(path) is a symbolic link to \(target); a file step never replaces a link with a file: set `follow: true` on the step to change the file it points to (the link is kept), or point `path` at \(target)"
        case .notRegularFile(let path, let kind):
            "\(path) is a \(kind), not a regular file; a file step writes regular files only: point `path` at a file"
        case .swapped(let path):
            "\(path) was replaced by someone else while Sluice wrote it (a user who can write its folder); nothing was followed: check who writes that folder, then run again"
        }
    }
}

/// What happened when new content was offered for a file.
public enum FileWriteOutcome: Sendable, Equatable {
    /// The new content replaced the old (or created the file).
    case written
    /// The file already held exactly the new content and mode: nothing was written.
    case unchanged
    /// `validate` refused the new content; the file was not touched.
    case rejected(CommandResult)
}

/// What putting a snapshot back did.
public enum FileRestoreOutcome: Sendable, Equatable {
    /// The previous content, mode, owner and group were written back.
    case restored
    /// The file did not exist before, and was removed.
    case removed
    /// The file was already exactly as in the snapshot: nothing was changed.
    case alreadyAsBefore
}

/// Writes configuration files atomically and race-free, and restores them exactly.
///
/// Sluice runs as root in folders that other users own, so it never acts on a path that can be
/// swapped: the folder is opened once, and everything after happens relative to that
/// descriptor. New content goes to a temporary file created there with `O_EXCL|O_NOFOLLOW`
/// (mode 0600), whose owner, group and mode are set on the open descriptor before any byte is
/// written; it is flushed, checked by `validate`, renamed into place with `renameat`, and the
/// name is then checked to refer to the very inode written. A reader sees the old file or the new
/// one, never a mix; a crash leaves no half-written file; a racer who renames a link over the
/// temporary name gets nothing chowned or written through it, and the step fails.
public enum FileChanger {
    /// The file's current bytes, mode, owner and group, or that it does not exist.
    ///
    /// - Parameter follow: when `path` is a symbolic link, snapshot the file it points to
    ///   (the snapshot's `path` is then that file); otherwise a link is refused.
    /// - Throws: ``FileChangeError/symbolicLink(_:target:)`` for a link not followed,
    ///   ``FileChangeError/notRegularFile(_:kind:)`` for a directory, FIFO, socket or device.
    public static func snapshot(_ path: String, follow: Bool = false) throws -> FileSnapshot {
        let folder = try Folder(containing: path)
        defer { folder.close() }
        guard let status = try folder.status(of: folder.name) else {
            return FileSnapshot(path: path, existed: false, content: nil, mode: nil)
        }
        if Kind(status) == .symbolicLink {
            guard follow else { throw FileChangeError.symbolicLink(path, target: linkTarget(path)) }
            guard let resolved = realpath(path, nil) else {
                // A dangling link: the file it names does not exist yet.
                let target = linkTarget(path)
                let absolute = target.hasPrefix("/") ? target : (folder.path as NSString).appendingPathComponent(target)
                return try snapshot(absolute, follow: false)
            }
            defer { free(resolved) }
            return try snapshot(String(cString: resolved), follow: false)
        }
        try Kind(status).requireRegular(path)
        let fd = openat(folder.fd, folder.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileChangeError.unreadable(path, reason: errnoText()) }
        defer { Glibc.close(fd) }
        var opened = stat()
        guard fstat(fd, &opened) == 0 else { throw FileChangeError.unreadable(path, reason: errnoText()) }
        try Kind(opened).requireRegular(path)
        let content = try readAll(fd, path: path)
        return FileSnapshot(
            path: path, existed: true, content: content, mode: UInt32(opened.st_mode) & 0o7777,
            owner: UInt32(opened.st_uid), group: UInt32(opened.st_gid))
    }

    /// Offers `content` for `path`: writes it to a temporary file beside `path`, runs `validate`
    /// on that file (when given), and replaces `path` only if it passed.
    ///
    /// When the file already holds exactly `content` (and `mode`, when given), nothing is
    /// written and `validate` does not run: the answer is ``FileWriteOutcome/unchanged``.
    /// A replaced file keeps its owner and group, and its mode unless `mode` is given.
    ///
    /// - Parameters:
    ///   - mode: the new file's mode; nil keeps an existing file's mode (0644 for a new file).
    ///   - temporary: the temporary file's name, in `path`'s folder (so that the rename into
    ///     place is atomic); nil picks a fresh one. A leftover entry with that name is removed
    ///     first (never followed).
    ///   - previous: the file's snapshot when the caller already took it.
    public static func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String? = nil, previous: FileSnapshot? = nil,
        validate: ((String) async -> CommandResult)? = nil
    ) async throws -> FileWriteOutcome {
        let previous = try previous ?? snapshot(path)
        if previous.existed, previous.content == content, mode == nil || mode == previous.mode {
            return .unchanged
        }
        let folder = try Folder(containing: path)
        defer { folder.close() }
        let staged = try folder.stage(
            content, beside: path, as: temporary.map { ($0 as NSString).lastPathComponent },
            mode: mode ?? previous.mode ?? 0o644, owner: previous.existed ? previous.owner : nil,
            group: previous.existed ? previous.group : nil)
        defer { staged.close() }
        if let validate {
            let result = await validate(staged.path)
            guard result.succeeded else {
                staged.discard()
                return .rejected(result)
            }
        }
        try staged.commit()
        return .written
    }

    /// Puts `snapshot` back: the exact old bytes, mode, owner and group, or no file when there
    /// was none. A file already exactly as in the snapshot is left alone, so that a change that
    /// never happened (refused by `validate`, or unchanged) is not undone and nothing reloads.
    @discardableResult
    public static func restore(_ snapshot: FileSnapshot) throws -> FileRestoreOutcome {
        let folder = try Folder(containing: snapshot.path)
        defer { folder.close() }
        let current = try folder.status(of: folder.name)
        guard snapshot.existed, let content = snapshot.content else {
            guard current != nil else { return .alreadyAsBefore }
            guard unlinkat(folder.fd, folder.name, 0) == 0 || errno == ENOENT else {
                throw FileChangeError.unwritable(snapshot.path, reason: errnoText())
            }
            fsync(folder.fd)
            return .removed
        }
        if let current, Kind(current) == .regular,
            UInt32(current.st_mode) & 0o7777 == snapshot.mode, snapshot.owner.map({ $0 == current.st_uid }) ?? true,
            snapshot.group.map({ $0 == current.st_gid }) ?? true,
            (try? Self.snapshot(snapshot.path))?.content == content
        {
            return .alreadyAsBefore
        }
        let staged = try folder.stage(
            content, beside: snapshot.path, as: nil, mode: snapshot.mode ?? 0o644, owner: snapshot.owner, group: snapshot.group)
        defer { staged.close() }
        try staged.commit()
        return .restored
    }

    /// Creates a private temporary file beside `path` holding `content` (mode 0600, owned as
    /// the existing file is), for a dry run's `validate`; the caller removes it with
    /// ``StagedFile/discard()``.
    public static func stageForValidation(_ content: Data, beside path: String, as name: String) throws -> StagedFile {
        let existing = try? snapshot(path)
        let folder = try Folder(containing: path)
        defer { folder.close() }
        let staged = try folder.stage(
            content, beside: path, as: (name as NSString).lastPathComponent, mode: 0o600,
            owner: existing?.existed == true ? existing?.owner : nil, group: existing?.existed == true ? existing?.group : nil)
        StagedFile.live.withLock { $0[ObjectIdentifier(staged)] = staged }
        return staged
    }

    /// Removes every dry-run temporary file still in place: for a `plan` interrupted by a signal.
    public static func discardStagedFiles() {
        for staged in StagedFile.live.withLock({ Array($0.values) }) { staged.discard() }
    }

    static func linkTarget(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return "(unreadable: \(errnoText()))" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    private static func readAll(_ fd: Int32, path: String) throws -> Data {
        var content = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw FileChangeError.unreadable(path, reason: errnoText()) }
            if count == 0 { return content }
            content.append(contentsOf: buffer[0..<count])
        }
    }

    /// What kind of thing a name is.
    enum Kind: Equatable {
        case regular, symbolicLink, directory, fifo, socket, device

        init(_ status: stat) {
            switch status.st_mode & S_IFMT {
            case S_IFREG: self = .regular
            case S_IFLNK: self = .symbolicLink
            case S_IFDIR: self = .directory
            case S_IFIFO: self = .fifo
            case S_IFSOCK: self = .socket
            default: self = .device
            }
        }

        func requireRegular(_ path: String) throws {
            switch self {
            case .regular: return
            case .symbolicLink: throw FileChangeError.symbolicLink(path, target: FileChanger.linkTarget(path))
            case .directory: throw FileChangeError.notRegularFile(path, kind: "directory")
            case .fifo: throw FileChangeError.notRegularFile(path, kind: "FIFO (named pipe)")
            case .socket: throw FileChangeError.notRegularFile(path, kind: "socket")
            case .device: throw FileChangeError.notRegularFile(path, kind: "device")
            }
        }
    }

    /// A file's folder, opened once: every later operation is relative to this descriptor.
    struct Folder {
        let fd: Int32
        let path: String
        let name: String

        init(containing file: String) throws {
            let parent = (file as NSString).deletingLastPathComponent
            path = parent.isEmpty ? "." : parent
            name = (file as NSString).lastPathComponent
            fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { throw FileChangeError.folderMissing(path) }
                throw FileChangeError.unreadable(path, reason: FileChanger.errnoText())
            }
        }

        func close() { Glibc.close(fd) }

        /// The status of `entry` without following a link, or nil when there is none.
        func status(of entry: String) throws -> stat? {
            var status = stat()
            guard fstatat(fd, entry, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { return nil }
                throw FileChangeError.unreadable(path + "/" + entry, reason: FileChanger.errnoText())
            }
            return status
        }

        /// Writes `content` to a new temporary file beside `target`, owner, group and mode set
        /// on the descriptor before the first byte, flushed to disk.
        func stage(_ content: Data, beside target: String, as chosen: String?, mode: UInt32, owner: UInt32?, group: UInt32?) throws -> StagedFile {
            let temporary = chosen ?? ".\(name).sluice-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            // A leftover of a run that died at this step: removed, never followed.
            if chosen != nil, unlinkat(fd, temporary, 0) != 0, errno != ENOENT {
                throw FileChangeError.unwritable(path + "/" + temporary, reason: FileChanger.errnoText())
            }
            let file = openat(fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(0o600))
            guard file >= 0 else { throw FileChangeError.unwritable(path + "/" + temporary, reason: FileChanger.errnoText()) }
            let dup = Glibc.dup(fd)
            let staged = StagedFile(folder: dup, file: file, folderPath: path, name: temporary, target: name)
            do {
                // fchown before fchmod (chown clears set-id bits), both before any content.
                if owner != nil || group != nil,
                    fchown(file, owner.map { uid_t($0) } ?? uid_t.max, group.map { gid_t($0) } ?? gid_t.max) != 0
                {
                    throw FileChangeError.unwritable(target, reason: "cannot set its owner and group: \(FileChanger.errnoText())")
                }
                // fchmod, not the umask-filtered open mode: the runbook's mode is what the file gets.
                guard fchmod(file, mode_t(mode)) == 0 else { throw FileChangeError.unwritable(target, reason: FileChanger.errnoText()) }
                try staged.writeAll(content)
                guard fsync(file) == 0 else { throw FileChangeError.unwritable(target, reason: FileChanger.errnoText()) }
            } catch {
                staged.discard()
                staged.close()
                throw error
            }
            return staged
        }
    }

    /// A temporary file Sluice created and still holds open, in a folder it holds open.
    public final class StagedFile: @unchecked Sendable {
        let folder: Int32
        let file: Int32
        let folderPath: String
        let name: String
        let target: String
        private var closed = false

        init(folder: Int32, file: Int32, folderPath: String, name: String, target: String) {
            self.folder = folder
            self.file = file
            self.folderPath = folderPath
            self.name = name
            self.target = target
        }

        /// The temporary file's path, for `validate`'s `{{ file }}`.
        public var path: String { folderPath == "." ? name : folderPath + "/" + name }

        func writeAll(_ content: Data) throws {
            var failure: String?
            content.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(file, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { failure = FileChanger.errnoText(); return }
                    offset += written
                }
            }
            if let failure { throw FileChangeError.unwritable(target, reason: failure) }
        }

        /// Whether `entry` in the folder is the very file written (same device and inode).
        func isOurs(_ entry: String) -> Bool {
            var mine = stat(), there = stat()
            return fstat(file, &mine) == 0 && fstatat(folder, entry, &there, AT_SYMLINK_NOFOLLOW) == 0
                && mine.st_dev == there.st_dev && mine.st_ino == there.st_ino
        }

        /// Renames the temporary file over the target, flushes the folder, and checks that the
        /// target's name now refers to the file written.
        func commit() throws {
            let full = folderPath + "/" + target
            guard isOurs(name) else { throw FileChangeError.swapped(full) }
            guard renameat(folder, name, folder, target) == 0 else {
                let reason = FileChanger.errnoText()
                discard()
                throw FileChangeError.unwritable(full, reason: reason)
            }
            fsync(folder)
            guard isOurs(target) else { throw FileChangeError.swapped(full) }
        }

        /// Dry-run temporary files not yet discarded, for ``FileChanger/discardStagedFiles()``.
        static let live = Mutex<[ObjectIdentifier: StagedFile]>([:])

        /// Removes the temporary file, if its name still refers to the file written.
        public func discard() {
            if isOurs(name) { unlinkat(folder, name, 0) }
            Self.live.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(self)) }
        }

        /// Closes the descriptors. Safe to call twice.
        public func close() {
            guard !closed else { return }
            closed = true
            Glibc.close(file)
            Glibc.close(folder)
        }

        deinit { close() }
    }
}
