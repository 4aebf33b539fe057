import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end, with a time limit, and keeps what it printed.
///
/// Built on posix_spawn and waitpid rather than Foundation's `Process`: here the programs start
/// daemons (nginx, redis), and `Process.waitUntilExit()` was seen to miss such a shell's exit and
/// wait forever beside its zombie. The program gets its own process group, so that the time limit
/// stops it and everything it started in that group.
enum Command {
    private static let spawning = NSLock()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not import.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Whether the time limit ended it.
        var timedOut: Bool

        /// Both streams, for failure messages.
        var output: String { stdout + (stderr.isEmpty ? "" : "\n[stderr]\n" + stderr) }
    }

    /// Runs `executable` (a path) with `arguments` in `directory`, its environment this process's
    /// plus `environment`, standard input from /dev/null. After `timeLimit` seconds the program's
    /// process group gets SIGTERM, and SIGKILL 5 seconds later.
    static func run(
        _ executable: String, _ arguments: [String], in directory: URL, environment: [String: String] = [:],
        timeLimit: TimeInterval = 300
    ) throws -> Result {
        // Pipes and spawn under one lock: a program started from another thread meanwhile (a
        // watcher, see Lab.sluice) must not inherit these pipes before they are close-on-exec.
        spawning.lock()
        var outputPipe: [Int32] = [-1, -1], errorPipe: [Int32] = [-1, -1]
        guard pipe(&outputPipe) == 0, pipe(&errorPipe) == 0 else {
            spawning.unlock()
            throw LabError("cannot make a pipe to run \(executable): \(String(cString: strerror(errno)))")
        }
        // Only the copies on 0, 1 and 2 reach the program.
        for fd in outputPipe + errorPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
        // Nothing else this process has open reaches the program: tests running at the same time
        // write files (a lab's copied scripts), and a daemon started here that kept one of those
        // open for writing would make running that script fail with "Text file busy" (ETXTBSY).
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t(), mask = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // posix_spawn has no portable way to set the working folder: a shell changes to it and
        // then becomes the program.
        let command = ["/bin/sh", "-c", #"cd "$0" && exec "$@""#, directory.path, executable] + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        close(outputPipe[1])
        close(errorPipe[1])
        spawning.unlock()
        guard spawned == 0 else {
            close(outputPipe[0])
            close(errorPipe[0])
            throw LabError("cannot start \(executable): \(String(cString: strerror(spawned)))")
        }

        var output = Data(), errors = Data()
        var open = [true, true]
        let readEnds = [outputPipe[0], errorPipe[0]]
        let deadline = Date().addingTimeInterval(timeLimit)
        var terminatedAt: Date?, exitedAt: Date?
        var status: Int32 = 0
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open.contains(true) {
            var fds = (0..<2).map { pollfd(fd: open[$0] ? readEnds[$0] : -1, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, 2, 100) > 0 {
                for index in 0..<2 where open[index] && fds[index].revents != 0 {
                    let count = read(readEnds[index], &buffer, buffer.count)
                    if count > 0 {
                        if index == 0 { output.append(contentsOf: buffer[0..<count]) } else { errors.append(contentsOf: buffer[0..<count]) }
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        open[index] = false
                    }
                }
            }
            if exitedAt == nil, waitpid(pid, &status, WNOHANG) == pid { exitedAt = Date() }
            // A daemon the program started may hold the pipes open; once the program itself has
            // exited, read what is left for a moment and stop.
            if let exitedAt, Date().timeIntervalSince(exitedAt) > 2 { break }
            if exitedAt == nil, terminatedAt == nil, Date() > deadline {
                terminatedAt = Date()
                kill(-pid, SIGTERM)
            }
            if exitedAt == nil, let terminatedAt, Date().timeIntervalSince(terminatedAt) > 5 { kill(-pid, SIGKILL) }
        }
        if exitedAt == nil { while waitpid(pid, &status, 0) == -1 && errno == EINTR {} }
        close(readEnds[0])
        close(readEnds[1])
        // The wait status: exited with a code (low 7 bits zero), or ended by a signal (128 + signal).
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(
            status: code, stdout: String(decoding: output, as: UTF8.self), stderr: String(decoding: errors, as: UTF8.self),
            timedOut: terminatedAt != nil)
    }
}
