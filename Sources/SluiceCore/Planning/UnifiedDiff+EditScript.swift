/// The edit script: which lines of the old text are removed and which of the new are added, found
/// as ``UnifiedDiff`` describes (common ends set aside, lines unique to one text marked, Myers'
/// search from both ends within a work budget, runs of changes slid down over equal lines).
extension UnifiedDiff {
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
}
