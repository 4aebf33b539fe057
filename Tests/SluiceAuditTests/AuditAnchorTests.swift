import Foundation
import SluiceCore
import Testing
@testable import SluiceAudit

/// Anchors: parsing `SEQ:HASH` and anchor files, and checking a chain still holds them, over
/// plain values and over a real store tampered with the way someone with write access would.
@Suite struct AuditAnchorTests {
    static let hash = String(repeating: "ab", count: 32)

    @Test func parsesWhatAuditHeadPrints() throws {
        let anchor = try AuditAnchor(parsing: "  42:\(Self.hash.uppercased())\n")
        #expect(anchor == AuditAnchor(seq: 42, hash: Self.hash))
        #expect(anchor.description == "42:\(Self.hash)")
        #expect(try AuditAnchor(parsing: anchor.description) == anchor)
    }

    @Test(arguments: [
        ("", "expected SEQ:HASH"),
        ("42", "expected SEQ:HASH"),
        (":\(hash)", "'' is not a sequence number"),
        ("0:\(hash)", "'0' is not a sequence number"),
        ("-3:\(hash)", "'-3' is not a sequence number"),
        ("+3:\(hash)", "'+3' is not a sequence number"),
        ("4x:\(hash)", "'4x' is not a sequence number"),
        ("99999999999999999999:\(hash)", "is not a sequence number"),
        ("42:", "'' is not a hash"),
        ("42:abc", "'abc' is not a hash"),
        ("42:\(hash)0", "is not a hash"),
        ("42:\(String(repeating: "g", count: 64))", "is not a hash"),
        ("42:\(hash):7", "is not a hash"),
    ])
    func refusesWhatIsNotAnAnchorSayingWhy(_ text: String, _ reason: String) {
        #expect {
            try AuditAnchor(parsing: text)
        } throws: { error in
            "\(error)".contains("is not an anchor: ") && "\(error)".contains(reason)
        }
    }

    @Test func anchorFilesHoldAnchorsCommentsAndBlankLines() throws {
        let text = "# anchors of ops-1\n\n12:\(Self.hash)\r\n  13:\(Self.hash)   # after r-20261121-083015-7f3a\n#\n"
        let (lines, errors) = AuditAnchor.parseFile(text)
        #expect(errors.isEmpty)
        #expect(lines == [
            AuditAnchor.Line(number: 3, anchor: AuditAnchor(seq: 12, hash: Self.hash)),
            AuditAnchor.Line(number: 4, anchor: AuditAnchor(seq: 13, hash: Self.hash)),
        ])
        #expect(AuditAnchor.parseFile("").anchors.isEmpty)
    }

    @Test func anchorFilesReportEveryBadLineWithItsNumber() {
        let text = "12:\(Self.hash)\nnot an anchor\n\n13:short # comment\n"
        let errors = AuditAnchor.parseFile(text).errors
        #expect(errors.map(\.line) == [2, 4])
        #expect(errors[1].description == "line 4: '13:short' is not an anchor: 'short' is not a hash (64 hex digits, as `sluice audit head` prints it)")
    }

    // MARK: Checking anchors over plain values

    /// `count` chained events, as the store would hold them.
    static func chain(_ count: Int) -> [RecordedEvent] {
        var previous = EventChain.genesisHash
        return (1...count).map { seq in
            var event = RecordedEvent(
                seq: Int64(seq), time: "2026-11-21T08:30:15.000Z", runID: nil, actor: "alice", kind: "step.finished",
                target: nil, stage: nil, step: nil, status: nil, exitCode: nil, durationMilliseconds: nil, detail: "{}",
                prevHash: previous, hash: "")
            event.hash = event.expectedHash
            previous = event.hash
            return event
        }
    }

    @Test func aChainHoldsItsOwnEventsAsAnchors() {
        let events = Self.chain(5)
        for event in events { #expect(AuditAnchor(event).problem(in: events) == nil) }
    }

    @Test func anAnchorPastTheEndSaysTheChainWasCutShort() throws {
        let events = Self.chain(5)
        let anchor = AuditAnchor(Self.chain(7)[6])
        let problem = try #require(anchor.problem(in: events))
        #expect(problem.kind == .cutShort)
        #expect(problem.explanation == "the chain ends at 5 but anchor \(anchor) was recorded: events were deleted from its end "
            + "or the store was replaced by an older copy")
    }

    @Test func anAnchorOfAnEmptyChainSaysItWasEmptied() throws {
        let problem = try #require(AuditAnchor(Self.chain(3)[2]).problem(in: []))
        #expect(problem.kind == .cutShort)
        #expect(problem.explanation.hasPrefix("the chain is empty but anchor 3:"))
    }

    @Test func anAnchorWhoseSeqHoldsAnotherHashSaysTheChainWasRewritten() throws {
        let events = Self.chain(5)
        let anchor = AuditAnchor(seq: 4, hash: Self.hash)
        let problem = try #require(anchor.problem(in: events))
        #expect(problem.kind == .rewritten)
        #expect(problem.explanation.hasPrefix("the event at seq 4 has hash \(events[3].hash), not anchor 4:\(Self.hash)'s"))
    }

    @Test func anAnchorInAGapSaysItsEventIsMissing() throws {
        var events = Self.chain(5)
        let anchor = AuditAnchor(events.remove(at: 2))
        #expect(try #require(anchor.problem(in: events)).kind == .missing)
        #expect(AuditAnchor(events[2]).problem(in: events) == nil)
    }

    // MARK: The store

    @Test func verifyReportsEachAnchorTheStoreNoLongerHolds() async throws {
        // Given a store of 6 events and anchors at seq 3 and 6
        let world = try TestWorld()
        defer { world.remove() }
        let store = try await Fixtures.store(in: world, events: 6)
        let events = try await store.events()
        let (third, sixth) = (AuditAnchor(events[2]), AuditAnchor(events[5]))
        #expect(try await store.verify(anchors: [third, sixth]).isIntact)
        #expect(try await store.head() == events[5])

        // When the last three events are deleted, sqlite_sequence with them
        try world.tamper("DELETE FROM events WHERE seq > 3; DELETE FROM sqlite_sequence WHERE name = 'events';")

        // Then the chain alone verifies, and the anchor at seq 6 does not
        let report = try await store.verify(anchors: [third, sixth])
        #expect(report.problem == nil)
        #expect(report.anchorProblems.map(\.anchor) == [sixth])
        #expect(report.anchorProblems.first?.kind == .cutShort)
        #expect(!report.isIntact)
        #expect(try await store.head()?.seq == 3)
    }

    @Test func headOfAnEmptyStoreIsNil() async throws {
        let world = try TestWorld()
        defer { world.remove() }
        #expect(try await world.openStore().head() == nil)
    }
}
