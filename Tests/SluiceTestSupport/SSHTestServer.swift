import Foundation
import Synchronization
import SluiceExecution

/// A real OpenSSH server on 127.0.0.1 for one test, logging in the dedicated non-root user
/// `sluice-ssh-test`, so that what ran on the "host" is told apart from what ran in the test.
///
/// Everything is its own: a host key and a client key generated in a temporary folder, a
/// known_hosts and an ssh_config beside them, `sshd -D` on a free port of 127.0.0.1 only, with
/// the user's authorized key read from that folder (`AuthorizedKeysFile`), so nothing of the
/// user's home or of the machine's own sshd is touched. The user is created when missing
/// (`useradd`; the harness needs root, as `sshd` does to log anyone in, and as Sluice runs);
/// `Scripts/test.sh` installs openssh-server and sudo when missing. With `sudo: true` the
/// harness lets the user run anything as root without a password, in a sudoers.d file of its
/// own, removed at the end. ``with(maxSessions:sudo:_:)`` always stops the server, kills
/// whatever the test user still runs, and removes the folder, even when the test fails.
public final class SSHTestServer: Sendable {
    public static let user = "sluice-ssh-test"
    public static let sshd = "/usr/sbin/sshd"

    public let folder: String
    public let port: Int
    public let userID: uid_t
    /// The test user's own group.
    public var groupID: gid_t { getpwuid(userID)?.pointee.pw_gid ?? gid_t(userID) }
    private let sshdProcess: SpawnedProcess
    private let sudoers: String?

    /// How tests reach the server.
    public var destination: SSHDestination {
        SSHDestination(
            host: "127.0.0.1", user: Self.user, port: port, identity: folder + "/client_key", configFile: folder + "/ssh_config",
            knownHostsFile: folder + "/known_hosts")
    }

    /// The server's log (`sshd -e`): one "Accepted publickey" line per login.
    public var log: String { (try? String(contentsOfFile: folder + "/sshd.log", encoding: .utf8)) ?? "" }

    /// Logins so far.
    public var logins: Int { log.components(separatedBy: "Accepted publickey for \(Self.user)").count - 1 }

