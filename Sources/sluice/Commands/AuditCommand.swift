import ArgumentParser
import Foundation
import SluiceAudit

/// `sluice audit`: checks and exports of the audit store's event chain.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify or export the audit store's hash-chained events.",
        subcommands: [AuditVerifyCommand.self, AuditExportCommand.self]
    )
}

/// `sluice audit verify`: recomputes the hash chain.
struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the hash chain and name the first broken record.",
        discussion: """
            Exit status: 0 intact; 1 tampered (the first bad seq and what is wrong: changed, missing, \
            inserted or reordered), or no store at the given path.
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("no audit store at \(storeOptions.resolvedStorePath): nothing to verify. "
                                     + "Pass --store PATH or set SLUICE_STORE; a store that should exist and does not "
                                     + "has been removed.")
            throw ExitCode(1)
        }
        let report = try await store.verify()
        if let problem = report.problem {
            Console.write("""
                audit chain BROKEN at seq \(problem.seq): \(problem.kind.rawValue): \(problem.explanation)
                Records from seq \(problem.seq) on cannot be trusted. Keep a copy of \(store.path) for investigation \
                and compare it with a backup or with `sluice audit export`s taken earlier.

                """.escapedForTerminal)
            throw ExitCode(1)
        }
        // Each backup's digest is in the chained event that took it: a backup edited in the store
        // would otherwise be restored by rollback as it now reads.
        let (backupProblems, unchained) = try await store.backupProblems()
        if !backupProblems.isEmpty {
            Console.write(("audit chain intact, but \(backupProblems.count) file backup\(backupProblems.count == 1 ? "" : "s") BROKEN:\n"
                + backupProblems.map { "  \($0)\n" }.joined()
                + "Rollback refuses to restore these backups. Keep a copy of \(store.path) for investigation.\n").escapedForTerminal)
            throw ExitCode(1)
        }
        if unchained > 0 {
            Console.note("\(unchained) file backup\(unchained == 1 ? " was" : "s were") taken before backups were chained to the audit log; rollback refuses to restore \(unchained == 1 ? "it" : "them"): restore such files by hand if a rollback needs them.")
        }
        var line = "audit chain intact: \(report.eventCount) event\(report.eventCount == 1 ? "" : "s")"
        if let seq = report.headSeq, let hash = report.headHash {
            line += "; head seq \(seq), hash \(hash)"
        }
        Console.write(line + "\n")
    }
}

/// `sluice audit export [--run RUN] [--format jsonl|csv]`: every event, for other tools.
struct AuditExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every event (or one run's) as JSON Lines or CSV.",
        discussion: """
            Every column is written, including prev_hash and hash; detail is the stored JSON text. \
            Exit status: 0; 1 when there is no store; 2 when --run is malformed or unknown.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Only this run's events.", valueName: "run"))
    var run: String?

    @Option(name: .long, help: ArgumentHelp("jsonl (default) or csv.", valueName: "format"))
    var format: EventExport.Format = .jsonl

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let id = try run.map(AuditCommandSupport.runID)
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("no audit store at \(storeOptions.resolvedStorePath): nothing to export. "
                                     + "Pass --store PATH or set SLUICE_STORE.")
            throw ExitCode(1)
        }
        let events = try await store.events(of: id)
        if let id, events.isEmpty, try await store.run(id) == nil {
            Console.fail("no run \(id) in the audit store \(store.path). List runs with `sluice runs`.")
            throw ExitCode(2)
        }
        var text = EventExport.header(format) ?? ""
        for event in events {
            text += EventExport.line(event, format: format)
            if text.utf8.count > 1 << 16 {
                Console.write(text)
                text = ""
            }
        }
        Console.write(text)
    }
}

extension EventExport.Format: ExpressibleByArgument {}
