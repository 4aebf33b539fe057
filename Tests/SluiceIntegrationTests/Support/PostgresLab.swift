import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One test's PostgreSQL: a copy of Runbooks/ in a temporary folder under /tmp, and a cluster
/// owned by the `postgres` user brought up there by Runbooks/lab/postgres-lab.sh on a free port of
/// 127.0.0.1, with the copied postgres-config-change.yaml pointed at it.
///
/// Use ``PostgresLab/run(_:)``, which always stops the server and removes the folder, whatever
/// the test did. Needs root: the cluster belongs to `postgres`, as on a real host, and sluice
/// must keep it so.
final class PostgresLab: Sendable {
    static let labScript = Lab.repositoryRoot.appendingPathComponent("Runbooks/lab/postgres-lab.sh").path
    static let runbook = "postgres-config-change.yaml"
    static let target = "pg-lab-1"

    let root: URL
    let runbooks: URL
    let labRoot: URL
    let port: Int
    var pgdata: String { labRoot.appendingPathComponent("pgdata").path }
    var socketFolder: String { labRoot.appendingPathComponent("run").path }
    var configFile: String { pgdata + "/postgresql.conf" }

    /// Runs `body` with the lab's server up; stops it afterwards, also when `body` throws or an
    /// expectation failed. Not being root, or missing programs, fail the test by name.
    static func run<T>(_ body: (PostgresLab) throws -> T) throws -> T {
        try requirements()
        let lab = try PostgresLab()
        defer { lab.close() }
        try lab.up()
        return try body(lab)
    }