    /// Runs `body` with a fresh server, and stops it afterwards whatever happened.
    ///
    /// One server at a time in the test process: the suites that use one run beside each other,
    /// and ``stop()`` kills whatever the test user runs and removes its run folders, which
    /// would be another test's.
    public static func with<T>(maxSessions: Int = 10, sudo: Bool = false, _ body: (SSHTestServer) async throws -> T) async throws -> T {
        await turns.take()
        defer { turns.give() }
        let server = try await start(maxSessions: maxSessions, sudo: sudo)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    private static let turns = Turns()

    private init(folder: String, port: Int, userID: uid_t, sshdProcess: SpawnedProcess, sudoers: String?) {
        self.folder = folder
        self.port = port
        self.userID = userID
        self.sshdProcess = sshdProcess
        self.sudoers = sudoers
    }

    private static func start(maxSessions: Int, sudo: Bool) async throws -> SSHTestServer {
        guard getuid() == 0 else { throw HarnessError("the SSH tests start sshd and log in \(user): run them as root (Scripts/test.sh does)") }
        guard FileManager.default.isExecutableFile(atPath: sshd) else {
            throw HarnessError("\(sshd) is missing: apt-get install -y openssh-server (Scripts/test.sh installs it)")
        }
        let userID = try await ensureUser()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-sshd-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder + "/keys", withIntermediateDirectories: true)
        chmod(folder, 0o755)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)  // sshd's privilege separation
        try await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", folder + "/host_key"])
        try await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", folder + "/client_key"])
        try FileManager.default.copyItem(atPath: folder + "/client_key.pub", toPath: folder + "/keys/" + user)
        let port = try freePort()
        let hostKey = try String(contentsOfFile: folder + "/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "[127.0.0.1]:\(port) \(hostKey)\n[localhost]:\(port) \(hostKey)\n".write(toFile: folder + "/known_hosts", atomically: true, encoding: .utf8)
        try "Host *\n  IdentitiesOnly yes\n".write(toFile: folder + "/ssh_config", atomically: true, encoding: .utf8)
        try """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(folder)/host_key
            PidFile \(folder)/sshd.pid
            AuthorizedKeysFile \(folder)/keys/%u
            AllowUsers \(user)
            PermitRootLogin no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            MaxSessions \(maxSessions)
            LogLevel VERBOSE

            """.write(toFile: folder + "/sshd_config", atomically: true, encoding: .utf8)
        var sudoers: String?
        if sudo {
            let path = "/etc/sudoers.d/sluice-ssh-test-\(UUID().uuidString.prefix(8).lowercased())"  // no dot: sudo skips such names
            try "\(user) ALL=(root) NOPASSWD: ALL\n".write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o440)
            sudoers = path
        }
        let process = try SpawnedProcess.start(sshd, ["-D", "-e", "-f", folder + "/sshd_config"], output: folder + "/sshd.log")
        let server = SSHTestServer(folder: folder, port: port, userID: userID, sshdProcess: process, sudoers: sudoers)
        let listening = await eventually { !process.isRunning || server.log.contains("Server listening") }
        guard listening, server.log.contains("Server listening") else {
            let said = server.log
            await server.stopServer()
            if let sudoers { unlink(sudoers) }
            try? FileManager.default.removeItem(atPath: folder)
            throw HarnessError("sshd did not start: \(said)")
        }
        return server
    }

    /// Stops sshd and everything its sessions left, kills what the test user still runs,
    /// and removes the harness's files. Safe to call twice.
    public func stop() async {
        await stopServer()
        if let sudoers { unlink(sudoers) }
        for pid in Self.processes(where: { $0.uid == userID }) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: folder)
        // Run folders a test left on the "host" on purpose (a host gone away, a killed runner).
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [] where entry.hasPrefix("sluice-r-") {
            var status = stat()
            if lstat("/tmp/" + entry, &status) == 0, status.st_uid == userID, status.st_mode & S_IFMT == S_IFDIR {
                try? FileManager.default.removeItem(atPath: "/tmp/" + entry)
            }
        }
    }

    /// Ends sshd and every session it serves, so that open connections drop and new ones are
    /// refused: a host gone away.
    public func stopServer() async {
        let sshdPID = sshdProcess.pid
        var sessions = Self.processes { $0.parent == sshdPID }
        kill(sshdPID, SIGTERM)
        // sshd's per-connection processes, and theirs.
        while !sessions.isEmpty {
            let next = sessions.flatMap { parent in Self.processes { $0.parent == parent } }
            for pid in sessions { kill(pid, SIGKILL) }
            sessions = next
        }
        _ = await sshdProcess.exit()
    }

    // MARK: Looking at the host

    /// A process's parent, owner and command line, from /proc.
    public struct HostProcess {
        public var pid: pid_t
        public var parent: pid_t
        public var uid: uid_t
        public var command: String
    }

    /// The live processes (not zombies) matching `filter`.
    public static func processes(where filter: (HostProcess) -> Bool) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.compactMap { pid -> pid_t? in
            guard let line = FileManager.default.contents(atPath: "/proc/\(pid)/stat").map({ String(decoding: $0, as: UTF8.self) }),
                let close = line.lastIndex(of: ")")
            else { return nil }
            let fields = line[line.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", let parent = pid_t(fields[1]) else { return nil }
            var status = stat()
            guard lstat("/proc/\(pid)", &status) == 0 else { return nil }
            let arguments = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
            let command = arguments.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            return filter(HostProcess(pid: pid, parent: parent, uid: status.st_uid, command: command)) ? pid : nil
        }
    }

    /// The processes "on the host" whose command line contains `marker`: everything but the
    /// local ssh clients, whose own command line carries the remote one.
    public static func remote(_ marker: String) -> [pid_t] {
        processes { $0.command.contains(marker) && !$0.command.hasPrefix("/usr/bin/ssh ") }
    }

    /// The ControlMaster processes whose sockets are in `folder`.
    public static func masters(in folder: String) -> [pid_t] {
        processes { $0.command.hasPrefix("/usr/bin/ssh ") && $0.command.contains("ControlMaster=yes") && $0.command.contains(folder) }
    }

    /// Every process (watchers, masters, clients) that names `folder`.
    public static func naming(_ folder: String) -> [pid_t] {
        processes { $0.command.contains(folder) }
    }

    /// The local ssh clients whose command line contains `marker`.
    public static func clients(_ marker: String) -> [pid_t] {
        processes { $0.command.contains(marker) && $0.command.hasPrefix("/usr/bin/ssh ") }
    }

    /// Waits (up to `limit`, polling) until `condition` holds; whether it did. Not a timing
    /// assertion: the limit only bounds a test that would otherwise hang.
    public static func eventually(within limit: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        while clock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    // MARK: Setting up

    /// The test user's id, creating the user when missing: a shell, a home, no password (`*`,
    /// which sshd does not take for a locked account, as it does `!`).
    private static func ensureUser() async throws -> uid_t {
        if let entry = getpwnam(user) { return entry.pointee.pw_uid }
        try await run("/usr/sbin/useradd", ["--create-home", "--shell", "/bin/sh", user])
        try await run("/usr/sbin/usermod", ["-p", "*", user])
        guard let entry = getpwnam(user) else { throw HarnessError("useradd did not create \(user)") }
        return entry.pointee.pw_uid
    }

    /// Runs a setup program to its end (see ``SpawnedProcess/run(_:_:)``).
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) async throws -> String {
        try await SpawnedProcess.run(program, arguments)
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Why the harness could not start.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}


/// One holder at a time, the others waiting in order: a lock that an async test can hold
/// across its awaits without blocking a thread.
final class Turns: Sendable {
    private let state = Mutex<(held: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func take() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.held { state.waiting.append(waiter); return false }
                state.held = true
                return true
            }
            if now { waiter.resume() }
        }
    }

    /// Hands the turn to the next waiter, or frees it.
    func give() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty { state.held = false; return nil }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
