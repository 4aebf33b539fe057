import Foundation
import Subprocess
import SystemPackage

/// The private folder of a run's connection sockets: `BASE/sluice-ssh-XXXXXX`, mode 0700,
/// with a file `runner` naming the process that made it (its id and start time, so that a
/// reused process id is not mistaken for it).
enum SocketFolder {
    static let prefix = "sluice-ssh-"

    static func make(in base: String) throws -> String {
        var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkdtemp($0) != nil } ?? false }
        guard made else { throw SSHError.socketFolder(base + "/" + prefix + "XXXXXX", reason: String(cString: strerror(errno))) }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let me = "\(getpid()) \(startTime(of: getpid()) ?? "?")\n"
        guard FileManager.default.createFile(atPath: path + "/runner", contents: Data(me.utf8), attributes: [.posixPermissions: 0o600]) else {
            rmdir(path)
            throw SSHError.socketFolder(path, reason: "cannot write \(path)/runner")
        }
        return path
    }

    /// Removes the folder and what Sluice put in it (sockets, logs, `runner`); nothing else
    /// is there, since the folder is private.
    static func remove(_ path: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { unlink(path + "/" + entry) }
        rmdir(path)
    }

    /// Whether the runner that made `path` is gone.
    static func isStale(_ path: String) -> Bool {
        guard let text = FileManager.default.contents(atPath: path + "/runner").map({ String(decoding: $0, as: UTF8.self) }) else {
            return true
        }
        let words = text.split(whereSeparator: \.isWhitespace)
        guard let first = words.first, let pid = pid_t(first) else { return true }
        guard let start = startTime(of: pid) else { return true }
        return words.count > 1 && String(words[1]) != start
    }

    /// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
    static func startTime(of pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}

extension SSHConnections {
    /// Cleans up after runners that died: for each socket folder in `base` owned by this user
    /// whose runner is gone, asks any master still listening there to exit (`ssh -O exit`),
    /// then removes the folder. Call it once when a run starts; folders of live runners are
    /// left alone.
    ///
    /// - Returns: the folders removed.
    @discardableResult
    public static func removeStaleFolders(in base: String = "/tmp", program: String = "/usr/bin/ssh") async -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        var removed: [String] = []
        for entry in entries.sorted() where entry.hasPrefix(SocketFolder.prefix) {
            let path = base + "/" + entry
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == getuid(),
                SocketFolder.isStale(path)
            else { continue }
            for socket in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                var socketStatus = stat()
                guard lstat(path + "/" + socket, &socketStatus) == 0, socketStatus.st_mode & S_IFMT == S_IFSOCK else { continue }
                _ = try? await Subprocess.run(
                    .path(FilePath(program)),
                    arguments: ["-F", "/dev/null", "-o", "ControlPath=\(path)/\(socket)", "-O", "exit", "--", "stale-sluice-master"],
                    input: .none, output: .discarded, error: .discarded)
            }
            SocketFolder.remove(path)
            removed.append(path)
        }
        return removed
    }
}
