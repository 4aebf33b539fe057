import Foundation
import GRDB
import SluiceCore
import Testing
@testable import SluiceAudit

/// A temporary folder and an audit store in it, for one test.
struct TestWorld {
    let folder: URL
    let storePath: String

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-audit-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        storePath = folder.appendingPathComponent("store/audit.sqlite").path
    }

    func openStore(clock: @escaping @Sendable () -> Date = { Date() }) throws -> AuditStore {
        try AuditStore(path: storePath, clock: clock)
    }

    /// A plain SQLite connection to the store's file, with no Sluice code in the way, for
    /// tampering the way an attacker with file access would.
    func rawConnection() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: storePath, configuration: configuration)
    }

    /// Executes `sql` on a raw connection after dropping the append-only triggers.
    func tamper(_ sql: String) throws {
        let queue = try rawConnection()
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: """
                DROP TRIGGER IF EXISTS events_are_append_only_update;
                DROP TRIGGER IF EXISTS events_are_append_only_delete;
                """)
            try db.execute(sql: sql)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

enum Fixtures {
    static let run = RunID("r-20261121-083015-7f3a")!

    /// A draft with every field set, so that tampering with any column changes something.
    static func draft(_ index: Int, run: RunID = Fixtures.run) -> EventDraft {
        EventDraft(
            runID: run, actor: "alice", kind: .stepFinished, target: "ap01-\(index)", stage: "canary",
            step: "apply config", status: "succeeded", exitCode: 0, durationMilliseconds: Int64(100 + index),
            detail: ["command": "./apply.sh ap01-\(index)", "output": "done \(index)\n"])
    }

    /// A store with `count` events, every column filled.
    static func store(in world: TestWorld, events count: Int) async throws -> AuditStore {
        let store = try world.openStore()
        for index in 1...count {
            try await store.append(draft(index), redactor: .none)
        }
        return store
    }
}

/// Runs the helper executable `sluice-store-bench` (or `sluice`) built next to the tests.
enum Helper {
    /// The folder holding the built products (where the test binary itself lives).
    static var productsFolder: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [
            executable.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug"),
        ]
        return candidates.first {
            FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("sluice-store-bench").path)
        } ?? candidates[0]
    }

    static func url(of product: String) throws -> URL {
        let url = productsFolder.appendingPathComponent(product)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw HelperError.notBuilt(url.path)
        }
        return url
    }

    /// A started process with pipes on its standard input and output.
    static func start(_ product: String, _ arguments: [String]) throws -> RunningHelper {
        let process = Process()
        process.executableURL = try url(of: product)
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return RunningHelper(process: process, input: input, output: output, errors: errors)
    }

    /// Runs to completion and returns status, standard output and standard error.
    static func run(_ product: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> (status: Int32, output: String, errors: String)
    {
        let process = Process()
        process.executableURL = try url(of: product)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self),
                String(decoding: errorData, as: UTF8.self))
    }
}

struct RunningHelper {
    let process: Process
    let input: Pipe
    let output: Pipe
    let errors: Pipe

    var pid: Int32 { process.processIdentifier }

    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    /// Reads standard output until it holds at least `count` complete lines (or ends).
    func readLines(atLeast count: Int, into buffer: inout Data) -> [String] {
        while lines(in: buffer).count < count {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
        }
        return lines(in: buffer)
    }

    /// Reads the rest of standard output, waits for the process and returns all complete lines.
    func finish(buffer: inout Data) -> [String] {
        buffer.append(output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        return lines(in: buffer)
    }

    var errorText: String {
        String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Complete lines only: a line cut by SIGKILL before its newline does not count.
    private func lines(in data: Data) -> [String] {
        var text = String(decoding: data, as: UTF8.self)
        if let lastNewline = text.lastIndex(of: "\n") {
            text = String(text[..<lastNewline])
        } else {
            return []
        }
        return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }
}

enum HelperError: Error, CustomStringConvertible {
    case notBuilt(String)

    var description: String {
        switch self {
        case .notBuilt(let path):
            return "\(path) is not built; run `swift build` before `swift test`"
        }
    }
}
