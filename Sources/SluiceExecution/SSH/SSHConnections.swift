import Foundation
import Subprocess
import SystemPackage

/// The SSH connections of one run: one ControlMaster per host, opened when the host is first
/// needed and closed by ``close()`` at the end of the run (SPEC section 6).
///
/// Sockets live in a private folder made for this run (mode 0700, under `/tmp` by default, so
/// the path stays well inside the 108 bytes a socket path may have), named by ssh's `%C` (a
/// hash of the local host, the host, port and user), so that two targets that reach the same
/// host the same way share one connection. Each master is owned by this process and dies with
/// it (see ``SSHMaster``). A master is known alive from its own process; one idle for longer
/// than ``SSHSettings/recheckAfter`` is checked with `ssh -O check` before it is used again.
/// At most ``SSHSettings/sessionsPerHost`` commands run over one connection at once (others
/// wait their turn), and at most ``SSHSettings/mastersAtOnce`` connections are open at once.
///
/// Also kept here, per host and per user commands run as: the run's private folder on the
/// host, made on first use and removed by ``close()``.
public actor SSHConnections {
    /// The run's private socket folder.
    public nonisolated let folder: String
    /// The run whose connections these are; names the private folders on the hosts.
    public nonisolated let runID: String
    /// The knobs.
    public nonisolated let settings: SSHSettings

    private var hosts: [SSHDestination: Host] = [:]
    private var masterWaiters: [CheckedContinuation<Void, Never>] = []
    private var generations = 0
    /// Masters being opened now, counted against ``SSHSettings/mastersAtOnce``.
    private var opening = 0
    private var closed = false

    private struct Host {
        var controlPath: String?
        var master: SSHMaster?
        /// Callers waiting while the master is opened or checked; nil when nobody is.
        var preparing: [CheckedContinuation<Result<SSHMaster, SSHError>, Never>]?
        var sessions = 0
        var sessionWaiters: [CheckedContinuation<Void, Never>] = []
        /// When a command last started or ended over the master (or it was opened or checked).
        var lastUsed = ContinuousClock.now
        /// The run's folder on the host per user commands run as ("" for the login user).
        var runFolders: [String: String] = [:]
        /// Callers waiting while such a folder is made.
        var folderWaiters: [String: [CheckedContinuation<Result<String, SSHError>, Never>]] = [:]
    }

    /// One session over a host's master, held while one ssh command runs.
    struct Lease: Sendable {
        let key: SSHDestination
        let options: [String]
        let generation: Int
    }

    /// Makes the run's private socket folder in `base`.
    ///
    /// - Throws: ``SSHError/socketFolder(_:reason:)`` when it cannot be made.
    public init(runID: String, base: String = "/tmp", settings: SSHSettings = SSHSettings()) throws {
        self.runID = runID
        self.settings = settings
        self.folder = try SocketFolder.make(in: base)
    }

    /// Opens the connection to `destination` now, or checks the open one: for preflight and
    /// `plan`, which report an unreachable host, a failed login or an unknown or changed host
    /// key per target.
    ///
    /// - Throws: ``SSHError/connectionFailed(host:reason:)`` with ssh's reason, or
    ///   ``SSHError/invalidDestination(host:problem:)``.
    public func connect(_ destination: SSHDestination) async throws {
        let lease = try await lease(destination)
        await release(lease)
    }

    /// Closes the connection to `destination` (if open) so that the next command opens a fresh
    /// one: for a retry after a connection failure.
    public func reconnect(_ destination: SSHDestination) async {
        let key = destination.connectionKey
        guard let master = hosts[key]?.master else { return }
        hosts[key]?.master = nil
        await master.kill()
        resumeMasterWaiter()
    }

    /// Ends the run's connections: removes the run's folders on every host (reconnecting to
    /// a host whose connection was closed meanwhile), closes every master (`-O exit`), and
    /// removes the socket folder. Afterwards every use fails as a connection failure. Safe to
    /// call twice; commands still running are the caller's to end first.
    ///
    /// - Returns: what could not be cleaned up, one sentence each (a host unreachable by
    ///   then keeps its folder until its `/tmp` is cleaned).
    @discardableResult
    public func close() async -> [String] {
        var problems: [String] = []
        for (key, host) in hosts.sorted(by: { $0.key.description < $1.key.description }) where !host.runFolders.isEmpty {
            for (user, path) in host.runFolders.sorted(by: { $0.key < $1.key }) {
                do {
                    try await removeRunFolder(path, on: key, as: user.isEmpty ? nil : user)
                } catch {
                    problems.append("the run folder \(path) on \(key) was not removed: \(error)")
                }
            }
            hosts[key]?.runFolders = [:]
        }
        closed = true
        for (key, host) in hosts {
            guard let master = host.master else { continue }
            hosts[key]?.master = nil
            await master.close(program: settings.program, options: options(for: key), host: key.host)
        }
        for waiter in masterWaiters { waiter.resume() }
        masterWaiters = []
        SocketFolder.remove(folder)
        return problems
    }

    // MARK: Sessions

    /// A session slot on `destination`'s open master, opening or checking it first.
    func lease(_ destination: SSHDestination) async throws(SSHError) -> Lease {
        guard !closed else { throw SSHError.connectionFailed(host: destination.host, reason: "the run's SSH connections are closed") }
        if let problem = destination.problems.first { throw SSHError.invalidDestination(host: destination.host, problem: problem) }
        let key = destination.connectionKey
        if hosts[key] == nil { hosts[key] = Host() }
        while let host = hosts[key], host.sessions >= max(1, settings.sessionsPerHost) {
            await withCheckedContinuation { hosts[key]?.sessionWaiters.append($0) }
        }
        hosts[key]?.sessions += 1
        do {
            let master = try await readyMaster(key)
            hosts[key]?.lastUsed = .now
            return Lease(key: key, options: options(for: key), generation: master.generation)
        } catch {
            releaseSession(key)
            throw error
        }
    }

    /// Gives the session slot back; `connectionFailed` closes the master it ran over (unless a
    /// newer one replaced it), so that the next command gets a fresh connection.
    func release(_ lease: Lease, connectionFailed: Bool = false) async {
        hosts[lease.key]?.lastUsed = .now
        if connectionFailed, let master = hosts[lease.key]?.master, master.generation == lease.generation {
            hosts[lease.key]?.master = nil
            await master.kill()
        }
        releaseSession(lease.key)
    }

    private func releaseSession(_ key: SSHDestination) {
        hosts[key]?.sessions -= 1
        if let waiter = hosts[key]?.sessionWaiters.first {
            hosts[key]?.sessionWaiters.removeFirst()
            waiter.resume()
        }
        resumeMasterWaiter()
    }

    private func resumeMasterWaiter() {
        guard !masterWaiters.isEmpty else { return }
        masterWaiters.removeFirst().resume()
    }

    // MARK: Masters

    /// The host's master, alive: reused when known alive, checked when idle a while, opened
    /// when there is none. One caller at a time prepares it; the others wait for its result.
    private func readyMaster(_ key: SSHDestination) async throws(SSHError) -> SSHMaster {
        if let master = hosts[key]?.master, !master.hasExited,
            ContinuousClock.now - (hosts[key]?.lastUsed ?? .now) < settings.recheckAfter
        {
            return master
        }
        if hosts[key]?.preparing != nil {
            let result = await withCheckedContinuation { hosts[key]?.preparing?.append($0) }
            return try result.get()
        }
        hosts[key]?.preparing = []
        let result: Result<SSHMaster, SSHError>
        do {
            result = .success(try await prepare(key))
        } catch {
            result = .failure(error)
        }
        if case .success = result { hosts[key]?.lastUsed = .now }
        let waiters = hosts[key]?.preparing ?? []
        hosts[key]?.preparing = nil
        for waiter in waiters { waiter.resume(returning: result) }
        return try result.get()
    }

    private func prepare(_ key: SSHDestination) async throws(SSHError) -> SSHMaster {
        if let master = hosts[key]?.master {
            if await master.check(program: settings.program, options: options(for: key), host: key.host) {
                return master
            }
            hosts[key]?.master = nil
            await master.kill()
        }
        let controlPath = try await controlPath(for: key)
        try await makeRoomForMaster(besides: key)
        guard !closed else { throw SSHError.connectionFailed(host: key.host, reason: "the run's SSH connections are closed") }
        opening += 1
        generations += 1
        let log = folder + "/" + (controlPath as NSString).lastPathComponent + ".log"
        let opened: Result<SSHMaster, SSHError>
        do {
            opened = .success(
                try await SSHMaster.open(
                    program: settings.program, options: options(for: key), host: key.host, controlPath: controlPath, log: log,
                    timeout: settings.openTimeout, generation: generations))
        } catch let error as SSHError {
            opened = .failure(error)
        } catch {
            opened = .failure(SSHError.connectionFailed(host: key.host, reason: "\(error)"))
        }
        opening -= 1
        switch opened {
        case .success(let master):
            hosts[key]?.master = master
            return master
        case .failure(let error):
            resumeMasterWaiter()
            throw error
        }
    }

    /// Waits until fewer than ``SSHSettings/mastersAtOnce`` masters are open, closing the
    /// idle one used longest ago when there is one.
    private func makeRoomForMaster(besides key: SSHDestination) async throws(SSHError) {
        while true {
            let open = hosts.filter { $0.value.master != nil }
            if open.count + opening < max(1, settings.mastersAtOnce) { return }
            if let idle = open.filter({ $0.key != key && $0.value.sessions == 0 }).min(by: { $0.value.lastUsed < $1.value.lastUsed }),
                let master = idle.value.master
            {
                hosts[idle.key]?.master = nil
                await master.close(program: settings.program, options: options(for: idle.key), host: idle.key.host)
                continue
            }
            await withCheckedContinuation { masterWaiters.append($0) }
            if closed { throw SSHError.connectionFailed(host: key.host, reason: "the run's SSH connections are closed") }
        }
    }

    /// The socket path ssh will use for `key`: `ssh -G` expands `%C` as the master will.
    private func controlPath(for key: SSHDestination) async throws(SSHError) -> String {
        if let known = hosts[key]?.controlPath { return known }
        let arguments = options(for: key) + ["-G", "--", key.host]
        let succeeded: Bool
        let printed: String
        let said: String
        do {
            let result = try await Subprocess.run(
                .path(FilePath(settings.program)), arguments: Arguments(arguments), input: .none,
                output: .string(limit: 1 << 20), error: .string(limit: 1 << 16))
            succeeded = result.terminationStatus.isSuccess
            printed = result.standardOutput
            said = result.standardError
        } catch {
            throw SSHError.connectionFailed(host: key.host, reason: "cannot run \(settings.program): \(error)")
        }
        guard succeeded, let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("controlpath ") }) else {
            throw SSHError.connectionFailed(host: key.host, reason: SSHDiagnostics.reason(said))
        }
        let path = String(line.dropFirst("controlpath ".count))
        // ssh binds a temporary name 17 bytes longer first; sun_path holds 108 with its NUL.
        guard path.utf8.count + 17 < 108 else {
            throw SSHError.connectionFailed(host: key.host, reason: "the socket path \(path) is too long for a socket; use a shorter base folder")
        }
        hosts[key]?.controlPath = path
        return path
    }

    /// ssh's options for `key`, with the socket as `%C` in the run's folder.
    private func options(for key: SSHDestination) -> [String] {
        key.sshOptions(controlPath: folder + "/%C", settings: settings)
    }
}