    private init() throws {
        // Under /tmp, not $TMPDIR: every folder above the data directory must be enterable by
        // `postgres`, and the socket's path must stay short.
        root = URL(fileURLWithPath: "/tmp/sluice-pg-it-\(UUID().uuidString.prefix(8).lowercased())")
        runbooks = root.appendingPathComponent("Runbooks")
        labRoot = root.appendingPathComponent("lab")
        port = try Self.freePort()
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try FileManager.default.copyItem(at: Lab.repositoryRoot.appendingPathComponent("Runbooks"), to: runbooks)
        try edit(replacing: "pgdata: /tmp/sluice-pg-lab/pgdata", with: "pgdata: \(pgdata)")
        try edit(replacing: "socket_dir: /tmp/sluice-pg-lab/run", with: "socket_dir: \(socketFolder)")
        try edit(replacing: #"port: "5433""#, with: #"port: "\#(port)""#)
    }

    /// The environment sluice and the lab script run with.
    var environment: [String: String] {
        [
            "SLUICE_STORE": root.appendingPathComponent("store/audit.sqlite").path,
            "SLUICE_USER": "integration-test",
            "NO_COLOR": "1",
            "PATH": (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin",
        ]
    }

    private func up() throws {
        let result = try Command.run("/bin/sh", [Self.labScript, "up", labRoot.path, "\(port)"], in: root, environment: environment, timeLimit: 120)
        guard result.status == 0 else {
            throw LabError("Runbooks/lab/postgres-lab.sh up failed (exit \(result.status)):\n\(result.output)")
        }
    }

    /// Stops the server (postgres-lab.sh down), kills a postmaster that outlived that (recording
    /// it as a failure: a leak), and removes the folder. Safe to call twice.
    func close() {
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let started = postmasterPID()
        let down = try? Command.run("/bin/sh", [Self.labScript, "down", labRoot.path], in: root, environment: environment, timeLimit: 120)
        if down?.status != 0 {
            Issue.record("Runbooks/lab/postgres-lab.sh down failed: \(down?.output ?? "could not start it")")
        }
        if let pid = postmasterPID() ?? started.flatMap({ Lab.isRunning($0) ? $0 : nil }) {
            Issue.record("the lab's postmaster (pid \(pid)) outlived postgres-lab.sh down; killed now")
            kill(pid, SIGQUIT)
            usleep(500_000)
            if Lab.isRunning(pid) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: root)
        PortReservations.release([port])
    }

    // MARK: The copied runbook

    /// Replaces `old` with `new` in the copied runbook, requiring exactly `count` occurrences so
    /// that a change to the real runbook fails the test here instead of testing something else.
    func edit(_ file: String = PostgresLab.runbook, replacing old: String, with new: String, count: Int = 1) throws {
        let url = runbooks.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        let found = text.ranges(of: old).count
        guard found == count else {
            throw LabError("\(file): expected \(count) occurrence(s) of `\(old)`, found \(found); has the runbook changed?")
        }
        try text.replacing(old, with: new).write(to: url, atomically: true, encoding: .utf8)
    }

    // MARK: The server and its files

    /// The running postmaster's pid (first line of postmaster.pid), when it runs.
    func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: pgdata + "/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first.trimmingCharacters(in: .whitespaces)),
            pid > 0, Lab.isRunning(pid)
        else { return nil }
        return pid
    }

    /// pg_isready's verdict on 127.0.0.1:port: true when the server accepts connections.
    func isReady() throws -> (ready: Bool, output: String) {
        let result = try Command.run("/usr/bin/env", ["pg_isready", "-h", "127.0.0.1", "-p", "\(port)", "-t", "5"], in: root, environment: environment, timeLimit: 30)
        return (result.status == 0, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// A setting as the running server has it (`SHOW`), asked as `postgres` over the socket.
    func show(_ setting: String) throws -> String {
        let result = try Command.run(
            "/usr/bin/env", ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-h", socketFolder, "-p", "\(port)", "-d", "postgres", "-c", "SHOW \(setting)"],
            in: labRoot, environment: environment, timeLimit: 30)
        guard result.status == 0 else { throw LabError("psql SHOW \(setting) failed (exit \(result.status)): \(result.output)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// postgresql.conf's bytes.
    func configBytes() -> Data? { FileManager.default.contents(atPath: configFile) }

    /// Owner, group, permission bits, inode and modification time of postgresql.conf.
    func configStatus() throws -> FileStatus {
        var status = stat()
        guard stat(configFile, &status) == 0 else { throw LabError("cannot stat \(configFile): \(String(cString: strerror(errno)))") }
        return FileStatus(
            uid: status.st_uid, gid: status.st_gid, mode: UInt32(status.st_mode) & 0o7777, inode: UInt64(status.st_ino),
            modified: status.st_mtim.tv_sec * 1_000_000_000 + status.st_mtim.tv_nsec)
    }

    /// The `postgres` user's uid and gid (its primary group), from the password database.
    static func postgresUser() throws -> (uid: uid_t, gid: gid_t) {
        guard let entry = getpwnam("postgres") else { throw LabError("there is no `postgres` user; install Debian's postgresql package") }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// Files in the data directory that sluice or the scripts left behind (temporary files of a
    /// file step, private copies of a validate).
    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: pgdata).filter { $0.contains("sluice") || $0.hasPrefix(".pg-test-config") }.sorted()
    }

    /// The server's own log (pg-ctl.sh's LOGFILE), for failure messages.
    func serverLog() -> String {
        let text = (try? String(contentsOfFile: pgdata + "/log/server.log", encoding: .utf8)) ?? "(no server log)"
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }

    // MARK: Running sluice

    /// Runs `sluice` in the copied Runbooks/ with the lab's environment and its own audit store.
    @discardableResult
    func sluice(_ arguments: [String], timeLimit: TimeInterval = 300) throws -> Command.Result {
        let result = try Command.run(Lab.sluice, arguments, in: runbooks, environment: environment, timeLimit: timeLimit)
        if result.timedOut { throw LabError("sluice \(arguments.joined(separator: " ")) did not finish within \(Int(timeLimit))s:\n\(result.output)") }
        return result
    }

    /// The run's events from the audit store, in order.
    func events(of run: String) throws -> [AuditEvent] {
        let result = try sluice(["audit", "export", "--run", run])
        guard result.status == 0 else { throw LabError("sluice audit export failed: \(result.output)") }
        return try result.stdout.split(separator: "\n").map { line in
            guard let event = AuditEvent(line: line) else { throw CocoaError(.coderReadCorrupt, userInfo: [NSLocalizedDescriptionKey: "not an event: \(line)"]) }
            return event
        }
    }

    // MARK: Requirements

    /// Fails, saying what is missing and how to get it, unless this process is root and
    /// PostgreSQL's programs and user are there. Never a silent skip.
    static func requirements() throws {
        guard getuid() == 0 else {
            throw LabError("""
                the PostgreSQL integration tests must run as root (CI runs them so): the lab's cluster belongs to \
                `postgres`, as on a real host, and the test checks that sluice keeps postgresql.conf \
                postgres:postgres 0600. Run `sudo swift test --skip-build --no-parallel --filter PostgresConfigChange`.
                """)
        }
        let servers = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let hasServer = servers.contains { version in
            ["postgres", "initdb", "pg_ctl"].allSatisfy { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/\($0)") }
        }
        let folders = ((ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/sbin:/usr/sbin:/sbin").split(separator: ":")
        let tools = ["pg_isready", "psql", "runuser"].filter { tool in !folders.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") } }
        let missing = (hasServer ? [] : ["/usr/lib/postgresql/*/bin/{postgres,initdb,pg_ctl}"]) + tools
        guard missing.isEmpty, getpwnam("postgres") != nil else {
            throw LabError("""
                the PostgreSQL integration tests run postgres-config-change.yaml against a real PostgreSQL, and \
                \(missing.isEmpty ? "the `postgres` user" : missing.joined(separator: ", ")) \
                \(missing.count > 1 ? "are" : "is") missing. Scripts/test.sh installs Debian's postgresql package through \
                Scripts/integration-setup.sh (as root); run that, or install it yourself.
                """)
        }
    }

    /// A port on 127.0.0.1 where nothing listens, below Linux's ephemeral range.
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 15_000...32_000)
            if PortReservations.reserve([port]) { return port }
        }
        throw LabError("found no free port on 127.0.0.1")
    }
}

/// What stat(2) says about a file, for comparing before and after.
struct FileStatus: Equatable, CustomStringConvertible {
    var uid: uid_t
    var gid: gid_t
    var mode: UInt32
    var inode: UInt64
    /// Nanoseconds since the epoch.
    var modified: Int

    /// `uid:gid mode`, the way the tests compare ownership.
    var ownership: String { "\(uid):\(gid) \(String(mode, radix: 8))" }
    var description: String { "\(ownership) inode \(inode) mtime \(modified)" }
}
