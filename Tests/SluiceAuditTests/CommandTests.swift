import Foundation
import SluiceCore
import SluiceTesting
import Testing
@testable import SluiceAudit

/// The audit commands of the built `sluice` binary, against stores made with the library.
@Suite(.ownThread) struct CommandTests {
    static let runID = RunID("r-20261121-083015-7f3a")!

    /// A store holding one run with a stage, two targets, a failed step with output and a
    /// rollback.
    static func recordedRun(in world: TestWorld) async throws -> AuditStore {
        let store = try world.openStore()
        try await store.createRun(RunRecord(
            id: runID, runbookID: "alma-loan-config", title: "Roll out the loan-policy configuration", kind: .change,
            mode: .apply, actor: "alice", host: "ops-1", pid: 4242, contentHash: "sha256:abc",
            runbookPath: "Runbooks/alma.yaml", startedAt: "2026-11-21T08:30:15.000Z"))
        let journal = RunJournal(store: store, runID: runID, actor: "alice", redactor: Redactor(secrets: ["hunter2"]))
        func append(_ kind: EventKind, target: String? = nil, stage: String? = nil, step: String? = nil,
                    status: String? = nil, exitCode: Int? = nil, duration: Int64? = nil,
                    detail: [String: JSONValue] = [:]) async throws {
            try await journal.record(kind, target: target, stage: stage, step: step, status: status, exitCode: exitCode,
                                     durationMilliseconds: duration, detail: detail)
        }
        try await append(.runStarted)
        try await append(.stageStarted, stage: "canary")
        try await append(.stepStarted, target: "ap01-a", stage: "canary", step: "apply config",
                         detail: ["command": "./apply.sh ap01-a --token hunter2"])
        try await append(.stepFinished, target: "ap01-a", stage: "canary", step: "apply config", status: "failed",
                         exitCode: 2, duration: 1520, detail: ["output": "checking, ok\nerror: \"limit\" exceeded\n"])
        try await append(.rollbackStepStarted, target: "ap01-a", stage: "canary", step: "apply config")
        try await append(.stepStarted, target: "ap01-b", stage: "canary", step: "apply config")
        try await append(.stageFinished, stage: "canary", status: "failed")
        try await append(.runFinished, status: "rolled_back", detail: ["reason": "step failed"])
        try await store.finishRun(runID, outcome: .rolledBack)
        return store
    }

    static func sluice(_ world: TestWorld, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["SLUICE_STORE"] = world.storePath
        environment["NO_COLOR"] = "1"
        return try Helper.run("sluice", arguments, environment: environment)
    }

    @Test func verifyExitsZeroWhenIntactAndOneNamingTheFirstBadSeq() async throws {
        // Given a recorded run
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Self.recordedRun(in: world)

        // When verified intact, then tampered with
        let intact = try Self.sluice(world, ["audit", "verify"])
        try world.tamper("UPDATE events SET status = 'succeeded' WHERE seq = 4")
        let tampered = try Self.sluice(world, ["audit", "verify"])

        // Then the exit statuses and messages say so
        #expect(intact.status == 0, "\(intact)")
        #expect(intact.output.hasPrefix("audit chain intact: 8 events"))
        #expect(tampered.status == 1, "\(tampered)")
        #expect(tampered.output.contains("BROKEN at seq 4: changed"))
    }

    @Test func verifyOfAMissingStoreFails() throws {
        let world = try TestWorld()
        defer { world.remove() }
        let result = try Self.sluice(world, ["audit", "verify"])
        #expect(result.status == 1)
        #expect(result.errors.contains("no audit store at"))
        #expect(!FileManager.default.fileExists(atPath: world.storePath))
    }

    @Test func showRendersTheTimelineWithSecretsRedacted() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Self.recordedRun(in: world)

        let result = try Self.sluice(world, ["show", Self.runID.rawValue])

