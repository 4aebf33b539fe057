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
///
/// The disk's fsync latency drifts while other programs write (a device cache flush waits for
/// everyone's data), so the three writers take turns in slices of 400 events, each on its own
/// file, and each rate is its events over the sum of its own slices. A slow moment then hurts
/// all three alike instead of whichever happened to be running.
struct Benchmark {
    let folder: String
    let count: Int
    let rounds: Int

    static let slice = 400

    func run() async throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var raw: [Double] = []
        var single: [Double] = []
        var concurrent: [Double] = []
        for round in 1...rounds {
            let rawWriter = try RawSQLiteWriter(path: "\(folder)/raw-\(round).sqlite", payload: payload)
            let singleStore = try AuditStore(path: "\(folder)/single-\(round).sqlite")
            let concurrentStore = try AuditStore(path: "\(folder)/concurrent-\(round).sqlite")
            var times = (raw: Duration.zero, single: Duration.zero, concurrent: Duration.zero)
            var done = 0
            while done < count {
                let events = min(Self.slice, count - done)
                times.raw += try await rawWriter.insertOnWriterThread(events)
                times.single += try await append(events, to: singleStore, tasks: 1)
                times.concurrent += try await append(events, to: concurrentStore, tasks: 16)
                done += events
            }
            raw.append(Double(count) / seconds(times.raw))
            single.append(Double(count) / seconds(times.single))
            concurrent.append(Double(count) / seconds(times.concurrent))
        }
        let singleRatios = zip(single, raw).map { $0 / $1 }
        let concurrentRatios = zip(concurrent, single).map { $0 / $1 }
        func cell(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        print("durable appends per second (WAL, synchronous=FULL, one commit per append or per group), "
              + "\(count) events per writer and round, writers taking turns in slices of \(Self.slice)")
        print(cell("round", 7) + cell("raw SQLite", 12) + cell("1 writer", 10) + cell("16 tasks", 10)
              + cell("1 writer / raw", 16) + cell("16 tasks / 1 writer", 21))
        for index in raw.indices {
            print(cell("\(index + 1)", 7) + cell("\(Int(raw[index]))", 12) + cell("\(Int(single[index]))", 10)
                  + cell("\(Int(concurrent[index]))", 10)
                  + cell(String(format: "%.0f %%", singleRatios[index] * 100), 16)
                  + cell(String(format: "%.1fx", concurrentRatios[index]), 21))
        }
        let singleRatio = median(singleRatios)
        let concurrentRatio = median(concurrentRatios)
        print(cell("median", 7) + cell("\(Int(median(raw)))", 12) + cell("\(Int(median(single)))", 10)
              + cell("\(Int(median(concurrent)))", 10) + cell(String(format: "%.0f %%", singleRatio * 100), 16)
              + cell(String(format: "%.1fx", concurrentRatio), 21))
        print("goals (medians of the per-round ratios): 1 writer >= 80 % of raw SQLite: "
              + (singleRatio >= 0.8 ? "met" : "NOT met") + "; 16 tasks >= 5x one writer: "
              + (concurrentRatio >= 5 ? "met" : "NOT met"))
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A row about the size of an audit event's output tail.
    private var payload: String { String(repeating: "x", count: 300) }

    /// Appends `events` events from `tasks` tasks (sharing them out) and returns the time taken.
    private func append(_ events: Int, to store: AuditStore, tasks: Int) async throws -> Duration {
        let draft = EventDraft(runID: RunID.generate(), actor: "bench", kind: .stepFinished, target: "target-1",
                               stage: "canary", step: "apply config", status: "succeeded", exitCode: 0,
                               durationMilliseconds: 1234, detail: ["command": "./apply.sh target-1", "output": .string(payload)])
        return try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for _ in stride(from: task, to: events, by: tasks) { try await store.append(draft, redactor: .none) }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// Raw SQLite through its C API: one-row INSERT and COMMIT per event, WAL, synchronous=FULL.
///
/// Unchecked Sendable: its connection is only ever used on its own serial queue, one slice at
/// a time.
final class RawSQLiteWriter: @unchecked Sendable {
    private let db: OpaquePointer
    private let insertStatement: OpaquePointer
    private let payload: String

    init(path: String, payload: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
              let db = handle else { throw BenchError.sqlite("cannot open \(path)") }
        self.db = db
        self.payload = payload
        for sql in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                    "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"] {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                sqlite3_close(db)
                throw BenchError.sqlite("\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, "INSERT INTO t (payload) VALUES (?)", -1, &statement, nil) == SQLITE_OK,
              let insert = statement else {
            sqlite3_close(db)
            throw BenchError.sqlite("cannot prepare the insert")
        }
        insertStatement = insert
    }

    deinit {
        sqlite3_finalize(insertStatement)
        sqlite3_close(db)
    }

    /// A thread like the audit store's writer (a serial queue, same quality of service), so
    /// that both loops get the same share of a busy CPU.
    private let queue = DispatchQueue(label: "bench.raw", qos: .userInitiated)

    /// Runs ``insert(_:)`` on the writer thread.
    func insertOnWriterThread(_ events: Int) async throws -> Duration {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.insert(events) }) }
        }
    }

    /// Inserts `events` rows, one transaction each, and returns the time taken.
    func insert(_ events: Int) throws -> Duration {
        try ContinuousClock().measure {
            for _ in 0..<events {
                try execute("BEGIN IMMEDIATE")
                sqlite3_reset(insertStatement)
                _ = payload.withCString {
                    sqlite3_bind_text(insertStatement, 1, $0, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
                }
                guard sqlite3_step(insertStatement) == SQLITE_DONE else { throw BenchError.sqlite("insert failed") }
                try execute("COMMIT")
            }
        }
    }

    private func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw BenchError.sqlite("\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }
}

enum BenchError: Error {
    case sqlite(String)
}
