import Foundation
import SluiceTestSupport
import SluiceTesting
import Testing

/// Anchors through the built binary: every run prints the chain head its `run.finished` left,
/// `audit head` prints it, and `audit verify --anchor` catches what the chain alone cannot: the
/// newest events deleted with `sqlite_sequence`, the store emptied, an older copy put back.
///
/// Each attack is made the way someone with write access to the store would make it, with the
/// `sqlite3` program or file copies, and each test first shows that `audit verify` without an
/// anchor still calls the store intact: that is the gap the anchor closes.
@Suite("Audit anchors: truncation, emptying and an older copy, caught through the binary", .ownThread)
struct AuditAnchorTests {
    /// `SEQ:HASH` from the run summary's `Audit: … chain head SEQ:HASH …` line.
    static func anchor(in output: String) -> String? {
        output.firstMatch(of: /chain head ([0-9]+:[0-9a-f]{64})/).map { String($0.output.1) }
    }

    /// A GatesWorld run applied, with its printed anchor (checked against the store's own events).
    static func applied(_ world: GatesWorld) throws -> (run: String, anchor: String) {
        let result = try world.apply()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let anchor = try #require(Self.anchor(in: result.stdout), "no chain head in: \(result.stdout)")
        let finished = try #require(world.events().last { $0["kind"] as? String == "run.finished" })
        #expect(anchor == "\(finished["seq"] as? Int ?? -1):\(finished["hash"] as? String ?? "")")
        return (try #require(finished["run_id"] as? String), anchor)
    }

    /// Runs `sql` on the store with the `sqlite3` program.
    static func sqlite(_ world: GatesWorld, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [world.store, sql]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "sqlite3: \(message)")
    }

    /// What an attacker hiding `run` runs: the append-only trigger dropped (and put back after),
    /// the run's events deleted with `sqlite_sequence`'s memory of them, its other rows too.
    static func hide(_ run: String, in world: GatesWorld) throws {
        try sqlite(world, """
            DROP TRIGGER events_are_append_only_delete;
            DELETE FROM events WHERE seq >= (SELECT min(seq) FROM events WHERE run_id = '\(run)');
            DELETE FROM sqlite_sequence WHERE name = 'events';
            DELETE FROM file_backups WHERE run_id = '\(run)';
            DELETE FROM saved_plans WHERE run_id = '\(run)' OR id = 'journal-\(run)';
            DELETE FROM runs WHERE id = '\(run)';
            CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE is not allowed'); END;
            """)
    }

    func verify(_ world: GatesWorld, _ arguments: [String] = []) throws -> SluiceBinary.Result {
        try world.run(["audit", "verify"] + arguments)
    }

    @Test func aRunPrintsTheChainHeadAndAuditHeadAndVerifyAgree() throws {
        // Given a run applied
        let world = try GatesWorld()
        let (_, anchor) = try Self.applied(world)

        // When the head is asked for, as text and as JSON, and verified as an anchor
        let head = try world.run(["audit", "head"])
        let json = try world.run(["audit", "head", "--json"])
        let verified = try verify(world, ["--anchor", anchor])

        // Then all name the run.finished event, and the chain holds it
        #expect(head.status == 0)
        #expect(head.stdout == anchor + "\n")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["anchor"] as? String == anchor)
        #expect("\(object["seq"] as? Int ?? -1):\(object["hash"] as? String ?? "")" == anchor)
        #expect(object["time"] is String)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("; holds the anchor given"))
    }

