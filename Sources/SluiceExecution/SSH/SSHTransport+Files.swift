import Foundation
import SluiceCore

/// Files on the host, with ``FileChanger``'s guarantees where a POSIX shell allows them.
///
/// Kept: a link is refused unless followed, a non-regular file is refused (the same
/// ``FileChangeError`` cases); new content is staged in a temporary file in the same folder,
/// created exclusively and never through a link, owner, group and mode set before any byte is
/// written, flushed (`sync FILE`), its size and SHA-256 checked on the host, then renamed into
/// place with one `rename(2)` (`mv -T`) and the name checked to be the very file staged
/// (device and inode), as locally; unchanged content writes nothing; content `validate`
/// refuses leaves the file untouched; a restore puts back the exact bytes, mode, owner and
/// group, or removes the file. Content travels as raw bytes on the session's standard input
/// and back on its standard output: binary-safe.
///
/// Not kept, because a shell has no descriptor-relative calls: the folder is not held open,
/// so every step names the file by path; owner and mode are set by name (checked against the
/// created file's inode right before, but a user who can write the folder could swap the name
/// for a link in between, and `chmod` would follow it); a read checks the size it was told,
/// not that the bytes came from the file it checked. A staged file whose run was killed stays
/// (hidden, `.NAME.sluice-*`) until a later write of that file with the same name removes it.
extension SSHTransport {
    /// The file's bytes, mode, owner and group on the host, or that it does not exist; see
    /// ``FileChanger/snapshot(_:follow:)`` for `follow` and what is refused.
    public func snapshot(_ path: String, follow: Bool) async throws -> FileSnapshot {
        let answer = try await connections.runScript(
            RemoteScripts.snapshot, arguments: [path, follow ? "follow" : "nofollow"], on: destination, as: destination.become,
            what: "reading \(path)")
        var lines = AnswerLines(answer.output)
        var resolved = path
        var line = lines.next()
        if let followed = line, followed.hasPrefix("followed ") {
            resolved = String(followed.dropFirst("followed ".count))
            line = lines.next()
        }
        guard let line else { throw SSHError.remoteFailure(host: location, what: "reading \(path)", reason: answer.problem) }
        if line == "missing" { return FileSnapshot(path: resolved, existed: false, content: nil, mode: nil) }
        if line.hasPrefix("link ") {
            let target = String(line.dropFirst("link ".count))
            guard follow else { throw FileChangeError.symbolicLink(path, target: target) }
            // A dangling link: the file it names does not exist yet.
            let absolute = target.hasPrefix("/") ? target : Self.folder(of: path) + "/" + target
            return try await snapshot(absolute, follow: false)
        }
        if line.hasPrefix("ok ") {
            let fields = line.dropFirst(3).split(separator: " ")
            guard fields.count == 4, let mode = UInt32(fields[0], radix: 8), let owner = UInt32(fields[1]), let group = UInt32(fields[2]),
                let size = Int(fields[3])
            else { throw SSHError.remoteFailure(host: location, what: "reading \(path)", reason: "unexpected answer `\(line)`") }
            let content = lines.rest
            guard content.count == size else {
                throw FileChangeError.unreadable(resolved, reason: "it changed while it was read (\(content.count) of \(size) bytes); run again")
            }
            return FileSnapshot(path: resolved, existed: true, content: content, mode: mode, owner: owner, group: group)
        }
        throw error(fromAnswer: line, path: resolved, what: "reading \(path)")
    }

