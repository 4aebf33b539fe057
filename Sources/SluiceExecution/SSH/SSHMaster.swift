import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// One ControlMaster: `ssh -M -N` to one host, owned by this process, which spawned it and
/// reaps it.
///
/// Why not `ssh -M -N -f` (or `ControlPersist`): a daemonised master is nobody's child, so a
/// runner killed with SIGKILL would leave it connected until someone runs `-O exit`, and an
/// idle timeout would drop it between the steps of a long run. Instead the master runs under a
/// tiny local watcher (`/bin/sh`), in a process group of its own (so the operator's Ctrl-C,
/// sent to the terminal's group, does not reach it). The watcher's standard input is a pipe
/// whose only writer is this process and which no child inherits (`FD_CLOEXEC`, and
/// `closefrom(3)` in the spawn): when this process ends, however it ends, the pipe reaches its
/// end, the watcher sends SIGTERM to the master, and ssh removes its socket as it exits. The
/// master is ready when its socket appears (ssh creates it only once logged in); if the watcher
/// exits first, ssh's standard error (kept in a log beside the socket) says why.
final class SSHMaster: Sendable {
    /// The master's control socket.
    let controlPath: String
    /// The watcher's process id, which is also its process group's (the master is in it).
    let watcher: pid_t
    /// Which opening of this host's connection this is: a failure seen on an older one does
    /// not close a newer one.
    let generation: Int
    private let state: Mutex<State>

    private struct State {
        /// The write end of the watcher's standard input, until closed.
        var lifeline: Int32?
        /// The watcher's wait status once reaped.
        var exitStatus: Int32?
    }

    /// The watcher: starts the master, ends it when its own input ends, exits with its status.
    /// A background list's standard input is /dev/null in a shell without job control, so the
    /// lifeline is handed to the reader as fd 3.
    static let watcherScript = """
        "$@" </dev/null & m=$!
        exec 3<&0 0</dev/null
        ( read -r _ <&3; kill -TERM "$m" 2>/dev/null ) & r=$!
        exec 3<&-
        wait "$m"; s=$?
        kill "$r" 2>/dev/null
        exit "$s"
        """

    private init(controlPath: String, watcher: pid_t, lifeline: Int32, generation: Int) {
        self.controlPath = controlPath
        self.watcher = watcher
        self.generation = generation
        self.state = Mutex(State(lifeline: lifeline, exitStatus: nil))
    }

    /// Starts the master and waits until it is logged in (its socket exists), it failed, or
    /// `timeout` passed.
    ///
    /// - Throws: ``SSHError/connectionFailed(host:reason:)`` with ssh's own words (its last
    ///   lines of standard error) when it could not connect, log in or verify the host key.
    static func open(
        program: String, options: [String], host: String, controlPath: String, log: String, timeout: Duration, generation: Int
    ) async throws -> SSHMaster {
        unlink(controlPath)  // a socket of a dead master of this run; ssh would refuse to bind over it
        let arguments = [program] + options + ["-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-N", "--", host]
        let (watcher, lifeline) = try spawnWatcher(arguments, log: log, host: host)
        let master = SSHMaster(controlPath: controlPath, watcher: watcher, lifeline: lifeline, generation: generation)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            if master.hasExited {
                throw SSHError.connectionFailed(host: host, reason: Self.reason(fromLog: log))
            }
            var status = stat()
            if lstat(controlPath, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK { return master }
            if clock.now >= deadline {
                await master.kill()
                let said = Self.reason(fromLog: log)
                throw SSHError.connectionFailed(
                    host: host, reason: "no login after \(timeout)" + (said.isEmpty ? "" : " (ssh said: \(said))"))
            }
            try? await Task.sleep(for: .milliseconds(15))
        }
    }

    /// Whether the watcher (and with it the master) has ended; reaps it if so.
    var hasExited: Bool {
        state.withLock { state in
            if state.exitStatus != nil { return true }
            var status: Int32 = 0
            let reaped = waitpid(watcher, &status, WNOHANG)
            if reaped == watcher || (reaped < 0 && errno == ECHILD) {
                state.exitStatus = status
                return true
            }
            return false
        }
    }

    /// Whether the master answers on its socket (`ssh -O check`).
    func check(program: String, options: [String], host: String) async -> Bool {
        guard !hasExited else { return false }
        return await Self.control("check", program: program, options: options, host: host)
    }

    /// Ends the master: `ssh -O exit`, then the lifeline is cut, then the watcher is reaped
    /// (SIGTERM and SIGKILL to its group if it does not go by itself). Safe to call twice.
    func close(program: String, options: [String], host: String) async {
        if !hasExited { _ = await Self.control("exit", program: program, options: options, host: host) }
        cutLifeline()
        if await waitForExit(.seconds(5)) { return }
        await kill()
    }

    /// Ends the master at once: SIGTERM to the watcher's group, SIGKILL if it stays.
    func kill() async {
        cutLifeline()
        guard !hasExited else { return }
        killpg(watcher, SIGTERM)
        if await waitForExit(.seconds(3)) { return }
        killpg(watcher, SIGKILL)
        _ = await waitForExit(.seconds(3))
    }

    private func cutLifeline() {
        let fd = state.withLock { state in
            defer { state.lifeline = nil }
            return state.lifeline
        }
        if let fd { Glibc.close(fd) }
    }

    private func waitForExit(_ limit: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        while !hasExited {
            if clock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        unlink(controlPath)  // left only by a master that was killed
        return true
    }

    /// `ssh -O COMMAND`: true when ssh exited 0.
    static func control(_ command: String, program: String, options: [String], host: String) async -> Bool {
        let result = try? await Subprocess.run(
            .path(FilePath(program)), arguments: Arguments(options + ["-O", command, "--", host]),
            input: .none, output: .discarded, error: .discarded)
        return result?.terminationStatus.isSuccess ?? false
    }

    /// The last lines ssh wrote, without the noise of its own debug prefixes.
    static func reason(fromLog log: String) -> String {
        let text = (FileManager.default.contents(atPath: log)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return SSHDiagnostics.reason(text)
    }

    /// Spawns the watcher with `arguments` (the master's command line) and a fresh lifeline.
    private static func spawnWatcher(_ arguments: [String], log: String, host: String) throws -> (pid_t, Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw SSHError.connectionFailed(host: host, reason: "no pipe for the connection: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)  // dup2 onto 0 in the child clears it there
        defer { Glibc.close(fds[0]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number: Int32 in 1..<32 where number != SIGKILL && number != SIGSTOP { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ["/bin/sh", "-c", watcherScript, "sluice-ssh-master"] + arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else {
            Glibc.close(fds[1])
            throw SSHError.connectionFailed(host: host, reason: "cannot start ssh: \(String(cString: strerror(spawned)))")
        }
        return (pid, fds[1])
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's
    /// Glibc module does not declare.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(
            symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
}

/// Reading ssh's standard error.
enum SSHDiagnostics {
    /// What ssh said, for people: its lines, trimmed, without blank ones, the last few only
    /// (the reason is at the end: "Host key verification failed.", "Permission denied
    /// (publickey).", "Connection refused").
    static func reason(_ text: String, lines limit: Int = 6) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.suffix(limit).joined(separator: " / ")
    }
}
