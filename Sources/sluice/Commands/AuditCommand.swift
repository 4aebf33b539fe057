import ArgumentParser
import Foundation
import SluiceAudit

/// `sluice audit`: checks and exports of the audit store's event chain.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, anchor or export the audit store's hash-chained events.",
        subcommands: [AuditVerifyCommand.self, AuditHeadCommand.self, AuditExportCommand.self]
    )
}

/// `sluice audit verify [--anchor SEQ:HASH]... [--anchors FILE]...`: recomputes the hash chain
/// and checks that it still holds every anchor given.
struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the hash chain, name the first broken record, and check the chain still holds each anchor.",
        discussion: """
            An anchor is a chain head recorded outside the store (a run's output and run.finished \
            notification, or `sluice audit head`). The chain alone cannot show that events were deleted \
            from its end, that the store was emptied or that an older copy was put back; an anchor it no \
            longer holds can. Anchor files hold one SEQ:HASH per line; # starts a comment.
            Exit status: 0 intact and every anchor held; 1 tampered (the first bad seq and what is wrong: \
            changed, missing, inserted or reordered; or each anchor not held), or no store at the given path; \
            64 a malformed anchor or an unreadable anchor file.
            """
    )

    @Option(name: .customLong("anchor"), help: ArgumentHelp(
        "A chain head recorded earlier, as `sluice audit head` prints it; repeatable.", valueName: "seq:hash"))
    var anchorTexts: [String] = []

    @Option(name: .customLong("anchors"), help: ArgumentHelp(
        "A file of anchors, one SEQ:HASH per line (# comments, blank lines); repeatable.", valueName: "file"))
    var anchorFiles: [String] = []

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        _ = try anchors()
    }

    /// Every anchor given, with where it was given (`--anchor`, or `FILE:LINE`) for the messages.
    ///
    /// - Throws: `ValidationError` (exit 64) naming the flag or the file and line.
    func anchors() throws -> [(anchor: AuditAnchor, origin: String)] {
        var anchors: [(anchor: AuditAnchor, origin: String)] = []
        for text in anchorTexts {
            do {
                anchors.append((try AuditAnchor(parsing: text), "--anchor"))
            } catch {
                throw ValidationError("--anchor \(error). Give it as `sluice audit head` prints it, for example 42:\(String(repeating: "0", count: 64)).")
            }
        }
        for file in anchorFiles {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ValidationError("--anchors \(file): cannot read the anchor file (\(error.localizedDescription)). Check the path and its permissions.")
            }
            let (lines, errors) = AuditAnchor.parseFile(text)
            guard errors.isEmpty else {
                throw ValidationError("--anchors \(file): "
                    + errors.map { "\(file):\($0.line): \($0.problem)" }.joined(separator: "; ")
                    + ". Each line holds one SEQ:HASH as `sluice audit head` prints it, a # comment, or nothing.")
            }
            anchors += lines.map { ($0.anchor, "\(file):\($0.number)") }
        }
        return anchors
    }

    func run() async throws {
        let anchors = try anchors()
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath): nothing to verify. "
                + (anchors.isEmpty ? "" : "\(anchors.count) anchor\(anchors.count == 1 ? " was" : "s were") recorded for a store: "
                    + "if it was here, it was removed or moved. ")
                + "Pass --store PATH or set SLUICE_STORE; a store that should exist and does not has been removed.")
            throw ExitCode(1)
        }
        let report = try await store.verify(anchors: anchors.map(\.anchor))
        if !report.isIntact {
            if let problem = report.problem {
                Console.line("audit chain BROKEN at seq \(problem.seq): \(problem.kind.rawValue): \(problem.explanation)")
            }
            // One line per anchor given, named by where it was given (an anchor given twice, twice).
            for (anchor, origin) in anchors {
                if let problem = report.anchorProblems.first(where: { $0.anchor == anchor }) {
                    Console.line("audit anchor NOT HELD (\(origin)): \(problem.kind.rawValue): \(problem.explanation)")
                }
            }
            let since = report.problem.map { "Records from seq \($0.seq) on cannot be trusted" }
                ?? "The store no longer holds what it held when the anchors were recorded"
            Console.write("""
                \(since). Keep a copy of \(store.location.lexicallyNormalizedPath) for investigation and compare it with a backup or with \
                `sluice audit export`s taken earlier.

                """.escapedForTerminal)
            throw ExitCode(1)
        }
        // Each backup's digest is in the chained event that took it: a backup edited in the store
        // would otherwise be restored by rollback as it now reads.
        let (backupProblems, unchained) = try await store.backupProblems()
        if !backupProblems.isEmpty {
            Console.write(("audit chain intact, but \(backupProblems.count) file backup\(backupProblems.count == 1 ? "" : "s") BROKEN:\n"
                + backupProblems.map { "  \($0)\n" }.joined()
                + "Rollback refuses to restore these backups. Keep a copy of \(store.location.lexicallyNormalizedPath) for investigation.\n").escapedForTerminal)
            throw ExitCode(1)
        }
        if unchained > 0 {
            Console.note("\(unchained) file backup\(unchained == 1 ? " was" : "s were") taken before backups were chained to the audit log; rollback refuses to restore \(unchained == 1 ? "it" : "them"): restore such files by hand if a rollback needs them.")
        }
        var line = "audit chain intact: \(report.eventCount) event\(report.eventCount == 1 ? "" : "s")"
        if let seq = report.headSeq, let hash = report.headHash {
            line += "; head seq \(seq), hash \(hash)"
        }
        if !anchors.isEmpty {
            line += anchors.count == 1 ? "; holds the anchor given" : "; holds all \(anchors.count) anchors given"
        }
        Console.write(line + "\n")
    }
}

