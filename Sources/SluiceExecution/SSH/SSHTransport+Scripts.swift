import Foundation
import SluiceCore

extension SSHTransport {
    /// Copies the local script at `localPath` into the run's folder on the host as `name`
    /// (mode 0700), and checks there, before anything runs it, that its SHA-256 is `sha256`:
    /// the digest that was planned and approved. Returns its path on the host, for the command
    /// to run it by.
    ///
    /// The digest is computed on the host from the bytes that arrived, so a script changed
    /// locally since it was approved, or damaged on the way, is refused alike; the copy is
    /// then removed. Copying again under the same name replaces the earlier copy atomically.
    ///
    /// - Throws: ``SSHError/scriptMismatch(host:path:expected:actual:)`` when the digests
    ///   differ; ``FileChangeError/unreadable(_:reason:)`` for a local file that cannot be
    ///   read; ``SSHError`` when the host cannot be reached or `name` is not a plain file name.
    public func installScript(_ localPath: String, sha256: String, as name: String) async throws -> String {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw SSHError.remoteFailure(host: location, what: "copying \(localPath)", reason: "`\(name)` is not a plain file name")
        }
        guard let content = FileManager.default.contents(atPath: localPath) else {
            throw FileChangeError.unreadable(localPath, reason: "it does not exist or cannot be read")
        }
        let folder = try await runFolder()
        let target = folder + "/" + name
        let staged = try await stage(
            content, in: folder, as: Self.temporaryName(for: target), replacing: false, mode: 0o700, owner: nil, group: nil,
            target: target, digest: sha256.lowercased())
        try await commit(staged, to: target)
        return target
    }
}
