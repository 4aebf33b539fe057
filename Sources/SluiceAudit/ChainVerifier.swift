/// What is wrong with the first broken record of the chain.
public struct ChainProblem: Sendable, Hashable, CustomStringConvertible {
    /// The kinds of damage ``ChainVerifier`` tells apart.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The record's content, hash or `prev_hash` was edited.
        case changed
        /// A record was deleted (a gap in the sequence, or a broken link to a vanished record).
        case missing
        /// A record that is not part of the chain was added.
        case inserted
        /// Records are out of order (swapped or moved to another seq).
        case reordered
    }

    /// The first bad sequence number.
    public var seq: Int64
    /// The kind of damage.
    public var kind: Kind
    /// A sentence explaining what was found.
    public var explanation: String

    /// Creates a problem report.
    public init(seq: Int64, kind: Kind, explanation: String) {
        self.seq = seq
        self.kind = kind
        self.explanation = explanation
    }

    /// `seq N: KIND: EXPLANATION`.
    public var description: String { "seq \(seq): \(kind.rawValue): \(explanation)" }
}

/// The result of verifying the chain.
public struct ChainReport: Sendable, Hashable {
    /// How many event rows were read.
    public var eventCount: Int
    /// The last event's seq, if any.
    ///
    /// Worth noting somewhere else with ``headHash``, as an ``AuditAnchor``: the chain alone
    /// cannot show that it was cut short, emptied, replaced by an older copy or rewritten from
    /// some point on with freshly computed hashes, but a recorded head that no longer appears can.
    public var headSeq: Int64?
    /// The last event's hash, if any.
    public var headHash: String?
    /// The first problem, or `nil` when the chain is intact.
    public var problem: ChainProblem?
    /// Each anchor given that the chain no longer holds, in the order given.
    public var anchorProblems: [AnchorProblem]

    /// Whether every record verified and the chain holds every anchor given.
    public var isIntact: Bool { problem == nil && anchorProblems.isEmpty }

    /// Creates a report.
    public init(eventCount: Int, headSeq: Int64?, headHash: String?, problem: ChainProblem?, anchorProblems: [AnchorProblem] = []) {
        self.eventCount = eventCount
        self.headSeq = headSeq
        self.headHash = headHash
        self.problem = problem
        self.anchorProblems = anchorProblems
    }
}

/// Recomputes the hash chain over plain values and classifies the first broken record.
///
/// A record is sound when its seq follows the previous one, its `prev_hash` is the previous
/// record's hash (the genesis hash for seq 1) and its hash matches its content. At the first
/// record that is not, the verifier uses the links between records, which survive most edits,
/// to say what happened:
/// - **missing**: the seq jumps and nothing in the store links to the previous record, or the
///   record links to a hash that no longer exists, or the highest seq SQLite ever issued is above
///   the last record (the tail was deleted);
/// - **reordered**: the record that belongs here (it links to the previous record and hashes
///   correctly at this seq) is stored at another seq;
/// - **inserted**: a record that no intact record links through sits in the chain;
/// - **changed**: anything else, in particular a record whose content or hash no longer match.
/// Whatever the classification, a damaged store never verifies, and the seq named is the first
/// position where the chain as stored stops being sound.
public enum ChainVerifier {
    /// Verifies `events` (in seq order). `highestIssuedSeq` is SQLite's record of the highest
    /// seq ever inserted (`sqlite_sequence`), which reveals a deleted tail.
    public static func verify(_ events: [RecordedEvent], highestIssuedSeq: Int64) -> ChainReport {
        var expectedPrevious = EventChain.genesisHash
        var expectedSeq: Int64 = 1
        for index in events.indices {
            let event = events[index]
            if event.seq == expectedSeq, event.prevHash == expectedPrevious, event.expectedHash == event.hash {
                expectedPrevious = event.hash
                expectedSeq += 1
                continue
            }
            let problem = Classifier(events: events).classify(
                index: index, expectedSeq: expectedSeq, expectedPrevious: expectedPrevious)
            return report(events, problem)
        }
        var problem: ChainProblem?
        if highestIssuedSeq >= expectedSeq {
            let range = expectedSeq == highestIssuedSeq ? "\(expectedSeq)" : "\(expectedSeq)…\(highestIssuedSeq)"
            problem = ChainProblem(
                seq: expectedSeq, kind: .missing,
                explanation: "the store issued seq up to \(highestIssuedSeq) but holds none after \(expectedSeq - 1): "
                    + "record(s) \(range) were deleted from the end")
        }
        return report(events, problem)
    }

    private static func report(_ events: [RecordedEvent], _ problem: ChainProblem?) -> ChainReport {
        ChainReport(eventCount: events.count, headSeq: events.last?.seq, headHash: events.last?.hash, problem: problem)
    }

