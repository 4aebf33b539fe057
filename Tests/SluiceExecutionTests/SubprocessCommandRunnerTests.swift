import Foundation
import SluiceCore
import Testing
@testable import SluiceExecution

@Suite("Running real processes")
struct SubprocessCommandRunnerTests {
    let runner = SubprocessCommandRunner()

    func run(_ script: String, timeout: Duration = .seconds(30), killGrace: Duration = .seconds(10), in folder: String = "/", environment: [String: String] = [:], redactor: Redactor = .none) async -> CommandResult {
        await runner.run(CommandRequest(
            command: .shell(script), workingDirectory: folder, environment: environment, timeout: timeout,
            killGrace: killGrace, redactor: redactor))
    }

    @Test(arguments: [0, 1, 3, 42, 255])
    func exitStatusIsReported(_ status: Int32) async {
        let result = await run("exit \(status)")
        #expect(result.termination == .exited(status))
        #expect(result.succeeded == (status == 0))
        #expect(result.exitCode == status)
    }

    @Test func outputAndErrorsAreInterleavedInOrder() async {
        let result = await run("echo one; echo two >&2; echo three")
        #expect(result.output == "one\ntwo\nthree\n")
    }

    @Test func onlyTheLastBytesAreKept() async {
        // Given a command printing 100,000 numbered lines
        let result = await runner.run(CommandRequest(
            command: .shell("i=0; while [ $i -lt 100000 ]; do echo line$i; i=$((i+1)); done"), workingDirectory: "/",
            outputLimit: 4096))
        // Then the result keeps the last 4 KiB, ending with the last line
        #expect(result.succeeded)
        #expect(result.output.utf8.count <= 4096)
        #expect(result.output.utf8.count > 4000)
        #expect(result.output.hasSuffix("line99999\n"))
    }

    @Test func environmentIsAddedToTheInheritedOne() async {
        let result = await run("printf '%s|%s' \"$SLUICE_TARGET\" \"$PATH\"", environment: ["SLUICE_TARGET": "web 1"])
        #expect(result.output.hasPrefix("web 1|"))
        #expect(result.output.count > "web 1|".count)
    }

