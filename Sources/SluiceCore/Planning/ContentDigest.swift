import Crypto
import Foundation

/// The content an approval or a saved plan covers: the runbook, its inventory, its file sources,
/// its scripts (and the files of its folder an interpreter is given: `sh scripts/x.sh`,
/// `python3 z.py`) and the files its variables are read from, each by
/// SHA-256, and one hash over them all.
///
/// Paths are recorded as the runbook writes them (relative to its folder), so the same content
/// copied elsewhere on disk has the same hash. A secret variable's file is covered by a keyed
/// hash (HMAC-SHA256, keyed by its path), never by its bytes' plain SHA-256, which anyone with
/// a list of common passwords could look up.
public struct ContentDigest: Sendable, Equatable, Codable {
    /// One file the digest covers.
    public struct File: Sendable, Equatable, Codable {
        /// `runbook`, `inventory`, `source`, `script`, `variable` or `secret`.
        public var role: String
        /// The path as the runbook writes it, relative to its folder (for the runbook itself, its
        /// file name).
        public var path: String
        /// Hex SHA-256 of the file's bytes; `missing` when it could not be read.
        public var sha256: String

        /// One covered file with its hash.
        public init(role: String, path: String, sha256: String) {
            self.role = role
            self.path = path
            self.sha256 = sha256
        }
    }

    /// The covered files, sorted by role, then path.
    public var files: [File]
    /// Hex SHA-256 over every file's role, path and hash, in a fixed order.
    public var hash: String

    /// The digest of `files`, sorted; ``hash`` is computed over them.
    public init(files: [File]) {
        self.files = files.sorted { ($0.role, $0.path) < ($1.role, $1.path) }
        let manifest = self.files.map { "\($0.role)\t\($0.path)\t\($0.sha256)\n" }.joined()
        hash = Self.sha256(Data(manifest.utf8))
    }

    /// Reads and hashes every file `runbook` depends on.
    public init(runbook: Runbook) {
        var files: [File] = []
        var seen = Set<String>()
        func add(_ role: String, _ path: String, digest: (Data) -> String = Self.sha256) {
            guard seen.insert(role + "\t" + path).inserted else { return }
            let resolved = PathResolver.resolve(path, in: runbook.directory)
            files.append(File(role: role, path: path, sha256: FileManager.default.contents(atPath: resolved).map(digest) ?? "missing"))
        }
        add("runbook", (runbook.file as NSString).lastPathComponent)
        if let inventory = runbook.inventory { add("inventory", inventory) }
        for step in runbook.steps + runbook.recovery {
            if case .file(let change) = step.action, case .source(let path, _) = change.content { add("source", path) }
        }
        for variable in runbook.vars {
            guard case .file(let path) = variable.source else { continue }
            if variable.secret {
                add("secret", path) { Self.keyedHash($0, path: path) }
            } else {
                add("variable", path)
            }
        }
        let root = URL(fileURLWithPath: runbook.directory).standardizedFileURL.path
        for command in runbook.allCommands {
            if let script = command.script { add("script", script) }
            // What an interpreter runs is as much the change as a script: each of its arguments
            // that names a regular file of the runbook's folder is covered too. (Not any word of
            // any command: files a command reads or changes as part of the change, such as its
            // own state, would make every resume after a crash a "changed runbook".)
            for word in command.interpreterArguments where Self.isFile(word, inFolder: root) {
                add("script", word)
            }
        }
        self.init(files: files)
    }

    /// Whether `path` (relative to `root`, or absolute) is a regular file inside `root`, a
    /// standardized folder path.
    static func isFile(_ path: String, inFolder root: String) -> Bool {
        let resolved = PathResolver.resolve(path, in: root)
        guard resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else { return false }
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: resolved, isDirectory: &isFolder) && !isFolder.boolValue
    }

    /// HMAC-SHA256 of a secret file's bytes, keyed by its path: equal for equal content, as a
    /// digest must be, without being the plain SHA-256 of the secret.
    static func keyedHash(_ data: Data, path: String) -> String {
        let key = SymmetricKey(data: SHA256.hash(data: Data("sluice secret variable file\t\(path)".utf8)))
        return Data(HMAC<SHA256>.authenticationCode(for: data, using: key)).map { String(format: "%02x", $0) }.joined()
    }

    /// What differs between this digest and `other`, for people: "script scripts/apply.sh changed".
    public func changes(since other: ContentDigest) -> [String] {
        let before = Dictionary(other.files.map { ($0.role + " " + $0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(files.map { ($0.role + " " + $0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        var changes: [String] = []
        for file in files {
            let key = file.role + " " + file.path
            switch before[key] {
            case nil: changes.append("\(key) was added")
            case let old? where old != file.sha256: changes.append(file.sha256 == "missing" ? "\(key) is missing" : "\(key) changed")
            default: break
            }
        }
        for file in other.files where after[file.role + " " + file.path] == nil {
            changes.append("\(file.role) \(file.path) is no longer used")
        }
        return changes
    }

    /// Lowercase hex SHA-256 of `data`, as the digest writes each file's hash.
    package static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

extension Runbook {
    /// Every command the runbook holds, in no particular order.
    public var allCommands: [Command] {
        holds.flatMap { [$0.pause, $0.resume] } + guards.map(\.run) + preflight.map(\.run)
            + (steps + recovery).flatMap(\.commands)
    }
}