    private struct Classifier {
        let events: [RecordedEvent]
        let indicesByHash: [String: [Int]]
        let indicesByPrevious: [String: [Int]]

        init(events: [RecordedEvent]) {
            self.events = events
            var byHash: [String: [Int]] = [:]
            var byPrevious: [String: [Int]] = [:]
            for (index, event) in events.enumerated() {
                byHash[event.hash, default: []].append(index)
                byPrevious[event.prevHash, default: []].append(index)
            }
            indicesByHash = byHash
            indicesByPrevious = byPrevious
        }

        /// Whether record `index`, placed at `seq` after a record whose hash is `previous`,
        /// would carry exactly its stored hash.
        func fits(_ index: Int, at seq: Int64, after previous: String) -> Bool {
            var moved = events[index]
            moved.seq = seq
            moved.prevHash = previous
            return moved.expectedHash == events[index].hash
        }

        /// The record, other than `excluded`, that belongs right after `previous` at `seq`.
        func rightful(after previous: String, at seq: Int64, excluding excluded: Int) -> Int? {
            indicesByPrevious[previous, default: []].first { $0 != excluded && fits($0, at: seq, after: previous) }
        }

        /// Row `event` sits where the record `rightful` belongs, and nothing links to it.
        func notInChain(_ event: RecordedEvent, rightful: Int, expectedSeq: Int64) -> ChainProblem {
            ChainProblem(
                seq: event.seq, kind: .inserted,
                explanation: "this record is not part of the chain: the record at seq \(events[rightful].seq) "
                    + "is the one that follows seq \(expectedSeq - 1)")
        }

        func classify(index: Int, expectedSeq: Int64, expectedPrevious: String) -> ChainProblem {
            let event = events[index]
            let rightful = rightful(after: expectedPrevious, at: expectedSeq, excluding: index)

            if event.seq > expectedSeq {
                if let rightful {
                    return ChainProblem(
                        seq: expectedSeq, kind: .reordered,
                        explanation: "the record that belongs at seq \(expectedSeq) is stored at seq \(events[rightful].seq)")
                }
                let gap = event.seq - 1 == expectedSeq ? "\(expectedSeq)" : "\(expectedSeq)…\(event.seq - 1)"
                return ChainProblem(
                    seq: expectedSeq, kind: .missing,
                    explanation: "record(s) \(gap) were deleted: the sequence jumps from \(expectedSeq - 1) to \(event.seq)")
            }

            if event.prevHash == expectedPrevious {
                // Linked correctly, but its hash does not match its content.
                if let rightful {
                    return notInChain(event, rightful: rightful, expectedSeq: expectedSeq)
                }
                return ChainProblem(
                    seq: event.seq, kind: .changed,
                    explanation: "its content no longer matches its hash (a column or the hash was edited)")
            }

            if fits(index, at: event.seq, after: expectedPrevious) {
                return ChainProblem(
                    seq: event.seq, kind: .changed,
                    explanation: "its prev_hash was edited: it no longer names the hash of seq \(expectedSeq - 1)")
            }
            let owners = indicesByHash[event.prevHash, default: []]
            if let rightful {
                if let owner = owners.first {
                    return ChainProblem(
                        seq: event.seq, kind: .reordered,
                        explanation: "it holds the record that follows the one at seq \(events[owner].seq); the record that "
                            + "belongs at seq \(event.seq) is stored at seq \(events[rightful].seq)")
                }
                return notInChain(event, rightful: rightful, expectedSeq: expectedSeq)
            }
            if let owner = owners.first(where: { $0 < index - 1 }), fits(index, at: events[owner].seq + 1, after: event.prevHash) {
                let first = events[owner + 1].seq
                let last = events[index - 1].seq
                let range = first == last ? "\(first)" : "\(first)…\(last)"
                return ChainProblem(
                    seq: first, kind: .inserted,
                    explanation: "record(s) \(range) were inserted: the record now at seq \(event.seq) follows seq "
                        + "\(events[owner].seq) in the chain")
            }
            if let owner = owners.first(where: { $0 > index }) {
                return ChainProblem(
                    seq: event.seq, kind: .reordered,
                    explanation: "it holds the record that follows the one at seq \(events[owner].seq)")
            }
            if owners.isEmpty {
                return ChainProblem(
                    seq: event.seq, kind: .missing,
                    explanation: "the record it follows in the chain is no longer in the store (deleted, and later "
                        + "records renumbered)")
            }
            return ChainProblem(
                seq: event.seq, kind: .changed,
                explanation: "its prev_hash does not name the hash of seq \(expectedSeq - 1) and its content no longer "
                    + "matches its hash")
        }
    }
}
