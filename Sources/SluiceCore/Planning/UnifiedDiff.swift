/// A unified diff between two texts, as `diff -u` prints it.
public enum UnifiedDiff {
    /// The diff from `old` to `new`, or the empty string when they are equal. `old` nil means the
    /// file does not exist yet.
    public static func make(old: String?, new: String, path: String, context: Int = 3) -> String {
        guard old != new else { return "" }
        let before = lines(of: old ?? ""), after = lines(of: new)
        let operations = edits(from: before, to: after)
        var output = (old == nil ? "--- /dev/null\n" : "--- \(path)\n") + "+++ \(path)\n"
        for hunk in hunks(operations, context: context) {
            let oldStart = hunk.oldCount == 0 ? hunk.oldStart : hunk.oldStart + 1
            let newStart = hunk.newCount == 0 ? hunk.newStart : hunk.newStart + 1
            output += "@@ -\(range(oldStart, hunk.oldCount)) +\(range(newStart, hunk.newCount)) @@\n"
            for operation in operations[hunk.operations] {
                switch operation {
                case .same(let line, _, _): output += " " + line.render
                case .removed(let line, _): output += "-" + line.render
                case .added(let line, _): output += "+" + line.render
                }
            }
        }
        return output
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        count == 1 ? "\(start)" : "\(start),\(count)"
    }

    struct Line: Equatable {
        var text: Substring
        var endsWithNewline: Bool

        var render: String {
            endsWithNewline ? text + "\n" : text + "\n\\ No newline at end of file\n"
        }
    }

    static func lines(of text: String) -> [Line] {
        guard !text.isEmpty else { return [] }
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        let endsWithNewline = text.hasSuffix("\n")
        if endsWithNewline { parts.removeLast() }
        return parts.enumerated().map { Line(text: $0.element, endsWithNewline: endsWithNewline || $0.offset < parts.count - 1) }
    }

    enum Operation {
        case same(Line, old: Int, new: Int)
        case removed(Line, old: Int)
        case added(Line, new: Int)

        var isChange: Bool {
            if case .same = self { false } else { true }
        }
    }

    static func edits(from old: [Line], to new: [Line]) -> [Operation] {
        let difference = new.difference(from: old)
        var removed = Set<Int>(), inserted = Set<Int>()
        for change in difference {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var operations: [Operation] = []
        var i = 0, j = 0
        while i < old.count || j < new.count {
            if i < old.count, removed.contains(i) {
                operations.append(.removed(old[i], old: i))
                i += 1
            } else if j < new.count, inserted.contains(j) {
                operations.append(.added(new[j], new: j))
                j += 1
            } else {
                operations.append(.same(old[i], old: i, new: j))
                i += 1
                j += 1
            }
        }
        return operations
    }

    struct Hunk {
        var operations: Range<Int>
        var oldStart: Int, oldCount: Int, newStart: Int, newCount: Int
    }

    /// Groups changes with `context` unchanged lines around them, merging groups that touch.
    static func hunks(_ operations: [Operation], context: Int) -> [Hunk] {
        let changed = operations.indices.filter { operations[$0].isChange }
        var ranges: [Range<Int>] = []
        for index in changed {
            let lower = max(0, index - context), upper = min(operations.count, index + context + 1)
            if let last = ranges.last, lower <= last.upperBound {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, upper)
            } else {
                ranges.append(lower..<upper)
            }
        }
        // Line numbers before each operation.
        var oldLine = 0, newLine = 0
        var positions: [(old: Int, new: Int)] = []
        for operation in operations {
            positions.append((oldLine, newLine))
            switch operation {
            case .same: oldLine += 1; newLine += 1
            case .removed: oldLine += 1
            case .added: newLine += 1
            }
        }
        return ranges.map { range in
            let slice = operations[range]
            let oldCount = slice.filter { if case .added = $0 { false } else { true } }.count
            let newCount = slice.filter { if case .removed = $0 { false } else { true } }.count
            return Hunk(operations: range, oldStart: positions[range.lowerBound].old, oldCount: oldCount, newStart: positions[range.lowerBound].new, newCount: newCount)
        }
    }
}
