/// A point of the hash chain recorded outside the store: an event's seq and hash, written
/// `SEQ:HASH`.
///
/// The chain alone cannot show that events were deleted from its end (with `sqlite_sequence`),
/// that the store was emptied, or that an older copy of it was put back: each leaves a chain
/// whose every link holds. An anchor recorded elsewhere (a run's output, its `run.finished`
/// notification, `sluice audit head`) can: the chain must still hold an event at that seq with
/// that hash.
public struct AuditAnchor: Sendable, Hashable, CustomStringConvertible {
    /// The event's position in the chain, 1 or more.
    public var seq: Int64
    /// The event's hash: 64 lowercase hex digits.
    public var hash: String

    /// Creates an anchor. `hash` is taken as given; ``init(parsing:)`` checks its form.
    public init(seq: Int64, hash: String) {
        self.seq = seq
        self.hash = hash
    }

    /// The anchor of a recorded event: its own seq and hash, the chain's head right after it
    /// was appended.
    public init(_ event: RecordedEvent) {
        self.init(seq: event.seq, hash: event.hash)
    }

    /// Parses `SEQ:HASH`, as ``description`` writes it. Whitespace around it is ignored and the
    /// hash may be given in upper case (hashes get copied by hand); it is kept in lower case.
    ///
    /// - Throws: ``SyntaxError`` saying what is wrong with `text`.
    public init(parsing text: some StringProtocol) throws(SyntaxError) {
        let trimmed = text.trimmingWhitespace
        let parts = trimmed.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw SyntaxError(text: trimmed, reason: "expected SEQ:HASH, a sequence number and a hash joined by ':'")
        }
        guard !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let seq = Int64(parts[0]), seq >= 1
        else {
            throw SyntaxError(text: trimmed, reason: "'\(parts[0])' is not a sequence number (a whole number, 1 or more)")
        }
        let hash = parts[1].lowercased()
        guard hash.utf8.count == 64, hash.utf8.allSatisfy(Self.isHexDigit) else {
            throw SyntaxError(text: trimmed, reason: "'\(parts[1])' is not a hash (64 hex digits, as `sluice audit head` prints it)")
        }
        self.init(seq: seq, hash: hash)
    }

    /// `SEQ:HASH`.
    public var description: String { "\(seq):\(hash)" }

    /// Text that is not an anchor, and why.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The text given (trimmed).
        public var text: String
        /// What is wrong with it.
        public var reason: String

        /// `'TEXT' is not an anchor: REASON`.
        public var description: String { "'\(text)' is not an anchor: \(reason)" }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}

extension AuditAnchor {
    /// One anchor of an anchor file, with its line number (from 1).
    public struct Line: Sendable, Hashable {
        /// The line's number in the anchors file, from 1.
        public var number: Int
        /// The anchor the line holds.
        public var anchor: AuditAnchor
    }

    /// A line of an anchor file that holds neither an anchor, a comment nor nothing.
    public struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The line number, from 1.
        public var line: Int
        /// What is wrong with it.
        public var problem: SyntaxError

        /// `line N: 'TEXT' is not an anchor: REASON`.
        public var description: String { "line \(line): \(problem)" }
    }

    /// Reads an anchor file: one `SEQ:HASH` per line, as `sluice audit head` prints it (so
    /// `sluice audit head >> anchors` builds one). A `#` starts a comment, on a line of its own
    /// or after an anchor; blank lines are ignored.
    ///
    /// Every bad line is reported, not only the first, so that one edit fixes the file.
    ///
    /// - Returns: the anchors in file order, and every bad line (the file is good when there is
    ///   none).
    public static func parseFile(_ text: String) -> (anchors: [Line], errors: [FileError]) {
        var anchors: [Line] = []
        var errors: [FileError] = []
        // "\r\n" is one Character and a newline, so a file written on Windows reads the same.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            // No anchor holds a '#', so everything from the first one on is a comment.
            let content = raw.prefix { $0 != "#" }.trimmingWhitespace
            guard !content.isEmpty else { continue }
            do {
                anchors.append(Line(number: index + 1, anchor: try AuditAnchor(parsing: content)))
            } catch {
                errors.append(FileError(line: index + 1, problem: error))
            }
        }
        return (anchors, errors)
    }
}

/// Why the chain no longer holds an anchor.
public struct AnchorProblem: Sendable, Hashable, CustomStringConvertible {
    /// The kinds of mismatch.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The chain ends before the anchor's seq (or is empty): events were deleted from its end,
        /// or the store was emptied or replaced by an older copy.
        case cutShort = "cut short"
        /// The event at the anchor's seq has another hash: the chain was rewritten, or cut short
        /// and appended to since, or the store was replaced by another.
        case rewritten
        /// The chain goes past the anchor's seq but holds no event there (the chain is broken).
        case missing
    }

    /// The anchor the chain does not hold.
    public var anchor: AuditAnchor
    /// How it is not held.
    public var kind: Kind
    /// A sentence saying what was found and what it means.
    public var explanation: String

    /// Creates a problem report.
    public init(anchor: AuditAnchor, kind: Kind, explanation: String) {
        self.anchor = anchor
        self.kind = kind
        self.explanation = explanation
    }

    /// `KIND: EXPLANATION`.
    public var description: String { "\(kind.rawValue): \(explanation)" }
}

extension AuditAnchor {
    /// What is wrong with this anchor in `events` (in seq order, as the store holds them), or
    /// `nil` when an event at the anchor's seq has the anchor's hash.
    ///
    /// Only the stored seq and hash are compared; whether that event's hash matches its content,
    /// and whether the chain leading to it holds, is ``ChainVerifier``'s part.
    public func problem(in events: [RecordedEvent]) -> AnchorProblem? {
        guard let last = events.last else {
            return AnchorProblem(
                anchor: self, kind: .cutShort,
                explanation: "the chain is empty but anchor \(self) was recorded: its events were deleted or the store was "
                    + "replaced by a new or older one")
        }
        if seq > last.seq {
            return AnchorProblem(
                anchor: self, kind: .cutShort,
                explanation: "the chain ends at \(last.seq) but anchor \(self) was recorded: events were deleted from its end "
                    + "or the store was replaced by an older copy")
        }
        // Binary search: `events` is in seq order, and a verify may be given many anchors.
        var low = events.startIndex, high = events.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if events[middle].seq < seq { low = middle + 1 } else { high = middle }
        }
        guard low < events.endIndex, events[low].seq == seq else {
            return AnchorProblem(
                anchor: self, kind: .missing,
                explanation: "the chain holds no event at seq \(seq), where anchor \(self) was recorded: it was deleted")
        }
        guard events[low].hash == hash else {
            return AnchorProblem(
                anchor: self, kind: .rewritten,
                explanation: "the event at seq \(seq) has hash \(events[low].hash), not anchor \(self)'s: the chain was "
                    + "rewritten at or before seq \(seq), or cut short and appended to since, or the store was replaced")
        }
        return nil
    }
}

extension StringProtocol {
    /// Without the spaces, tabs, carriage returns and newlines at either end.
    fileprivate var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
