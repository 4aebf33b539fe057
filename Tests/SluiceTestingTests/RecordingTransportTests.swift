import Foundation
import SluiceCore
import SluiceExecution
import SluiceTesting
import Synchronization
import Testing

@Suite("The recording transport", .timeLimit(.minutes(1)))
struct RecordingTransportTests {
    static func request(_ script: String, environment: [String: String] = [:], timeout: Duration = .seconds(60)) -> CommandRequest {
        CommandRequest(command: .shell(script), environment: environment, timeout: timeout)
    }

    // MARK: Commands

    @Test func theLatestMatchingRuleAnswersWithItsRepliesInTurnThenItsLastOrItsThen() async {
        // Given a script: `probe` fails twice then succeeds; `deploy` prints, but `deploy web2`
        // (added later) exits 3 always; `flaky` fails once then exits 0
        let transport = RecordingTransport()
        transport.on("probe", .exit(1), .exit(1), .exit(0, output: "up\n"))
        transport.on("deploy", .exit(0, output: "deployed\n"))
        transport.on("deploy web2", .exit(3))
        transport.on("flaky", .exit(1), then: .success)

        // When commands run
        var results: [String] = []
        for script in ["probe", "probe", "probe", "probe", "deploy web2", "deploy web2", "deploy web1", "flaky", "flaky", "flaky", "other"] {
            let result = await transport.run(Self.request(script))
            results.append("\(script): \(result.termination)\(result.output.isEmpty ? "" : " " + result.output)")
        }

        // Then each got its rule's answer, and everything is recorded in order
        #expect(results == [
            "probe: exited with status 1", "probe: exited with status 1", "probe: exited with status 0 up\n", "probe: exited with status 0 up\n",
            "deploy web2: exited with status 3", "deploy web2: exited with status 3", "deploy web1: exited with status 0 deployed\n",
            "flaky: exited with status 1", "flaky: exited with status 0", "flaky: exited with status 0", "other: exited with status 0",
        ])
        #expect(transport.commands == ["probe", "probe", "probe", "probe", "deploy web2", "deploy web2", "deploy web1", "flaky", "flaky", "flaky", "other"])
    }

    @Test func theDefaultReplyMatchersOnTheEnvironmentAndComputedReplies() async {
        // Given a transport failing what its script does not name, a rule for one target, and a
        // rule that fails once the file `full` exists
        let transport = RecordingTransport(default: .exit(127, output: "not scripted\n"))
        transport.on(.environment("SLUICE_TARGET", "web1") && "deploy", .success)
        transport.on(.exactly("test ! -e full")) { _ in transport.file("full") == nil ? .success : .exit(1) }

        #expect(await transport.run(Self.request("deploy", environment: ["SLUICE_TARGET": "web1"])).succeeded)
        #expect(await transport.run(Self.request("deploy", environment: ["SLUICE_TARGET": "web2"])).exitCode == 127)
        #expect(await transport.run(Self.request("test ! -e full")).succeeded)
        transport.place("full", "")
        #expect(await transport.run(Self.request("test ! -e full")).exitCode == 1)
        #expect(await transport.run(Self.request("test ! -e full || true")).output == "not scripted\n")
    }

    @Test func eachRunIsRecordedWithItsEnvironmentFolderAndTimeout() async {
        let transport = RecordingTransport()
        _ = await transport.run(CommandRequest(
            command: .argv(["printf", "%s", "a b"]), workingDirectory: "/srv", environment: ["SLUICE_STEP": "deploy"],
            timeout: .seconds(7)))
        transport.terminateRunning(grace: .seconds(2))
        #expect(transport.calls == [
            .run(RecordingTransport.Ran(
                command: .argv(["printf", "%s", "a b"]), environment: ["SLUICE_STEP": "deploy"], workingDirectory: "/srv",
                timeout: .seconds(7), at: nil)),
            .terminateRunning(grace: .seconds(2)),
        ])
        #expect(transport.commands == ["printf %s 'a b'"])
    }

    @Test func outputIsRedactedStreamedLineByLineAndCutToTheLimit() async {
        // Given a command printing a secret on three lines, the last without a newline
        let transport = RecordingTransport()
        transport.on("show", .exit(0, output: "token=hunter2\nsecond\nhunter2 at the end"))
        let lines = Mutex<[String]>([])
        // When it runs with a redactor, a line handler and a 12-byte limit
        let result = await transport.run(CommandRequest(
            command: .shell("show"), outputLimit: 12, redactor: Redactor(secrets: ["hunter2"]),
            onOutput: { line in lines.withLock { $0.append(line) } }))
        // Then the handler saw every line redacted, and the result keeps the last 12 bytes
        #expect(lines.withLock { $0 } == ["token=***\n", "second\n", "*** at the end"])
        #expect(result.output == "* at the end")
    }

    @Test func commandsTakeTheirTimeOnTheClockAndTimeOutAtTheirTimeout() async {
        // Given a transport on a manual clock: `slow` takes 5 s, `stuck` 10 min
        let clock = ManualClock()
        let transport = RecordingTransport(clock: clock)
        transport.on("slow", .exit(0, takes: .seconds(5)))
        transport.on("stuck", .exit(0, takes: .seconds(600)))

        // When `slow`, then `stuck` with a 3 s timeout, then `quick` run
        let results = await clock.run {
            [await transport.run(Self.request("slow")), await transport.run(Self.request("stuck", timeout: .seconds(3))),
             await transport.run(Self.request("quick"))]
        }

        // Then slow took 5 s, stuck timed out after 3 s, and each started when the last ended
        #expect(results.map(\.termination) == [.exited(0), .timedOut, .exited(0)])
        #expect(results.map(\.duration) == [.seconds(5), .seconds(3), .zero])
        #expect(transport.ran.map(\.at) == [.zero, .seconds(5), .seconds(8)])
        #expect(clock.now.offset == .seconds(8))
    }

    @Test func withoutAClockATimeoutStillEndsTheCommandAtOnce() async {
        let transport = RecordingTransport()
        transport.on("stuck", .exit(0, takes: .seconds(600)))
        let result = await transport.run(Self.request("stuck", timeout: .seconds(3)))
        #expect(result.termination == .timedOut)
        #expect(result.duration == .seconds(3))
    }

    @Test func terminateRunningEndsTheCommandsRunningThenOnly() async {
        // Given a 10 min command, terminated 2 s after it started; then another command
        let clock = ManualClock()
        let transport = RecordingTransport(clock: clock)
        transport.on("long", .exit(0, takes: .seconds(600)))
        let results = await clock.run {
            await withTaskGroup(of: CommandResult?.self) { group in
                group.addTask { await transport.run(Self.request("long")) }
                group.addTask {
                    try? await clock.sleep(for: .seconds(2))
                    transport.terminateRunning(grace: .seconds(10))
                    return nil
                }
                var long: CommandResult?
                for await result in group { long = long ?? result }
                return [long, await transport.run(Self.request("long", timeout: .seconds(1)))]
            }
        }
        // Then the first ended killed by SIGTERM at 2 s, and the later one was not affected
        #expect(results.map { $0?.termination } == [.signalled(SIGTERM), .timedOut])
        #expect(results.first??.duration == .seconds(2))
        #expect(transport.calls.map(\.description) == ["run long", "terminate running (grace 10.0 seconds)", "run long"])
        #expect(clock.now.offset == .seconds(3))
    }

    // MARK: Files

    @Test func aWriteStagesValidatesAndCommitsKeepingOwnerAndGroup() async throws {
        // Given a file owned by 70:71 with mode 0640, and a validate command that reads the staged copy
        let transport = RecordingTransport(user: (0, 0))
        transport.place("/etc/app.conf", "old\n", mode: 0o640, owner: 70, group: 71)
        let seen = Mutex<RecordingTransport.File?>(nil)
        let validate: @Sendable (String) async -> CommandResult = { staged in
            seen.withLock { $0 = transport.file(staged) }
            return await transport.run(Self.request("validate \(staged)"))
        }

        // When new content is offered with a fixed staging name
        let outcome = try await transport.write(
            Data("new\n".utf8), to: "/etc/app.conf", mode: nil, temporary: "/etc/app.conf.check", previous: nil, validate: validate)

        // Then validate saw the staged copy, private and owned as the file; the file now holds the
        // new bytes with its owner, group and mode; nothing staged is left
        #expect(outcome == .written)
        #expect(seen.withLock { $0 } == RecordingTransport.File(content: Data("new\n".utf8), mode: 0o600, owner: 70, group: 71))
        #expect(transport.file("/etc/app.conf") == RecordingTransport.File(content: Data("new\n".utf8), mode: 0o640, owner: 70, group: 71))
        #expect(transport.paths == ["/etc/app.conf"])
        #expect(transport.calls.map(\.description) == ["run validate /etc/app.conf.check", "write /etc/app.conf: written"])
    }

    @Test func aRefusedWriteLeavesTheFileAndAnUnchangedOneRunsNoValidate() async throws {
        let transport = RecordingTransport()
        transport.on("refuse", .exit(1, output: "bad\n"))
        transport.place("app.conf", "old\n")
        let refusing: @Sendable (String) async -> CommandResult = { _ in await transport.run(Self.request("refuse")) }

        let refused = try await transport.write(Data("new\n".utf8), to: "app.conf", mode: nil, temporary: nil, previous: nil, validate: refusing)
        let unchanged = try await transport.write(Data("old\n".utf8), to: "app.conf", mode: nil, temporary: nil, previous: nil, validate: refusing)
        let modeOnly = try await transport.write(Data("old\n".utf8), to: "app.conf", mode: 0o600, temporary: nil, previous: nil, validate: nil)

        #expect(refused == .rejected(CommandResult(termination: .exited(1), output: "bad\n", duration: .zero)))
        #expect(unchanged == .unchanged)
        #expect(modeOnly == .written)
        #expect(transport.file("app.conf") == RecordingTransport.File(content: Data("old\n".utf8), mode: 0o600))
        #expect(transport.commands == ["refuse"])
        #expect(transport.paths == ["app.conf"])
    }

    @Test func aRestorePutsBackTheSnapshotExactlyOrSaysItAlreadyIs() async throws {
        // Given a file owned by 70:71, snapshotted, then changed
        let transport = RecordingTransport()
        transport.place("/etc/app.conf", "old\n", mode: 0o640, owner: 70, group: 71)
        let before = try await transport.snapshot("/etc/app.conf", follow: false)
        _ = try await transport.write(Data("new\n".utf8), to: "/etc/app.conf", mode: 0o644, temporary: nil, previous: before, validate: nil)

        // When it is restored twice
        let first = try await transport.restore(before)
        let second = try await transport.restore(before)

        // Then the first put back bytes, mode, owner and group; the second found nothing to do
        #expect(first == .restored)
        #expect(second == .alreadyAsBefore)
        #expect(transport.file("/etc/app.conf") == RecordingTransport.File(content: Data("old\n".utf8), mode: 0o640, owner: 70, group: 71))
    }

    @Test func restoringAFileThatDidNotExistRemovesIt() async throws {
        let transport = RecordingTransport()
        let before = try await transport.snapshot("new.conf", follow: false)
        #expect(before == FileSnapshot(path: "new.conf", existed: false, content: nil, mode: nil))
        #expect(try await transport.write(Data("x".utf8), to: "new.conf", mode: nil, temporary: nil, previous: before, validate: nil) == .written)
        #expect(transport.file("new.conf")?.mode == 0o644)
        #expect(try await transport.restore(before) == .removed)
        #expect(try await transport.restore(before) == .alreadyAsBefore)
        #expect(transport.paths.isEmpty)
    }

    @Test func aLinkIsRefusedUnlessFollowed() async throws {
        let transport = RecordingTransport()
        transport.place("/etc/real.conf", "real\n")
        transport.link("/etc/app.conf", to: "real.conf")
        await #expect(throws: FileChangeError.symbolicLink("/etc/app.conf", target: "real.conf")) {
            try await transport.snapshot("/etc/app.conf", follow: false)
        }
        let followed = try await transport.snapshot("/etc/app.conf", follow: true)
        #expect(followed.path == "/etc/real.conf")
        #expect(followed.content == Data("real\n".utf8))
    }

    @Test func aValidateCopyExistsOnlyWhileItsBodyRuns() async throws {
        let transport = RecordingTransport()
        transport.place("/etc/app.conf", "old\n", owner: 70, group: 71)
        let during = try await transport.validating(Data("new\n".utf8), beside: "/etc/app.conf", as: "app.conf.check") {
            transport.file("/etc/app.conf.check")
        }
        #expect(during == RecordingTransport.File(content: Data("new\n".utf8), mode: 0o600, owner: 70, group: 71))
        #expect(transport.paths == ["/etc/app.conf"])
    }

    @Test func anInjectedFailureThrowsAsManyTimesAsAskedThenTheOperationWorks() async throws {
        // Given a restore that fails twice
        let transport = RecordingTransport()
        transport.place("app.conf", "old\n")
        let before = try await transport.snapshot("app.conf", follow: false)
        transport.place("app.conf", "new\n")
        let refusal = FileChangeError.unwritable("app.conf", reason: "Read-only file system")
        transport.fail(.restore, at: "app.conf", with: refusal, times: 2)

        // Then two restores throw and change nothing, the third restores
        for _ in 0..<2 {
            await #expect(throws: refusal) { try await transport.restore(before) }
            #expect(transport.file("app.conf")?.text == "new\n")
        }
        #expect(try await transport.restore(before) == .restored)
        #expect(transport.file("app.conf")?.text == "old\n")
        #expect(transport.calls.map(\.description) == [
            "snapshot app.conf", "restore app.conf failed", "restore app.conf failed", "restore app.conf: restored",
        ])
    }

    /// One file operation, done the same way on both transports.
    enum Operation: Sendable, CustomTestStringConvertible {
        case write(String, mode: UInt32?, validates: Bool)
        case restoreFirstSnapshot

        var testDescription: String {
            switch self {
            case .write(let content, let mode, let validates): "write \(content.debugDescription) mode \(mode.map { String($0, radix: 8) } ?? "kept")\(validates ? "" : ", refused")"
            case .restoreFirstSnapshot: "restore the first snapshot"
            }
        }
    }

    /// Sequences of operations, starting from a file (`old`, 0640) or from none.
    static let sequences: [(startsWith: String?, [Operation])] = [
        ("old\n", [.write("new\n", mode: nil, validates: true), .write("new\n", mode: nil, validates: true), .restoreFirstSnapshot, .restoreFirstSnapshot]),
        ("old\n", [.write("new\n", mode: nil, validates: false), .restoreFirstSnapshot]),
        ("old\n", [.write("old\n", mode: 0o600, validates: true), .write("old\n", mode: 0o600, validates: true), .restoreFirstSnapshot]),
        (nil, [.write("new\n", mode: nil, validates: true), .restoreFirstSnapshot, .restoreFirstSnapshot]),
        (nil, [.write("new\n", mode: 0o600, validates: false), .restoreFirstSnapshot]),
    ]

    @Test(arguments: sequences.indices)
    func filesBehaveAsOnTheLocalTransport(_ index: Int) async throws {
        // Given the same starting file in a temporary folder and in memory
        let (start, operations) = Self.sequences[index]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let local = LocalTransport(directory: folder.path)
        let memory = RecordingTransport(user: (getuid(), getgid()))
        let localPath = folder.appendingPathComponent("app.conf").path
        if let start {
            try Data(start.utf8).write(to: URL(fileURLWithPath: localPath))
            chmod(localPath, 0o640)
            memory.place("app.conf", start, mode: 0o640, owner: getuid(), group: getgid())
        }

        // When the same operations are done on both
        func outcomes(_ transport: any TargetTransport, _ path: String) async throws -> [String] {
            let first = try await transport.snapshot(path, follow: false)
            var outcomes: [String] = []
            for operation in operations {
                switch operation {
                case .write(let content, let mode, let validates):
                    let validate: @Sendable (String) async -> CommandResult = { _ in
                        CommandResult(termination: .exited(validates ? 0 : 1), output: "", duration: .zero)
                    }
                    outcomes.append("\(try await transport.write(Data(content.utf8), to: path, mode: mode, temporary: nil, previous: nil, validate: validate))")
                case .restoreFirstSnapshot:
                    outcomes.append("\(try await transport.restore(first))")
                }
                let now = try await transport.snapshot(path, follow: false)
                outcomes.append(now.existed ? "\(String(decoding: now.content ?? Data(), as: UTF8.self).debugDescription) \(String(now.mode ?? 0, radix: 8))" : "no file")
            }
            return outcomes
        }
        let expected = try await outcomes(local, localPath)
        let got = try await outcomes(memory, "app.conf")

        // Then every outcome and every state in between is the same, and nothing staged is left
        #expect(got == expected)
        #expect(memory.paths == (try FileManager.default.contentsOfDirectory(atPath: folder.path)).sorted())
    }
}
