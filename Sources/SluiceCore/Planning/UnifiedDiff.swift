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
public enum UnifiedDiff {
    /// How many lines a diff shows below its `---`/`+++` header before it is summarized.
    ///
    /// 2,000 lines is a long screen of review, about 40 kB for typical configuration lines, and
    /// keeps a plan of many targets that each rewrite a huge file to a readable and storable size.
    public static let defaultLineLimit = 2_000

    /// The diff from `old` to `new`, or the empty string when they are equal byte for byte. `old`
    /// nil means the file does not exist yet.
    ///
    /// At most `lineLimit` lines follow the header, counting hunk headers and `\ No newline` markers;
    /// the trailing context of a hunk whose changes were all shown is the one exception, so the cut
    /// never falls after the last change. When hunks are cut, the diff ends with one line, never
    /// starting with `-`, `+` or `@@`, that counts what was left out: `... diff truncated: N more
    /// lines changed (A added, R removed) in H more hunks`, where H counts each hunk not shown in
    /// full, the one cut short included. A hunk is never cut before its first change.
    public static func make(old: String?, new: String, path: String, context: Int = 3, lineLimit: Int = defaultLineLimit) -> String {
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

    // MARK: - The edit script

    /// `deleted` lines of the old text from line `old`, replaced by `inserted` lines of the new from
    /// line `new` (numbered from 0; for an empty side, the line before which the change goes).
    struct Change: Equatable {
        var old: Int, new: Int, deleted: Int, inserted: Int
    }

    /// A shortest (or, past `workBudget` steps of the search, merely correct) edit script from `a`
    /// to `b`, in order. `workBudget` replaces the default one; tests use it to reach the fallback.
    static func edits(from a: Text, to b: Text, workBudget: Int? = nil) -> [Change] {
        // The lines both texts start with, and then those they end with.
        var prefix = 0
        while prefix < min(a.lineCount, b.lineCount), a.sameLine(prefix, as: prefix, of: b) { prefix += 1 }
        var endA = a.lineCount, endB = b.lineCount
        while endA > prefix, endB > prefix, a.sameLine(endA - 1, as: endB - 1, of: b) {
            endA -= 1
            endB -= 1
        }

        var removed = [Bool](repeating: false, count: a.lineCount)
        var added = [Bool](repeating: false, count: b.lineCount)
        let (numbersA, numbersB, distinct) = LineNumbers.assign(a, prefix..<endA, b, prefix..<endB)

        // Only lines whose number occurs on both sides can be kept; the others are changes.
        var inA = [Bool](repeating: false, count: distinct), inB = inA
        for number in numbersA { inA[number] = true }
        for number in numbersB { inB[number] = true }
        let keptA = numbersA.indices.filter { inB[numbersA[$0]] }
        let keptB = numbersB.indices.filter { inA[numbersB[$0]] }
        for offset in numbersA.indices { removed[prefix + offset] = true }
        for offset in numbersB.indices { added[prefix + offset] = true }

        var search = Search(xs: keptA.map { numbersA[$0] }, ys: keptB.map { numbersB[$0] })
        search.run(budget: workBudget ?? defaultWorkBudget(lines: keptA.count + keptB.count))
        for (index, offset) in keptA.enumerated() { removed[prefix + offset] = search.removed[index] }
        for (index, offset) in keptB.enumerated() { added[prefix + offset] = search.added[index] }

        slideDown(&removed, in: a)
        slideDown(&added, in: b)
        return changes(removed: removed, added: added)
    }

    /// Steps the search may take for `lines` lines in all: at most about a quarter of a second for
    /// 100,000 lines each side, and enough for a shortest script when the changes are not too many.
    static func defaultWorkBudget(lines: Int) -> Int {
        max(10_000_000, 100 * lines)
    }

    /// Groups the marked lines into changes, each a run of removed old lines and added new lines
    /// between two unchanged lines.
    static func changes(removed: [Bool], added: [Bool]) -> [Change] {
        var changes: [Change] = []
        var i = 0, j = 0
        while i < removed.count || j < added.count {
            if (i < removed.count && removed[i]) || (j < added.count && added[j]) {
                let startI = i, startJ = j
                while (i < removed.count && removed[i]) || (j < added.count && added[j]) {
                    while i < removed.count, removed[i] { i += 1 }
                    while j < added.count, added[j] { j += 1 }
                }
                changes.append(Change(old: startI, new: startJ, deleted: i - startI, inserted: j - startJ))
            } else {
                i += 1
                j += 1
            }
        }
        return changes
    }

    /// Moves each run of changed lines of `text` down while the line after it equals its first line,
    /// joining the runs it meets. Each move trades one changed line for an equal one in the same
    /// place among the unchanged lines, so the script stays correct and as short.
    static func slideDown(_ changed: inout [Bool], in text: Text) {
        var start = 0
        while start < changed.count {
            guard changed[start] else {
                start += 1
                continue
            }
            var end = start
            while end < changed.count, changed[end] { end += 1 }
            while end < changed.count, text.sameLine(start, as: end, of: text) {
                changed[start] = false
                changed[end] = true
                start += 1
                end += 1
                while end < changed.count, changed[end] { end += 1 }
            }
            start = end
        }
    }

    /// Numbers lines so that two lines share a number exactly when their bytes are equal, with an
    /// open-addressing hash table of line numbers plus one (0 is an empty slot).
    enum LineNumbers {
        /// The numbers of lines `linesA` of `a` and `linesB` of `b`, from 0, and how many there are.
        static func assign(_ a: Text, _ linesA: Range<Int>, _ b: Text, _ linesB: Range<Int>) -> ([Int], [Int], Int) {
            var capacity = 16
            while capacity < 2 * (linesA.count + linesB.count) { capacity *= 2 }
            let mask = capacity - 1
            var slots = [Int](repeating: 0, count: capacity)
            // For each number: its hash, and one line that has it (in `b` when `inB`).
            var hashes: [UInt64] = [], samples: [(inB: Bool, line: Int)] = []

            func number(_ text: Text, _ line: Int, inB: Bool) -> Int {
                let hash = text.hash(line)
                var slot = Int(truncatingIfNeeded: hash) & mask
                while slots[slot] != 0 {
                    let candidate = slots[slot] - 1
                    let sample = samples[candidate]
                    if hashes[candidate] == hash, text.sameLine(line, as: sample.line, of: sample.inB ? b : a) {
                        return candidate
                    }
                    slot = (slot + 1) & mask
                }
                hashes.append(hash)
                samples.append((inB, line))
                slots[slot] = hashes.count
                return hashes.count - 1
            }

            let numbersA = linesA.map { number(a, $0, inB: false) }
            let numbersB = linesB.map { number(b, $0, inB: true) }
            return (numbersA, numbersB, hashes.count)
        }
    }

    /// Myers' linear-space search for a shortest edit script from `xs` to `ys`, with a stack of
    /// sub-problems instead of recursion. Each sub-problem, once its common ends are set aside, is
    /// split at a point on one of its shortest paths, found by running the forward and the reverse
    /// searches of the paper in turn until their furthest-reaching paths meet.
    struct Search {
        let xs: [Int], ys: [Int]
        /// The elements of `xs` the script removes, and of `ys` it adds.
        private(set) var removed: [Bool], added: [Bool]

        init(xs: [Int], ys: [Int]) {
            self.xs = xs
            self.ys = ys
            removed = [Bool](repeating: false, count: xs.count)
            added = [Bool](repeating: false, count: ys.count)
        }

        /// A part still to compare: `xs[x0..<x1]` against `ys[y0..<y1]`.
        private struct Problem {
            var x0: Int, x1: Int, y0: Int, y1: Int
        }

        /// Marks `removed` and `added`, spending at most about `budget` steps along diagonals; the
        /// parts left when it runs out are marked removed and added whole.
        mutating func run(budget: Int) {
            var budget = budget
            let size = xs.count + ys.count + 3
            var forward = [Int](repeating: -1, count: size), reverse = forward
            var stack = [Problem(x0: 0, x1: xs.count, y0: 0, y1: ys.count)]
            while var problem = stack.popLast() {
                trimEnds(&problem)
                if problem.x0 == problem.x1 || problem.y0 == problem.y1 || budget <= 0 {
                    for x in problem.x0..<problem.x1 { removed[x] = true }
                    for y in problem.y0..<problem.y1 { added[y] = true }
                    continue
                }
                if let (x, y) = split(problem, &forward, &reverse, budget: &budget) {
                    stack.append(Problem(x0: x, x1: problem.x1, y0: y, y1: problem.y1))
                    stack.append(Problem(x0: problem.x0, x1: x, y0: problem.y0, y1: y))
                } else {
                    for x in problem.x0..<problem.x1 { removed[x] = true }
                    for y in problem.y0..<problem.y1 { added[y] = true }
                }
            }
        }

        /// Sets aside the elements `problem` starts with and ends with on both sides.
        private func trimEnds(_ problem: inout Problem) {
            while problem.x0 < problem.x1, problem.y0 < problem.y1, xs[problem.x0] == ys[problem.y0] {
                problem.x0 += 1
                problem.y0 += 1
            }
            while problem.x0 < problem.x1, problem.y0 < problem.y1, xs[problem.x1 - 1] == ys[problem.y1 - 1] {
                problem.x1 -= 1
                problem.y1 -= 1
            }
        }

        /// A point strictly inside `problem` (both sides non-empty, ends differing) through which a
        /// shortest path passes, or nil when the budget ran out or nothing is in common.
        ///
        /// `forward[k]` is the furthest x reached on diagonal k (x - y) from the start, and
        /// `reverse[k]` the furthest distance back from the end on diagonal k counted from the end,
        /// both offset by `offset`; -1 marks a diagonal not reached.
        private func split(_ problem: Problem, _ forward: inout [Int], _ reverse: inout [Int], budget: inout Int) -> (Int, Int)? {
            let n = problem.x1 - problem.x0, m = problem.y1 - problem.y0
            let maxD = (n + m + 1) / 2
            let offset = maxD + 1, length = 2 * maxD + 3
            let delta = n - m
            let oddDelta = delta & 1 != 0
            let x0 = problem.x0, y0 = problem.y0
            return xs.withUnsafeBufferPointer { xs in
                ys.withUnsafeBufferPointer { ys in
                    forward.withUnsafeMutableBufferPointer { forward in
                        reverse.withUnsafeMutableBufferPointer { reverse in
                            for index in 0..<length {
                                forward[index] = -1
                                reverse[index] = -1
                            }
                            forward[offset + 1] = 0
                            reverse[offset + 1] = 0
                            // Diagonals at either edge that have left the grid are skipped.
                            var forwardLow = 0, forwardHigh = 0, reverseLow = 0, reverseHigh = 0
                            var work = 0
                            for d in 0...maxD {
                                var k = -d + forwardLow
                                while k <= d - forwardHigh {
                                    let index = offset + k
                                    var x = k == -d || (k != d && forward[index - 1] < forward[index + 1])
                                        ? forward[index + 1] : forward[index - 1] + 1
                                    var y = x - k
                                    let startX = x
                                    while x < n, y < m, xs[x0 + x] == ys[y0 + y] {
                                        x += 1
                                        y += 1
                                    }
                                    work += 1 + x - startX
                                    forward[index] = x
                                    if x > n {
                                        forwardHigh += 2
                                    } else if y > m {
                                        forwardLow += 2
                                    } else if oddDelta {
                                        let other = offset + delta - k
                                        if other >= 0, other < length, reverse[other] != -1, x >= n - reverse[other] {
                                            budget -= work
                                            return (x0 + x, y0 + y)
                                        }
                                    }
                                    k += 2
                                }
                                k = -d + reverseLow
                                while k <= d - reverseHigh {
                                    let index = offset + k
                                    var x = k == -d || (k != d && reverse[index - 1] < reverse[index + 1])
                                        ? reverse[index + 1] : reverse[index - 1] + 1
                                    var y = x - k
                                    let startX = x
                                    while x < n, y < m, xs[x0 + n - x - 1] == ys[y0 + m - y - 1] {
                                        x += 1
                                        y += 1
                                    }
                                    work += 1 + x - startX
                                    reverse[index] = x
                                    if x > n {
                                        reverseHigh += 2
                                    } else if y > m {
                                        reverseLow += 2
                                    } else if !oddDelta {
                                        let other = offset + delta - k
                                        if other >= 0, other < length, forward[other] != -1 {
                                            let forwardX = forward[other], forwardY = forwardX - (delta - k)
                                            if forwardX <= n, forwardY >= 0, forwardY <= m, forwardX >= n - x {
                                                budget -= work
                                                return (x0 + forwardX, y0 + forwardY)
                                            }
                                        }
                                    }
                                    k += 2
                                }
                                if work > budget {
                                    budget -= work
                                    return nil
                                }
                            }
                            budget -= work
                            return nil
                        }
                    }
                }
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