        #expect(result.status == 0, "\(result)")
        let text = result.output
        #expect(text.contains("Run r-20261121-083015-7f3a  apply  alma-loan-config"))
        #expect(text.contains("outcome: rolled_back"))
        #expect(text.contains("Stage canary"))
        #expect(text.contains("step  \"apply config\"  failed  exit 2  1.5s"))
        #expect(text.contains("$ ./apply.sh ap01-a --token ***"))
        #expect(text.contains("| error: \"limit\" exceeded"))
        #expect(text.contains("started, not finished (in doubt)"))
        #expect(!text.contains("hunter2"))
    }

    @Test func showAsJSONHoldsTheRunTimelineAndEvents() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Self.recordedRun(in: world)

        let result = try Self.sluice(world, ["show", Self.runID.rawValue, "--json"])

        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect((object?["events"] as? [Any])?.count == 8)
        #expect((object?["run"] as? [String: Any])?["outcome"] as? String == "rolled_back")
        #expect((object?["timeline"] as? [Any])?.count == 2)
    }

    @Test(arguments: [["show", "r-20261121-083015-0000"], ["show", "not-a-run"], ["audit", "export", "--run", "r-1"]])
    func unknownOrMalformedRunsExitTwo(arguments: [String]) async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Self.recordedRun(in: world)

        let result = try Self.sluice(world, arguments)

        #expect(result.status == 2, "\(result)")
        #expect(result.errors.contains("sluice runs"))
    }

    @Test func runsListsNewestFirstAsTextAndJSON() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        _ = try await Self.recordedRun(in: world)

        let text = try Self.sluice(world, ["runs"])
        let json = try Self.sluice(world, ["runs", "--json", "--limit", "5"])

        #expect(text.status == 0)
        #expect(text.output.contains("r-20261121-083015-7f3a"))
        #expect(text.output.contains("rolled_back"))
        let runs = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
        #expect(runs?.first?["id"] as? String == Self.runID.rawValue)
    }

    @Test func exportWritesEveryEventAsJSONLinesOrQuotedCSV() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Self.recordedRun(in: world)
        let events = try await store.events()

        let jsonl = try Self.sluice(world, ["audit", "export", "--run", Self.runID.rawValue])
        let csv = try Self.sluice(world, ["audit", "export", "--format", "csv"])

        #expect(jsonl.status == 0)
        let lines = jsonl.output.split(separator: "\n")
        #expect(lines.count == events.count)
        let fourth = try JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any]
        #expect(fourth?["hash"] as? String == events[3].hash)
        #expect(fourth?["exit_code"] as? Int == 2)
        #expect(csv.status == 0)
        let rows = csv.output.components(separatedBy: "\r\n")
        #expect(rows.first == EventExport.columns.joined(separator: ","))
        // The failed step's detail holds a comma and quotes: one quoted field, quotes doubled
        #expect(csv.output.contains(#""{""output"":""checking, ok\u000aerror: \""limit\"" exceeded\u000a""}""#))
    }

    @Test func unlockRefusesALiveHolderAndFreesADeadOnes() async throws {
        // Given a lock held by this (live) test process, and one held by a process that is gone
        let world = try TestWorld()
        defer { world.remove() }
        let store = try world.openStore()
        _ = try await store.acquireLocks(on: ["live-1"], for: .current(runID: Self.runID), ttl: .milliseconds(1),
                                         actor: "alice", redactor: .none)
        let gone = try Helper.start("sluice-store-bench", ["lock", world.storePath, "r-20261121-083015-0006", "dead-1", "1"])
        gone.send("go")
        var buffer = Data()
        #expect(gone.finish(buffer: &buffer) == ["acquired"])
        try await Task.sleep(for: .milliseconds(5)) // let the 1 ms TTLs run out

        // When an operator unlocks each
        let refused = try Self.sluice(world, ["unlock", "live-1", "--reason", "stuck?", "--as", "carol"])
        let freed = try Self.sluice(world, ["unlock", "dead-1", "--reason", "runner crashed", "--as", "carol"])
        let missing = try Self.sluice(world, ["unlock", "nothing", "--reason", "typo"])
        let noReason = try Self.sluice(world, ["unlock", "dead-1", "--reason", " "])

        // Then the live one is refused with the holder named, the dead one freed and audited
        #expect(refused.status == 4, "\(refused)")
        #expect(refused.errors.contains("run \(Self.runID)"))
        #expect(refused.errors.contains("pid \(getpid())"))
        #expect(freed.status == 0, "\(freed)")
        #expect(missing.status == 4)
        #expect(missing.errors.contains("live-1"))
        #expect(noReason.status == 64)
        let forced = try await store.events().filter { $0.kind == "lock.forced" }
        #expect(forced.map(\.actor) == ["carol"])
        #expect(forced.first?.target == "dead-1")
        #expect(try await store.locks().map(\.target) == ["live-1"])
    }
}
