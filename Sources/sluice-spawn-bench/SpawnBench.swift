import Foundation
import SluiceCore
import SluiceExecution
import Subprocess
import SystemPackage

/// The layers under `sluice apply`, timed one by one for Scripts/bench-apply.sh, so that a gap
/// between apply and the floor of spawning the same commands can be placed:
///
///     sluice-spawn-bench subprocess COUNT   COUNT `sh -c true` two at a time with swift-subprocess alone
///     sluice-spawn-bench runner COUNT       the same through Sluice's command runner (process
///                                           group, output pipe and tail, timeout)
///     sluice-spawn-bench engine RUNBOOK     the runbook's rollout by the engine with the real
///                                           runner, recorded nowhere (no audit store, no display)
///
/// Each prints the seconds it took.
@main
struct SpawnBench {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let clock = ContinuousClock()
        let start = clock.now
        switch (arguments.first, arguments.count) {
        case ("subprocess", 2):
            guard let count = Int(arguments[1]), count >= 0 else { usage() }
            await twoAtATime(count) {
                _ = try? await Subprocess.run(.path("/bin/sh"), arguments: ["-c", "true"], output: .discarded, error: .discarded)
            }
        case ("runner", 2):
            guard let count = Int(arguments[1]), count >= 0 else { usage() }
            let runner = SubprocessCommandRunner()
            await twoAtATime(count) {
                _ = await runner.run(CommandRequest(command: .shell("true"), workingDirectory: FileManager.default.currentDirectoryPath))
            }
        case ("engine", 2):
            let plan = plan(arguments[1])
            let engine = RolloutEngine(
                executor: StepExecutor(prober: NetworkHealthProber(), clock: clock),
                transports: .local(for: plan), recorder: Unrecorded(), clock: clock, redactor: .none)
            let planned = clock.now
            let result = await engine.run(plan)
            guard result.outcome == .succeeded else { fail("the rollout ended \(result.outcome)") }
            print(String(format: "%.3f", (clock.now - planned).timeInterval))
            return
        default:
            usage()
        }
        print(String(format: "%.3f", (clock.now - start).timeInterval))
    }

    /// Runs `body` `count` times, two at a time, like `xargs -P 2`.
    static func twoAtATime(_ count: Int, _ body: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for share in [count / 2, count - count / 2] {
                group.addTask { for _ in 0..<share { await body() } }
            }
        }
    }

    static func plan(_ path: String) -> Plan {
        guard let runbook = RunbookLoader().load(path: path).validRunbook else { fail("\(path) is not a valid runbook") }
        do {
            return try Planner().plan(
                runbook: runbook, variables: try runbook.resolveVariables(environment: [:]), runID: "r-20261121-000000-bench",
                now: Date(), content: ContentDigest(files: []))
        } catch {
            fail("cannot plan \(path): \(error)")
        }
    }

    static func usage() -> Never {
        fail("usage: sluice-spawn-bench subprocess COUNT | runner COUNT | engine RUNBOOK", status: 64)
    }

    static func fail(_ message: String, status: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("sluice-spawn-bench: \(message)\n".utf8))
        exit(status)
    }
}

/// Keeps nothing: the engine's cost without the audit store's.
struct Unrecorded: RunRecorder {
    func record(_ event: RunEvent) async throws {}
    func saveBackup(_ snapshot: FileSnapshot, target: String, step: String) async throws {}
}
