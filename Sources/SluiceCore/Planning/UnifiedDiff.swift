/// A unified diff between two texts, in the format `diff -u` prints.
///
/// Lines are compared byte for byte, a missing final newline included, so texts that are equal as
/// Swift strings but differ in their bytes still get a diff. The edit script is built in four steps:
/// the lines both texts start and end with are set aside; the remaining lines are numbered so that
/// equal lines share a number; lines whose number never occurs in the other text are marked changed
/// at once (no common subsequence can contain them, as Hunt and McIlroy's 1976 comparison relies
/// on); and the rest goes to Myers' linear-space search ("An O(ND) Difference Algorithm and Its
/// Variations", 1986), which splits each problem on a shortest path found from both ends at once.
/// A last pass moves each run of changes down over equal lines, so a repeated line counts as added
/// after its copies rather than before them. Only the `---`/`+++` lines differ from `diff -u`: they
/// name the path, with no dates. Among diffs of the same length it may pick another than GNU diff.
///
/// The search is bounded by a work budget, linear in the number of lines: when it runs out, the
/// parts still to compare are shown as removed and added again, a correct diff but a longer one.
package enum UnifiedDiff {
    /// How many lines a diff shows below its `---`/`+++` header before it is summarized.
    ///
    /// 2,000 lines is a long screen of review, about 40 kB for typical configuration lines, and
    /// keeps a plan of many targets that each rewrite a huge file to a readable and storable size.
    package static let defaultLineLimit = 2_000

    /// The diff from `old` to `new`, or the empty string when they are equal byte for byte. `old`
    /// nil means the file does not exist yet.
    ///
    /// At most `lineLimit` lines follow the header, counting hunk headers and `\ No newline` markers;
    /// the trailing context of a hunk whose changes were all shown is the one exception, so the cut
    /// never falls after the last change. When hunks are cut, the diff ends with one line, never
    /// starting with `-`, `+` or `@@`, that counts what was left out: `... diff truncated: N more
    /// lines changed (A added, R removed) in H more hunks`, where H counts each hunk not shown in
    /// full, the one cut short included. A hunk is never cut before its first change.
    package static func make(old: String?, new: String, path: String, context: Int = 3, lineLimit: Int = defaultLineLimit) -> String {
        if let old, old.utf8.elementsEqual(new.utf8) { return "" }
        let before = Text(old ?? ""), after = Text(new)
        let context = max(0, context)
        let changes = edits(from: before, to: after)
        let header = (old == nil ? "--- /dev/null\n" : "--- \(path)\n") + "+++ \(path)\n"
        return header + render(changes, before, after, context: context, lineLimit: lineLimit)
    }

    // MARK: - Text

    /// A text split into lines, each keeping its newline; only a last line may lack one.
    struct Text {
        private static let newline = UInt8(ascii: "\n")

        let bytes: [UInt8]
        /// Where each line starts, then `bytes.count`.
        let lineStarts: [Int]

        init(_ string: String) {
            let bytes = Array(string.utf8)
            var starts = [0]
            bytes.withUnsafeBufferPointer { buffer in
                for offset in buffer.indices where buffer[offset] == Text.newline { starts.append(offset + 1) }
            }
            if starts.last != bytes.count { starts.append(bytes.count) }
            self.bytes = bytes
            lineStarts = starts
        }

        var lineCount: Int { lineStarts.count - 1 }

        /// The bytes of line `index`, its newline included when it has one, so that a last line
        /// without a newline equals only another such line.
        func range(_ index: Int) -> Range<Int> { lineStarts[index]..<lineStarts[index + 1] }

        /// Whether line `index` is a last line without its newline.
        func isUnterminated(_ index: Int) -> Bool {
            index == lineCount - 1 && bytes.last != Text.newline
        }

        /// Line `index` as `diff -u` prints it after its one-character prefix.
        func render(_ index: Int) -> String {
            let text = String(decoding: bytes[range(index)], as: UTF8.self)
            return isUnterminated(index) ? text + "\n\\ No newline at end of file\n" : text
        }

        /// Whether line `index` here has the same bytes as line `other` of `text`.
        func sameLine(_ index: Int, as other: Int, of text: Text) -> Bool {
            let mine = range(index), theirs = text.range(other)
            guard mine.count == theirs.count else { return false }
            return bytes.withUnsafeBufferPointer { left in
                text.bytes.withUnsafeBufferPointer { right in
                    var i = mine.lowerBound, j = theirs.lowerBound
                    while i < mine.upperBound {
                        if left[i] != right[j] { return false }
                        i += 1
                        j += 1
                    }
                    return true
                }
            }
        }

        /// A 64-bit FNV-1a hash of line `index`.
        func hash(_ index: Int) -> UInt64 {
            let lineRange = range(index)
            return bytes.withUnsafeBufferPointer { buffer in
                var hash: UInt64 = 0xCBF2_9CE4_8422_2325
                for offset in lineRange {
                    hash ^= UInt64(buffer[offset])
                    hash = hash &* 0x0000_0100_0000_01B3
                }
                return hash
            }
        }
    }

    // MARK: - Hunks

    /// Groups changes separated by at most `2 * context` unchanged lines, as `diff -u` does: each
    /// range of `changes` is one hunk.
    static func hunks(_ changes: [Change], context: Int) -> [Range<Int>] {
        var hunks: [Range<Int>] = []
        var first = 0
        while first < changes.count {
            var last = first
            while last + 1 < changes.count, changes[last + 1].old - (changes[last].old + changes[last].deleted) <= 2 * context {
                last += 1
            }
            hunks.append(first..<last + 1)
            first = last + 1
        }
        return hunks
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        count == 1 ? "\(start)" : "\(start),\(count)"
    }

    /// The hunks of `changes` from `a` to `b`, cut short after `lineLimit` lines as `make` describes.
    static func render(_ changes: [Change], _ a: Text, _ b: Text, context: Int, lineLimit: Int) -> String {
        let hunks = hunks(changes, context: context)
        var lines: [String] = []
        var shown = 0, addedShown = 0, removedShown = 0, hunksShown = 0

        hunkLoop: for hunk in hunks {
            let firstChange = changes[hunk.lowerBound], lastChange = changes[hunk.upperBound - 1]
            let first0 = max(0, firstChange.old - context), first1 = max(0, firstChange.new - context)
            let last0 = min(a.lineCount, lastChange.old + lastChange.deleted + context)
            let last1 = min(b.lineCount, lastChange.new + lastChange.inserted + context)
            let oldStart = last0 == first0 ? first0 : first0 + 1, newStart = last1 == first1 ? first1 : first1 + 1
            let hunkStart = lines.count, shownBefore = shown
            var changeShown = false

            // Adds `line` of `text` (the hunk header when nil) unless it would pass the limit.
            func emit(_ prefix: String, _ text: Text?, _ line: Int, trailing: Bool = false) -> Bool {
                let cost = text?.isUnterminated(line) == true ? 2 : 1
                guard trailing || shown + cost <= lineLimit else { return false }
                lines.append(prefix + (text?.render(line) ?? ""))
                shown += cost
                return true
            }
            // Stops the diff here, dropping a hunk begun but with no change shown yet.
            func cut() {
                if !changeShown {
                    lines.removeSubrange(hunkStart...)
                    shown = shownBefore
                }
            }

            guard emit("@@ -\(range(oldStart, last0 - first0)) +\(range(newStart, last1 - first1)) @@\n", nil, 0) else { break }
            var i = first0
            for change in changes[hunk] {
                while i < change.old {
                    guard emit(" ", a, i) else { cut(); break hunkLoop }
                    i += 1
                }
                for line in change.old..<change.old + change.deleted {
                    guard emit("-", a, line) else { cut(); break hunkLoop }
                    removedShown += 1
                    changeShown = true
                }
                for line in change.new..<change.new + change.inserted {
                    guard emit("+", b, line) else { cut(); break hunkLoop }
                    addedShown += 1
                    changeShown = true
                }
                i = change.old + change.deleted
            }
            while i < last0 {
                _ = emit(" ", a, i, trailing: true)
                i += 1
            }
            hunksShown += 1
        }

        var output = lines.joined()
        if hunksShown < hunks.count {
            let added = changes.reduce(0) { $0 + $1.inserted } - addedShown
            let removed = changes.reduce(0) { $0 + $1.deleted } - removedShown
            let more = hunks.count - hunksShown
            output += "... diff truncated: \(added + removed) more \(added + removed == 1 ? "line" : "lines") changed"
                + " (\(added) added, \(removed) removed) in \(more) more \(more == 1 ? "hunk" : "hunks")\n"
        }
        return output
    }
}