    /// Offers `content` for `path` on the host: staged beside it, checked by `validate`,
    /// renamed into place; see ``FileChanger/write(_:to:mode:temporary:previous:validate:)``.
    public func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String?, previous: FileSnapshot?,
        validate: (@Sendable (String) async -> CommandResult)?
    ) async throws -> FileWriteOutcome {
        let old: FileSnapshot
        if let previous {
            old = previous
        } else {
            old = try await snapshot(path, follow: false)
        }
        if old.existed, old.content == content, mode == nil || mode == old.mode { return .unchanged }
        let name = temporary.map { ($0 as NSString).lastPathComponent } ?? Self.temporaryName(for: path)
        let staged = try await stage(
            content, in: Self.folder(of: path), as: name, replacing: temporary != nil, mode: mode ?? old.mode ?? 0o644,
            owner: old.existed ? old.owner : nil, group: old.existed ? old.group : nil, target: path)
        if let validate {
            let result = await validate(staged.path)
            guard result.succeeded else {
                await discard(staged)
                return .rejected(result)
            }
        }
        try await commit(staged, to: path)
        return .written
    }

    /// Puts `snapshot` back on the host exactly (bytes, mode, owner, group, or no file); a
    /// file already exactly so is left alone.
    public func restore(_ snapshot: FileSnapshot) async throws -> FileRestoreOutcome {
        guard snapshot.existed, let content = snapshot.content else {
            let answer = try await connections.runScript(
                RemoteScripts.remove, arguments: [snapshot.path], on: destination, as: destination.become, what: "removing \(snapshot.path)")
            switch answer.firstLine {
            case "ok removed": return .removed
            case "ok absent": return .alreadyAsBefore
            default: throw error(fromAnswer: answer.firstLine ?? "", path: snapshot.path, what: "removing \(snapshot.path)")
            }
        }
        if let current = try? await self.snapshot(snapshot.path, follow: false), current.existed, current.content == content,
            current.mode == snapshot.mode, snapshot.owner.map({ $0 == current.owner }) ?? true, snapshot.group.map({ $0 == current.group }) ?? true
        {
            return .alreadyAsBefore
        }
        let staged = try await stage(
            content, in: Self.folder(of: snapshot.path), as: Self.temporaryName(for: snapshot.path), replacing: false,
            mode: snapshot.mode ?? 0o644, owner: snapshot.owner, group: snapshot.group, target: snapshot.path)
        try await commit(staged, to: snapshot.path)
        return .restored
    }

    /// Stages `content` as `name` beside `path` on the host (mode 0600, owned as the existing
    /// file is), runs `body` while it exists, and removes it.
    public func validating<Checked: Sendable>(
        _ content: Data, beside path: String, as name: String, _ body: @Sendable () async -> Checked
    ) async throws -> Checked {
        let existing = try? await snapshot(path, follow: false)
        let owned = existing?.existed == true
        let staged = try await stage(
            content, in: Self.folder(of: path), as: (name as NSString).lastPathComponent, replacing: true, mode: 0o600,
            owner: owned ? existing?.owner : nil, group: owned ? existing?.group : nil, target: path)
        let checked = await body()
        await discard(staged)
        return checked
    }

    /// A file staged on the host: its path and its device and inode.
    struct StagedRemoteFile {
        let path: String
        let identity: String
    }

    /// Writes `content` to a new file `name` in `folder` on the host (``RemoteScripts/stage``),
    /// checked there against `digest` (the content's own SHA-256 unless given).
    func stage(
        _ content: Data, in folder: String, as name: String, replacing: Bool, mode: UInt32, owner: UInt32?, group: UInt32?,
        target: String, digest: String? = nil
    ) async throws -> StagedRemoteFile {
        let expected = digest ?? ContentDigest.sha256(content)
        let answer = try await connections.runScript(
            RemoteScripts.stage,
            arguments: [
                folder, name, String(mode, radix: 8), owner.map(String.init) ?? "", group.map(String.init) ?? "", String(content.count),
                expected, replacing ? "replace" : "new",
            ],
            input: content, on: destination, as: destination.become, what: "writing beside \(target)")
        guard let line = answer.firstLine, line.hasPrefix("ok ") else {
            if let failure = answer.failure, failure.kind == "digest" {
                throw SSHError.scriptMismatch(host: location, path: folder + "/" + name, expected: expected, actual: failure.reason)
            }
            throw error(fromAnswer: answer.firstLine ?? "", path: target, what: "writing beside \(target)", problem: answer.problem)
        }
        return StagedRemoteFile(path: folder + "/" + name, identity: String(line.dropFirst(3)))
    }

    /// Renames `staged` over `target` on the host (``RemoteScripts/commit``).
    func commit(_ staged: StagedRemoteFile, to target: String) async throws {
        let answer: RemoteScriptResult
        do {
            answer = try await connections.runScript(
                RemoteScripts.commit, arguments: [staged.path, target, staged.identity], on: destination, as: destination.become,
                what: "replacing \(target)")
        } catch {
            await discard(staged)
            throw error
        }
        guard answer.firstLine == "ok" else {
            throw error(fromAnswer: answer.firstLine ?? "", path: target, what: "replacing \(target)", problem: answer.problem)
        }
    }

    /// Removes `staged` if its name still refers to the file staged; a failure is ignored (the
    /// hidden file is removed by the next write that names it).
    func discard(_ staged: StagedRemoteFile) async {
        _ = try? await connections.runScript(
            RemoteScripts.discard, arguments: [staged.path, staged.identity], on: destination, as: destination.become,
            what: "removing \(staged.path)")
    }

    /// The ``FileChangeError`` (or ``SSHError``) an `err KIND REASON` answer stands for.
    func error(fromAnswer line: String, path: String, what: String, problem: String? = nil) -> any Error {
        guard line.hasPrefix("err ") else {
            return SSHError.remoteFailure(host: location, what: what, reason: problem ?? (line.isEmpty ? "no answer" : line))
        }
        let rest = line.dropFirst(4)
        let kind = rest.prefix { $0 != " " }
        let reason = String(rest.dropFirst(kind.count).drop { $0 == " " })
        switch kind {
        case "folderMissing": return FileChangeError.folderMissing(reason)
        case "unreadable": return FileChangeError.unreadable(path, reason: reason)
        case "unwritable": return FileChangeError.unwritable(path, reason: reason)
        case "notRegularFile": return FileChangeError.notRegularFile(path, kind: reason)
        case "swapped": return FileChangeError.swapped(path)
        default: return SSHError.remoteFailure(host: location, what: what, reason: reason)
        }
    }

    static func folder(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    static func temporaryName(for path: String) -> String {
        ".\((path as NSString).lastPathComponent).sluice-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }
}

/// The lines of an answer, then the bytes after them.
struct AnswerLines {
    private var data: Data

    init(_ data: Data) { self.data = data }

    /// The next line, without its newline; nil when no complete line is left.
    mutating func next() -> String? {
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = String(decoding: data[data.startIndex..<newline], as: UTF8.self)
        data = data[data.index(after: newline)...]
        return line
    }

    /// What follows the lines read.
    var rest: Data { Data(data) }
}