/// `sluice audit head [--json]`: the chain's newest event, to record outside the store as an
/// anchor for `audit verify`.
struct AuditHeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head",
        abstract: "Print the chain's head as SEQ:HASH, an anchor for `sluice audit verify --anchor`.",
        discussion: """
            Prints only SEQ:HASH, so `sluice audit head >> anchors` builds an anchor file. Record it \
            off this host (a ticket, a log shipper, another machine): an anchor kept beside the store can \
            be replaced with it. It reads the newest event only and does not verify the chain: run \
            `sluice audit verify` before trusting a head. An empty store prints nothing (a note on \
            stderr; --json: nulls). Exit status: 0; 1 when there is no store at the given path.
            """
    )

    @Flag(name: .long, help: "Print {\"anchor\", \"seq\", \"hash\", \"time\"} as JSON.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        guard let store = try AuditCommandSupport.openExistingStore(storeOptions) else {
            Console.fail("no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath): it has no head. "
                + "Pass --store PATH or set SLUICE_STORE; a store that should exist and does not has been removed.")
            throw ExitCode(1)
        }
        let head = try await store.head()
        if json {
            Console.write(try Console.jsonText(HeadJSON(head)))
        } else if let head {
            Console.line(AuditAnchor(head).description)
        }
        if head == nil {
            // Not a failure: a store no run has written to yet is empty too. An anchor recorded
            // earlier is what tells an emptied store from a new one.
            Console.note("the audit store \(store.location.lexicallyNormalizedPath) holds no events: there is no head to record yet.")
        }
    }

    /// `audit head --json`: every key always present, `null` for an empty store.
    struct HeadJSON: Encodable {
        let head: RecordedEvent?

        init(_ head: RecordedEvent?) { self.head = head }

        enum CodingKeys: String, CodingKey { case anchor, seq, hash, time }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(head.map { AuditAnchor($0).description }, forKey: .anchor)
            try container.encode(head?.seq, forKey: .seq)
            try container.encode(head?.hash, forKey: .hash)
            try container.encode(head?.time, forKey: .time)
        }
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
            Console.fail("no audit store at \(storeOptions.resolvedStorePath.lexicallyNormalizedPath): nothing to export. "
                                     + "Pass --store PATH or set SLUICE_STORE.")
            throw ExitCode(1)
        }
        let events = try await store.events(of: id)
        if let id, events.isEmpty, try await store.run(id) == nil {
            Console.fail("no run \(id) in the audit store \(store.location.lexicallyNormalizedPath). List runs with `sluice runs`.")
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