    @Test func deletingTheNewestEventsAndSqliteSequenceIsCaughtByAnAnchor() throws {
        // Given two runs, the second one's anchor recorded
        let world = try GatesWorld()
        let (_, first) = try Self.applied(world)
        let (second, anchor) = try Self.applied(world)

        // When someone deletes the second run's events, and sqlite_sequence's memory of them
        try Self.hide(second, in: world)

        // Then the chain alone still verifies, but not with the anchor, which is named
        let alone = try verify(world)
        #expect(alone.status == 0, "the chain alone should not see this: \(alone.stdout)")
        let anchored = try verify(world, ["--anchor", first, "--anchor", anchor])
        #expect(anchored.status == 1, "\(anchored.stdout)\(anchored.stderr)")
        let end = try #require(first.split(separator: ":").first)
        #expect(anchored.stdout.contains("audit anchor NOT HELD (--anchor): cut short: the chain ends at \(end) but anchor \(anchor) was recorded: "
            + "events were deleted from its end or the store was replaced by an older copy"))
        #expect(!anchored.stdout.contains("anchor \(first)"))
        #expect(try verify(world, ["--anchor", first]).status == 0)
    }

    @Test func deletingTheNewestEventsThenRunningOnIsCaughtByAnAnchor() throws {
        // Given two runs, the second one's anchor recorded, then hidden as above
        let world = try GatesWorld()
        _ = try Self.applied(world)
        let (second, anchor) = try Self.applied(world)
        try Self.hide(second, in: world)

        // When a later run appends over the seqs the hidden run had
        _ = try Self.applied(world)

        // Then the chain alone verifies, and the anchor's seq now holds another event
        #expect(try verify(world).status == 0)
        let anchored = try verify(world, ["--anchor", anchor])
        #expect(anchored.status == 1, "\(anchored.stdout)\(anchored.stderr)")
        let seq = try #require(anchor.split(separator: ":").first)
        #expect(anchored.stdout.contains("audit anchor NOT HELD (--anchor): rewritten: the event at seq \(seq) has hash "))
        #expect(anchored.stdout.contains("not anchor \(anchor)'s"))
    }

    @Test func emptyingTheStoreInPlaceIsCaughtByAnAnchor() throws {
        // Given a run and its anchor
        let world = try GatesWorld()
        let (_, anchor) = try Self.applied(world)

        // When every row is deleted, sqlite_sequence's included
        try Self.sqlite(world, """
            DROP TRIGGER events_are_append_only_delete;
            DELETE FROM events; DELETE FROM sqlite_sequence; DELETE FROM file_backups; DELETE FROM saved_plans;
            DELETE FROM locks; DELETE FROM runs;
            """)

        // Then the chain alone verifies (no events), audit head says there is none, and the anchor fails
        let alone = try verify(world)
        #expect(alone.status == 0)
        #expect(alone.stdout.hasPrefix("audit chain intact: 0 events"))
        let head = try world.run(["audit", "head"])
        #expect(head.status == 0)
        #expect(head.stdout.isEmpty)
        #expect(head.stderr.contains("holds no events: there is no head to record yet"))
        let json = try world.run(["audit", "head", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["anchor", "seq", "hash", "time"])
        #expect(object.values.allSatisfy { $0 is NSNull })
        let anchored = try verify(world, ["--anchor", anchor])
        #expect(anchored.status == 1, "\(anchored.stdout)\(anchored.stderr)")
        #expect(anchored.stdout.contains("audit anchor NOT HELD (--anchor): cut short: the chain is empty but anchor \(anchor) was recorded"))
    }

    @Test func replacingTheStoreWithANewOneIsCaughtByAnAnchor() throws {
        // Given a run and its anchor
        let world = try GatesWorld()
        let (_, anchor) = try Self.applied(world)

        // When the store file is removed, and the next run starts a new store
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: world.store + suffix) }
        #expect(try verify(world).status == 1)  // no store: caught without an anchor, until...
        _ = try Self.applied(world)

        // Then the new chain verifies alone, and the anchor's seq holds another event
        #expect(try verify(world).status == 0)
        let anchored = try verify(world, ["--anchor", anchor])
        #expect(anchored.status == 1, "\(anchored.stdout)\(anchored.stderr)")
        #expect(anchored.stdout.contains("audit anchor NOT HELD (--anchor): rewritten: "))
    }

    @Test func puttingBackAnOlderCopyOfTheStoreIsCaughtByAnAnchor() throws {
        // Given a run, a copy of the store taken then, and a second run with its anchor
        let world = try GatesWorld()
        let (first, _) = try Self.applied(world)
        let copy = world.folder.url.appendingPathComponent("copy.sqlite").path
        // No sluice process is running, so the WAL was checkpointed into the file when the last
        // one closed; copy whatever is there, as an attacker would.
        let suffixes = ["", "-wal", "-shm"].filter { FileManager.default.fileExists(atPath: world.store + $0) }
        for suffix in suffixes { try FileManager.default.copyItem(atPath: world.store + suffix, toPath: copy + suffix) }
        let (_, anchor) = try Self.applied(world)

        // When the older copy is put back in place of the store
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: world.store + suffix) }
        for suffix in suffixes { try FileManager.default.copyItem(atPath: copy + suffix, toPath: world.store + suffix) }

        // Then the chain alone verifies, but not with the anchor
        let alone = try verify(world)
        #expect(alone.status == 0, "the chain alone should not see this: \(alone.stdout)")
        #expect(try world.runs().map { $0["id"] as? String } == [first])
        let anchored = try verify(world, ["--anchor", anchor])
        #expect(anchored.status == 1, "\(anchored.stdout)\(anchored.stderr)")
        #expect(anchored.stdout.contains("but anchor \(anchor) was recorded: events were deleted from its end or the store was replaced by an older copy"))
    }

    @Test func anchorFilesAreReadAndBadAnchorsAreUsageErrors() throws {
        // Given a run and an anchor file built with audit head, with a comment and a blank line
        let world = try GatesWorld()
        let (_, anchor) = try Self.applied(world)
        let head = try world.run(["audit", "head"])
        try world.folder.write("anchors", "# heads of this host\n\n" + head.stdout)
        try world.folder.write("bad-anchors", "\(anchor)\n12:nothex\n")

        // Then the file verifies, and a malformed anchor, flag or file line, exits 64 naming it
        let good = try verify(world, ["--anchors", "anchors"])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("; holds the anchor given"))
        let flag = try verify(world, ["--anchor", "12:nothex"])
        #expect(flag.status == 64)
        #expect(flag.stderr.contains("--anchor '12:nothex' is not an anchor: 'nothex' is not a hash"))
        let file = try verify(world, ["--anchors", "bad-anchors"])
        #expect(file.status == 64)
        #expect(file.stderr.contains("bad-anchors:2: '12:nothex' is not an anchor"))
        let missing = try verify(world, ["--anchors", "no-such-file"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("--anchors no-such-file: cannot read the anchor file"))
    }

    @Test func anAnchorInAFileThatTheChainNoLongerHoldsIsNamedByItsLine() throws {
        let world = try GatesWorld()
        _ = try Self.applied(world)
        let (second, anchor) = try Self.applied(world)
        try world.folder.write("anchors", "# after the second run\n\(anchor)\n")
        try Self.hide(second, in: world)
        let anchored = try verify(world, ["--anchors", "anchors"])
        #expect(anchored.status == 1)
        #expect(anchored.stdout.contains("audit anchor NOT HELD (anchors:2): cut short: "))
    }

    @Test func theRunFinishedNotificationAndJSONOutputCarryTheAnchor() async throws {
        // Given a webhook listening for run.finished
        let receiver = try await WebhookReceiver()
        let world = try GatesWorld(extra: """
            notify:
              - webhook: \(receiver.url)
                events: [run.finished]
            """)

        // When the runbook is applied with --json
        let result = try world.apply(["--json"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        // Then the notification, the JSON output and the summary carry the same anchor, the run.finished event's own
        let finished = try #require(world.events().last { $0["kind"] as? String == "run.finished" })
        let anchor = "\(finished["seq"] as? Int ?? -1):\(finished["hash"] as? String ?? "")"
        let message = try #require(receiver.messages().first)
        #expect(message["event"] as? String == "run.finished")
        #expect("\(message["seq"] as? Int ?? -1):\(message["hash"] as? String ?? "")" == anchor)
        #expect((message["text"] as? String)?.hasSuffix("; audit chain head \(anchor)") == true)
        let lines = result.stdout.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let last = try #require(lines.last)
        #expect(last["event"] as? String == "run.finished")
        #expect(last["status"] as? String == "succeeded")
        #expect("\(last["seq"] as? Int ?? -1):\(last["hash"] as? String ?? "")" == anchor)
        #expect(Self.anchor(in: result.stdout) == anchor)
        #expect(try verify(world, ["--anchor", anchor]).status == 0)
    }
}