extension SSHConnections {
    /// The run's private folder on `destination`'s host for commands run as `user` (nil: the
    /// login user), made on first use: `mktemp -d` (mode 0700, a name no one can guess ahead)
    /// in the user's `$TMPDIR` or `/tmp`, named `sluice-RUNID.XXXXXXXX`.
    ///
    /// - Throws: ``SSHError`` when the host cannot be reached, sudo refuses, or the folder
    ///   cannot be made.
    func runFolder(on destination: SSHDestination, as user: String?) async throws(SSHError) -> String {
        let key = destination.connectionKey
        let name = user ?? ""
        if hosts[key] == nil { hosts[key] = Host() }
        if let known = hosts[key]?.runFolders[name] { return known }
        if hosts[key]?.folderWaiters[name] != nil {
            return try await withCheckedContinuation { hosts[key]?.folderWaiters[name]?.append($0) }.get()
        }
        hosts[key]?.folderWaiters[name] = []
        let result: Result<String, SSHError>
        do throws(SSHError) {
            let made = try await runScript(
                RemoteScripts.makeRunFolder, arguments: ["sluice-\(runID)"], on: destination, as: user, what: "making the run folder")
            guard let path = made.firstLine.flatMap({ $0.hasPrefix("ok ") ? String($0.dropFirst(3)) : nil }) else {
                throw SSHError.remoteFailure(host: destination.description, what: "making the run folder", reason: made.problem)
            }
            result = .success(path)
        } catch {
            result = .failure(error)
        }
        if case .success(let path) = result { hosts[key]?.runFolders[name] = path }
        let waiters = hosts[key]?.folderWaiters[name] ?? []
        hosts[key]?.folderWaiters[name] = nil
        for waiter in waiters { waiter.resume(returning: result) }
        return try result.get()
    }

    private func removeRunFolder(_ path: String, on key: SSHDestination, as user: String?) async throws(SSHError) {
        let removed = try await runScript(RemoteScripts.removeRunFolder, arguments: [path], on: key, as: user, what: "removing the run folder")
        guard removed.firstLine == "ok" else {
            throw SSHError.remoteFailure(host: key.description, what: "removing the run folder", reason: removed.problem)
        }
    }

    /// Runs one of Sluice's own scripts on the host over a session of its master, releasing
    /// the session after, and closing the master when the connection failed.
    func runScript(
        _ script: String, arguments: [String], input: Data? = nil, on destination: SSHDestination, as user: String?, what: String
    ) async throws(SSHError) -> RemoteScriptResult {
        let lease = try await lease(destination)
        do {
            let result = try await RemoteScriptResult.run(
                script, arguments: arguments, input: input, lease: lease, program: settings.program, destination: destination,
                as: user, timeout: settings.operationTimeout, what: what)
            await release(lease)
            return result
        } catch {
            await release(lease, connectionFailed: { if case .connectionFailed = error { true } else { false } }())
            throw error
        }
    }
}
