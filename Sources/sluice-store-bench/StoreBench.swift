import Foundation
import GRDBSQLite
import SluiceAudit
import SluiceCore

/// Helper for the audit store's multi-process tests and its benchmark.
///
///     sluice-store-bench append STORE COUNT TASKS TAG   append COUNT events from TASKS tasks,
///                                                       printing each returned seq on stdout
///     sluice-store-bench lock STORE RUN TARGETS TTL_MS [hold]
///                                                       wait for a line on stdin, try to lock the
///                                                       comma-separated TARGETS, print `acquired`
///                                                       or `blocked`; with `hold`, keep running
///                                                       until stdin closes
///     sluice-store-bench bench FOLDER COUNT [ROUNDS]    durable appends per second vs raw SQLite
@main
struct StoreBench {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            switch arguments.first {
            case "append" where arguments.count == 5:
                guard let count = Int(arguments[2]), let tasks = Int(arguments[3]) else { usage() }
                try await append(store: arguments[1], count: count, tasks: tasks, tag: arguments[4])
            case "lock" where arguments.count == 5 || arguments.count == 6:
                guard let run = RunID(arguments[2]), let ttl = Int64(arguments[4]) else { usage() }
                try await lock(store: arguments[1], run: run, targets: arguments[3].split(separator: ",").map(String.init),
                               ttlMilliseconds: ttl, hold: arguments.count == 6 && arguments[5] == "hold")
            case "bench" where arguments.count == 3 || arguments.count == 4:
                guard let count = Int(arguments[2]), let rounds = Int(arguments.count == 4 ? arguments[3] : "3"),
                      count >= 16, rounds >= 1 else { usage() }
                try await Benchmark(folder: arguments[1], count: count, rounds: rounds).run()
            default:
                usage()
            }
        } catch {
            FileHandle.standardError.write(Data("sluice-store-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("""
            usage: sluice-store-bench append STORE COUNT TASKS TAG
                   sluice-store-bench lock STORE RUN TARGETS TTL_MS [hold]
                   sluice-store-bench bench FOLDER COUNT [ROUNDS]

            """.utf8))
        exit(64)
    }

    static func append(store path: String, count: Int, tasks: Int, tag: String) async throws {
        let store = try AuditStore(path: path)
        let run = RunID.generate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for index in stride(from: task, to: count, by: tasks) {
                        let event = try await store.append(
                            EventDraft(runID: run, actor: "bench", kind: .stepFinished, target: tag,
                                       step: "step \(index)", status: "succeeded", exitCode: 0,
                                       detail: ["process": .string(tag), "index": .integer(Int64(index))]),
                            redactor: .none)
                        // One write(2) per line: lines from concurrent tasks never interleave.
                        FileHandle.standardOutput.write(Data("\(event.seq)\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func lock(store path: String, run: RunID, targets: [String], ttlMilliseconds: Int64, hold: Bool) async throws {
        let store = try AuditStore(path: path)
        _ = readLine()
        let result = try await store.acquireLocks(
            on: targets, for: .current(runID: run), ttl: .milliseconds(ttlMilliseconds), actor: "bench", redactor: .none)
        switch result {
        case .acquired:
            FileHandle.standardOutput.write(Data("acquired\n".utf8))
        case .blocked:
            FileHandle.standardOutput.write(Data("blocked\n".utf8))
        }
        if hold {
            while readLine() != nil {}
        }
    }
}

/// Measures durable appends per second against raw SQLite at the same durability.
struct Benchmark {
    let folder: String
    let count: Int
    let rounds: Int

    func run() async throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var raw: [Double] = []
        var single: [Double] = []
        var concurrent: [Double] = []
        // Interleave the three measurements so that a slow moment of the disk hurts all alike.
        for round in 1...rounds {
            raw.append(try rawSQLite(path: "\(folder)/raw-\(round).sqlite"))
            single.append(try await store(path: "\(folder)/single-\(round).sqlite", tasks: 1))
            concurrent.append(try await store(path: "\(folder)/concurrent-\(round).sqlite", tasks: 16))
        }
        let rawRate = median(raw)
        let singleRate = median(single)
        let concurrentRate = median(concurrent)
        func format(_ rate: Double) -> String { String(format: "%8.0f", rate) }
        print("durable appends per second, \(count) events per measurement, median of \(rounds) round(s)")
        print("  raw SQLite (1-row INSERT + COMMIT, WAL, synchronous=FULL): \(format(rawRate)) /s")
        print("  AuditStore, 1 writer:                                     \(format(singleRate)) /s  "
              + String(format: "%.0f %% of raw (goal >= 80 %%)", singleRate / rawRate * 100))
        print("  AuditStore, 16 concurrent tasks:                          \(format(concurrentRate)) /s  "
              + String(format: "%.1fx one writer (goal >= 5x)", concurrentRate / singleRate))
        print("  all rounds: raw \(raw.map { Int($0) }), 1 writer \(single.map { Int($0) }), 16 tasks \(concurrent.map { Int($0) })")
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A row about the size of an audit event.
    private var payload: String { String(repeating: "x", count: 300) }

    private func store(path: String, tasks: Int) async throws -> Double {
        let store = try AuditStore(path: path)
        let run = RunID.generate()
        let perTask = count / tasks
        let draft = EventDraft(runID: run, actor: "bench", kind: .stepFinished, target: "target-1", stage: "canary",
                               step: "apply config", status: "succeeded", exitCode: 0, durationMilliseconds: 1234,
                               detail: ["command": "./apply.sh target-1", "output": .string(payload)])
        let elapsed = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<perTask { try await store.append(draft, redactor: .none) }
                    }
                }
                try await group.waitForAll()
            }
        }
        return Double(perTask * tasks) / seconds(elapsed)
    }

    private func rawSQLite(path: String) throws -> Double {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
              let db = handle else { throw BenchError.sqlite("cannot open \(path)") }
        defer { sqlite3_close(db) }
        func execute(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                throw BenchError.sqlite("\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, "INSERT INTO t (payload) VALUES (?)", -1, &statement, nil) == SQLITE_OK,
              let insert = statement else { throw BenchError.sqlite("cannot prepare the insert") }
        defer { sqlite3_finalize(insert) }
        let text = payload
        let elapsed = try ContinuousClock().measure {
            for _ in 0..<count {
                try execute("BEGIN IMMEDIATE")
                sqlite3_reset(insert)
                _ = text.withCString { sqlite3_bind_text(insert, 1, $0, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
                guard sqlite3_step(insert) == SQLITE_DONE else { throw BenchError.sqlite("insert failed") }
                try execute("COMMIT")
            }
        }
        return Double(count) / seconds(elapsed)
    }
}

enum BenchError: Error {
    case sqlite(String)
}