    @Test func runsInTheWorkingFolder() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cwd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = await run("pwd -P", in: folder.path)
        #expect(result.output == folder.resolvingSymlinksInPath().path + "\n")
    }

    @Test func argvIsNotInterpretedByAShell() async {
        let result = await runner.run(CommandRequest(command: .argv(["printf", "%s", "$(echo hi); `x` 'q'"]), workingDirectory: "/"))
        #expect(result.output == "$(echo hi); `x` 'q'")
    }

    @Test func timeoutKillsTheCommandAndEverythingItStarted() async throws {
        // Given a command that starts a grandchild in the background and then sleeps
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-timeout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // When it runs past its timeout
        // (a timeout long enough for the shell to start and write the pid on a busy machine)
        let result = await run("sh -c 'sleep 300' & echo $! > grandchild.pid; sleep 300", timeout: .seconds(2), killGrace: .seconds(2), in: folder.path)
        // Then it is reported as timed out, and the grandchild is gone too
        #expect(result.termination == .timedOut)
        let pidText = try String(contentsOf: folder.appendingPathComponent("grandchild.pid"), encoding: .utf8)
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await Self.disappears(pid))
    }

    @Test func aCommandIgnoringSIGTERMIsKilled() async {
        // A timeout long enough for the shell to set its trap and print on a busy machine: before
        // that, SIGTERM would end it and this would test nothing.
        let result = await run("trap '' TERM; echo waiting; while :; do sleep 1; done", timeout: .seconds(2), killGrace: .milliseconds(500))
        #expect(result.termination == .timedOut)
        #expect(result.output == "waiting\n")
    }

    @Test func backgroundProcessHoldingTheOutputDoesNotHoldUpTheStep() async {
        // The command exits at once but leaves `sleep 60` holding its output pipe; were the runner
        // to wait for the pipe to close, the 20 s timeout would fire first.
        let result = await run("sleep 60 & echo started", timeout: .seconds(20))
        #expect(result.termination == .exited(0))
        #expect(result.output == "started\n")
    }

    @Test func commandsRunningAtOnceKeepTheirOutputApart() async {
        // Given 16 commands at once, each printing 300 numbered lines in bursts, and every other
        // one leaving a background process that holds its output pipe open after it exits
        let results = await withTaskGroup(of: (Int, CommandResult, [String]).self) { group in
            for command in 0..<16 {
                group.addTask {
                    let lines = ChunkCollector()
                    let holder = command.isMultiple(of: 2) ? "sleep 5 & " : ""
                    let result = await runner.run(CommandRequest(
                        command: .shell("\(holder)i=1; while [ $i -le 300 ]; do echo \"command \(command) line $i\"; [ $((i % 50)) -eq 0 ] && sleep 0.01; i=$((i + 1)); done"),
                        workingDirectory: "/", outputLimit: 1 << 20, onOutput: { lines.append($0) }))
                    return (command, result, lines.all)
                }
            }
            var results: [(Int, CommandResult, [String])] = []
            for await result in group { results.append(result) }
            return results
        }

        // Then each result holds exactly its own lines, in order, and so does what it streamed
        #expect(results.count == 16)
        for (command, result, streamed) in results {
            let expected = (1...300).map { "command \(command) line \($0)\n" }
            #expect(result.termination == .exited(0))
            #expect(result.output == expected.joined(), "command \(command)")
            #expect(streamed == expected, "command \(command)")
        }
    }

    @Test func missingProgramFailsToStart() async throws {
        let result = await runner.run(CommandRequest(command: .argv(["./no-such-script.sh"]), workingDirectory: "/tmp"))
        guard case .failedToStart(let reason) = result.termination else {
            Issue.record("expected failedToStart, got \(result.termination)")
            return
        }
        #expect(reason == "./no-such-script.sh does not exist")
    }

    @Test func missingProgramThroughTheShellExits127() async {
        let result = await run("no-such-program-anywhere")
        #expect(result.termination == .exited(127))
        #expect(result.output.contains("no-such-program-anywhere"))
    }

    @Test func secretsAreRedactedFromOutput() async {
        let result = await run("echo token=hunter2; echo hunter2 >&2", redactor: Redactor(secrets: ["hunter2"]))
        #expect(result.output == "token=***\n***\n")
    }

    @Test func streamedOutputIsRedactedToo() async {
        let chunks = ChunkCollector()
        let result = await runner.run(CommandRequest(
            command: .shell("echo secret-value"), workingDirectory: "/", redactor: Redactor(secrets: ["secret-value"]),
            onOutput: { chunks.append($0) }))
        #expect(result.succeeded)
        #expect(chunks.joined == "***\n")
    }

    @Test func streamedOutputComesInWholeLinesSoASplitSecretIsStillRedacted() async {
        let lines = ChunkCollector()
        let result = await runner.run(CommandRequest(
            command: .shell("printf 'first line\\nsec'; sleep 0.2; printf 'ret-value\\nno newline at the end'"),
            workingDirectory: "/", redactor: Redactor(secrets: ["secret-value"]), onOutput: { lines.append($0) }))
        #expect(result.succeeded)
        #expect(lines.all == ["first line\n", "***\n", "no newline at the end"])
    }

    /// Whether `pid` stops existing within a few seconds (it may need a moment to be reaped).
    static func disappears(_ pid: pid_t) async -> Bool {
        for _ in 0..<100 {
            if kill(pid, 0) != 0, errno == ESRCH { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

final class ChunkCollector: Sendable {
    private let chunks = Mutex<[String]>([])
    func append(_ chunk: String) { chunks.withLock { $0.append(chunk) } }
    var joined: String { chunks.withLock { $0.joined() } }
    var all: [String] { chunks.withLock { $0 } }
}

import Synchronization
