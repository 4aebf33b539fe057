import Foundation
import SluiceCore
import SluiceExecution

/// The files of a ``RecordingTransport``: what a test puts there, looks at and makes fail, and
/// the file operations of ``TargetTransport``, with ``FileChanger``'s contract.
extension RecordingTransport {

    /// Puts a file in place, as if it had always been there.
    public func place(_ path: String, _ content: String, mode: UInt32 = 0o644, owner: UInt32? = nil, group: UInt32? = nil) {
        let file = File(content: Data(content.utf8), mode: mode, owner: owner ?? user.owner, group: group ?? user.group)
        state.withLock { $0.files[path] = file }
    }

    /// Makes `path` a symbolic link to `target` (absolute, or relative to the link's folder).
    public func link(_ path: String, to target: String) {
        state.withLock { $0.links[path] = target }
    }

    /// The file at `path` now, or nil.
    public func file(_ path: String) -> File? { state.withLock { $0.files[path] } }

    /// Every file's path, sorted: to see that nothing staged was left behind.
    public var paths: [String] { state.withLock { $0.files.keys.sorted() } }

    /// Makes the next `times` calls of `operation` on `path` throw `error` before they change
    /// anything.
    public func fail(_ operation: FileOperation, at path: String, with error: any Error & Sendable, times: Int = 1) {
        state.withLock { $0.failures[FailureKey(operation: operation, path: path), default: []] += Array(repeating: error, count: times) }
    }

    // MARK: TargetTransport's files

    public func snapshot(_ path: String, follow: Bool) async throws -> FileSnapshot {
        try state.withLock { state in
            state.calls.append(.snapshot(path, follow: follow))
            try Self.takeFailure(.snapshot, path, &state)
            return try Self.snapshot(path, follow: follow, in: state)
        }
    }

    public func write(
        _ content: Data, to path: String, mode: UInt32?, temporary: String?, previous: FileSnapshot?,
        validate: (@Sendable (String) async -> CommandResult)?
    ) async throws -> FileWriteOutcome {
        // Staged as FileChanger stages: beside the file, mode 0600 until it is committed.
        let (previous, staged) = try state.withLock { state -> (FileSnapshot, String) in
            try Self.takeFailure(.write, path, &state)
            let previous = try previous ?? Self.snapshot(path, follow: false, in: state)
            let name = temporary.map { ($0 as NSString).lastPathComponent } ?? ".\((path as NSString).lastPathComponent).sluice-\(state.nextStaged)"
            state.nextStaged += 1
            return (previous, Self.beside(path, name))
        }
        func finish(_ outcome: FileWriteOutcome) -> FileWriteOutcome {
            state.withLock { $0.calls.append(.write(Written(path: path, content: content, mode: mode, staged: staged, outcome: outcome))) }
            return outcome
        }
        if previous.existed, previous.content == content, mode == nil || mode == previous.mode {
            return finish(.unchanged)
        }
        let owner = previous.existed ? previous.owner ?? user.owner : user.owner
        let group = previous.existed ? previous.group ?? user.group : user.group
        let final = File(content: content, mode: mode ?? previous.mode ?? 0o644, owner: owner, group: group)
        state.withLock { $0.files[staged] = File(content: content, mode: 0o600, owner: owner, group: group) }
        if let validate {
            let result = await validate(staged)
            guard result.succeeded else {
                state.withLock { _ = $0.files.removeValue(forKey: staged) }
                return finish(.rejected(result))
            }
        }
        state.withLock { state in
            state.files.removeValue(forKey: staged)
            state.files[path] = final
        }
        return finish(.written)
    }

    public func restore(_ snapshot: FileSnapshot) async throws -> FileRestoreOutcome {
        try state.withLock { state in
            try Self.takeFailure(.restore, snapshot.path, &state)
            let outcome: FileRestoreOutcome
            let current = state.files[snapshot.path]
            if !snapshot.existed || snapshot.content == nil {
                outcome = current == nil ? .alreadyAsBefore : .removed
                state.files.removeValue(forKey: snapshot.path)
            } else if let current, current.content == snapshot.content, current.mode == snapshot.mode,
                snapshot.owner.map({ $0 == current.owner }) ?? true, snapshot.group.map({ $0 == current.group }) ?? true
            {
                outcome = .alreadyAsBefore
            } else {
                state.files[snapshot.path] = File(
                    content: snapshot.content ?? Data(), mode: snapshot.mode ?? 0o644, owner: snapshot.owner ?? user.owner,
                    group: snapshot.group ?? user.group)
                outcome = .restored
            }
            state.calls.append(.restore(snapshot.path, outcome))
            return outcome
        }
    }

    public func validating<Checked: Sendable>(
        _ content: Data, beside path: String, as name: String, _ body: @Sendable () async -> Checked
    ) async throws -> Checked {
        let staged = Self.beside(path, (name as NSString).lastPathComponent)
        try state.withLock { state in
            try Self.takeFailure(.validating, path, &state)
            let existing = state.files[path]
            state.files[staged] = File(content: content, mode: 0o600, owner: existing?.owner ?? user.owner, group: existing?.group ?? user.group)
            state.calls.append(.validating(path: path, staged: staged, content: content))
        }
        defer { state.withLock { _ = $0.files.removeValue(forKey: staged) } }
        return await body()
    }

    // MARK: Helpers

    static func takeFailure(_ operation: FileOperation, _ path: String, _ state: inout State) throws {
        let key = FailureKey(operation: operation, path: path)
        guard var queued = state.failures[key], !queued.isEmpty else { return }
        let error = queued.removeFirst()
        state.failures[key] = queued.isEmpty ? nil : queued
        state.calls.append(.failed(operation, path))
        throw error
    }

    private static func snapshot(_ path: String, follow: Bool, in state: State) throws -> FileSnapshot {
        if let target = state.links[path] {
            guard follow else { throw FileChangeError.symbolicLink(path, target: target) }
            let resolved = target.hasPrefix("/") ? target : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(target)
            return try snapshot(resolved, follow: false, in: state)
        }
        guard let file = state.files[path] else { return FileSnapshot(path: path, existed: false, content: nil, mode: nil) }
        return FileSnapshot(path: path, existed: true, content: file.content, mode: file.mode, owner: file.owner, group: file.group)
    }

    private static func beside(_ path: String, _ name: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name)
    }
}
