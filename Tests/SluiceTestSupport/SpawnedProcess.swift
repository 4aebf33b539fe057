import Foundation

/// A process the SSH harness starts with `posix_spawn` and reaps with `waitpid` itself.
///
/// Not Foundation's `Process`: once swift-subprocess's monitor runs in the test process,
/// `Process.waitUntilExit()` was seen never to return for a child that had long exited (a
/// zombie nobody reaped), hanging the test.
public struct SpawnedProcess: Sendable {
    public let pid: pid_t

    /// Starts `program` with `arguments`, standard input from /dev/null, standard output and
    /// error appended to `output` (or /dev/null).
    public static func start(_ program: String, _ arguments: [String], output: String? = nil) throws -> SpawnedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number: Int32 in 1..<32 where number != SIGKILL && number != SIGSTOP { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var cArguments: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else { throw HarnessError("cannot start \(program): \(String(cString: strerror(spawned)))") }
        return SpawnedProcess(pid: pid)
    }

    /// Runs `program` to its end; its output, or an error with it when it failed.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) async throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-harness-\(UUID().uuidString).log").path
        defer { unlink(log) }
        let process = try start(program, arguments, output: log)
        let status = await process.exit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw HarnessError("\(program) \(arguments.joined(separator: " ")) failed (\(status)): \(text)") }
        return text
    }

    /// Whether it is still running (not yet reaped).
    public var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// Waits for it to end and reaps it; its raw wait status.
    public func exit() async -> Int32 {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return status }
            if reaped < 0 { return -1 }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
