import Foundation

/// Processes a dead runner left behind on this host, found and stopped before the next driver of
/// its run (`resume`, `rollback`) changes anything: a step's command that outlived its runner
/// (killed with SIGKILL, or by the OOM killer) would otherwise run beside its own rollback.
///
/// Every command a run starts (steps, rollback, recovery, holds, guards, preflight) carries
/// `SLUICE_RUN_ID` in its environment, and so does whatever it starts in turn, even a process
/// that left the command's process group. That mark, read from `/proc/PID/environ`, finds them;
/// a process id recorded in `step.started` could not, because a step is recorded durably before
/// its process exists (write-ahead).
public enum LeftoverProcesses {
    /// A process of the run, with what it runs.
    public struct Process: Sendable, Equatable {
        /// Its process id.
        public var pid: pid_t
        /// The process group it is in (its step's command led one).
        public var processGroup: pid_t
        /// Its command line, arguments separated by spaces.
        public var command: String
    }

    /// How the leftovers were stopped.
    public struct Stopped: Sendable, Equatable {
        /// Every leftover process found, in the order it was signalled.
        public var processes: [Process]
        /// Those that outlived SIGTERM and its grace and were killed with SIGKILL.
        public var killed: [Process]
    }

    /// Every live process on this host whose environment marks it as run `runID`'s, other than
    /// this process and its ancestors. Processes this user may not read are not seen (run as
    /// root, which a runner of changes is, every process is).
    public static func find(runID: String, procRoot: String = "/proc") -> [Process] {
        let mark = Array("SLUICE_RUN_ID=\(runID)".utf8)
        let spared = ancestors()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: procRoot)) ?? []
        return entries.compactMap { pid_t($0) }.filter { !spared.contains($0) }.sorted().compactMap { pid in
            guard let environment = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/environ"),
                environment.split(separator: 0).contains(where: { $0.elementsEqual(mark) }),
                let status = status(of: pid, procRoot: procRoot), status.state != "Z"
            else { return nil }
            let arguments = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/cmdline") ?? Data()
            let command = arguments.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            return Process(pid: pid, processGroup: status.processGroup, command: command)
        }
    }

    /// Terminates `processes`: SIGTERM to each (to its whole group when it leads one), then,
    /// for those still there after `grace`, SIGKILL; returns once all are gone, or after a
    /// further `grace` (a process stuck in the kernel cannot be waited for forever).
    public static func stop(_ processes: [Process], grace: Duration = .seconds(10)) async -> Stopped {
        guard !processes.isEmpty else { return Stopped(processes: [], killed: []) }
        signal(processes, SIGTERM)
        var alive = await waitUntilGone(processes, for: grace)
        let killed = alive
        if !alive.isEmpty {
            signal(alive, SIGKILL)
            alive = await waitUntilGone(alive, for: grace)
        }
        return Stopped(processes: processes, killed: killed)
    }

    private static func signal(_ processes: [Process], _ number: Int32) {
        for process in processes {
            // A group leader takes its group with it: the shell of a step and what it started.
            if process.processGroup == process.pid, process.pid > 1 {
                killpg(process.pid, number)
            } else {
                kill(process.pid, number)
            }
        }
    }

    /// Polls until every process is gone (or a zombie, waiting only for its parent); returns
    /// those still alive when `limit` ran out.
    private static func waitUntilGone(_ processes: [Process], for limit: Duration) async -> [Process] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        var alive = processes
        while true {
            alive = alive.filter { isAlive($0.pid) }
            if alive.isEmpty || clock.now >= deadline { return alive }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func isAlive(_ pid: pid_t) -> Bool {
        guard let status = status(of: pid) else { return false }
        return status.state != "Z"
    }

    /// The state letter, parent and process group of `pid`, from `/proc/PID/stat`, or `nil` if
    /// it is gone.
    private static func status(of pid: pid_t, procRoot: String = "/proc") -> (state: String, parent: pid_t, processGroup: pid_t)? {
        guard let data = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // The command name is in parentheses and may itself hold spaces or parentheses: the
        // fields that follow (state, parent, group, ...) start after the last `)`.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        return (String(fields[0]), parent, group)
    }

    /// This process and every ancestor: never signalled, even if they carry the mark (a runner
    /// started from inside a step of the same run).
    private static func ancestors() -> Set<pid_t> {
        var chain: Set<pid_t> = []
        var pid = getpid()
        while pid > 1, chain.insert(pid).inserted, let parent = status(of: pid)?.parent {
            pid = parent
        }
        return chain
    }
}
