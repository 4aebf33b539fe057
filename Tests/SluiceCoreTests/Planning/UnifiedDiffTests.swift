import Testing
@testable import SluiceCore

/// Two texts and the hunks GNU `diff -u` (diffutils 3.8) prints for them, below its `---`/`+++` lines.
struct GNUDiffCase: CustomTestStringConvertible, Sendable {
    let name: String, old: String, new: String, expected: String

    init(_ name: String, _ old: String, _ new: String, _ expected: String) {
        self.name = name
        self.old = old
        self.new = new
        self.expected = expected
    }

    var testDescription: String { name }
}

@Suite("Unified diffs")
struct UnifiedDiffTests {
    @Test func newFileShowsEveryLineAdded() {
        #expect(UnifiedDiff.make(old: nil, new: "a\nb\n", path: "/etc/x.conf") == """
            --- /dev/null
            +++ /etc/x.conf
            @@ -0,0 +1,2 @@
            +a
            +b

            """)
    }

    @Test func unchangedFileHasNoDiff() {
        #expect(UnifiedDiff.make(old: "same\n", new: "same\n", path: "x") == "")
    }

    @Test func changedLineWithContext() {
        let old = (1...10).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let new = old.replacing("line 5\n", with: "line five\n")
        #expect(UnifiedDiff.make(old: old, new: new, path: "x") == """
            --- x
            +++ x
            @@ -2,7 +2,7 @@
             line 2
             line 3
             line 4
            -line 5
            +line five
             line 6
             line 7
             line 8

            """)
    }

    @Test func distantChangesMakeSeparateHunks() {
        let old = (1...20).map { "l\($0)" }.joined(separator: "\n") + "\n"
        let new = old.replacing("l2\n", with: "two\n").replacing("l19\n", with: "nineteen\n")
        let diff = UnifiedDiff.make(old: old, new: new, path: "x")
        #expect(diff.split(separator: "\n").filter { $0.hasPrefix("@@") } == ["@@ -1,5 +1,5 @@", "@@ -16,5 +16,5 @@"])
    }

    @Test func missingFinalNewlineIsMarked() {
        #expect(UnifiedDiff.make(old: "a\nb", new: "a\nb\n", path: "x") == """
            --- x
            +++ x
            @@ -1,2 +1,2 @@
             a
            -b
            \\ No newline at end of file
            +b

            """)
    }

    @Test func emptyingAFile() {
        #expect(UnifiedDiff.make(old: "gone\n", new: "", path: "x") == "--- x\n+++ x\n@@ -1 +0,0 @@\n-gone\n")
    }

    /// Each expected text is what `diff -u old new` printed, checked by running it.
    static let gnuCases = [
        GNUDiffCase("blank lines slide to join the unchanged ones", "a\n\n\nb\n\n\nc\n", "a\n\nb\n\n\n\nc\n", "@@ -1,7 +1,7 @@\n a\n \n-\n b\n \n \n+\n c\n"),
        GNUDiffCase("Windows line endings", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", "@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n"),
        GNUDiffCase("no final newline on either side", "a\nb\nc", "a\nb\nd", "@@ -1,3 +1,3 @@\n a\n b\n-c\n\\ No newline at end of file\n+d\n\\ No newline at end of file\n"),
        GNUDiffCase("a repeated line added", "x\na\na\ny\n", "x\na\na\na\ny\n", "@@ -1,4 +1,5 @@\n x\n a\n a\n+a\n y\n"),
        GNUDiffCase("a block inserted between blank lines", "a\n}\n\nb\n}\n", "a\n}\n\nc\n}\n\nb\n}\n", "@@ -1,5 +1,8 @@\n a\n }\n \n+c\n+}\n+\n b\n }\n"),
        GNUDiffCase("a line inserted at the start", "a\nb\nc\nd\ne\n", "new\na\nb\nc\nd\ne\n", "@@ -1,3 +1,4 @@\n+new\n a\n b\n c\n"),
        GNUDiffCase("a line added at the end without a newline", "a\nb\n", "a\nb\nc", "@@ -1,2 +1,3 @@\n a\n b\n+c\n\\ No newline at end of file\n"),
        GNUDiffCase("every line changed", "one\ntwo\n", "three\nfour\n", "@@ -1,2 +1,2 @@\n-one\n-two\n+three\n+four\n"),
        GNUDiffCase("a line moved to the end", "a\nb\nc\nd\n", "b\nc\nd\na\n", "@@ -1,4 +1,4 @@\n-a\n b\n c\n d\n+a\n"),
        GNUDiffCase("an empty file filled", "", "a\n", "@@ -0,0 +1 @@\n+a\n"),
        GNUDiffCase("the same text in other bytes", "caf\u{E9}\n", "cafe\u{301}\n", "@@ -1 +1 @@\n-caf\u{E9}\n+cafe\u{301}\n"),
    ]

    @Test(arguments: gnuCases)
    func matchesGNUDiff(_ testCase: GNUDiffCase) {
        let diff = UnifiedDiff.make(old: testCase.old, new: testCase.new, path: "x")
        #expect(diff == "--- x\n+++ x\n" + testCase.expected)
        #expect(Array(diff.utf8) == Array(("--- x\n+++ x\n" + testCase.expected).utf8))
    }

    @Test func scatteredChangesInAHundredThousandLinesMakeOneHunkEach() {
        // Given a 100,000-line file with one line changed near the start, one removed, one
        // inserted and the last one changed
        let old = (1...100_000).map { "line \($0)\n" }
        var new = old
        new[9] = "line ten\n"
        new.insert("inserted\n", at: 75_000)
        new.remove(at: 49_999)
        new[new.count - 1] = "last\n"

        // When
        let diff = UnifiedDiff.make(old: old.joined(), new: new.joined(), path: "big.conf")

        // Then it has the four hunks diff -u prints, and nothing else
        let lines = diff.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.filter { $0.hasPrefix("@@") } == [
            "@@ -7,7 +7,7 @@", "@@ -49997,7 +49997,6 @@", "@@ -74998,6 +74997,7 @@", "@@ -99997,4 +99997,4 @@",
        ])
        #expect(lines.filter { $0.hasPrefix("-") || $0.hasPrefix("+") } == [
            "--- big.conf", "+++ big.conf", "-line 10", "+line ten", "-line 50000", "+inserted", "-line 100000", "+last",
        ])
        #expect(lines.count == 34)
        #expect(diff.hasSuffix("@@ -99997,4 +99997,4 @@\n line 99997\n line 99998\n line 99999\n-line 100000\n+last\n"))
    }

    @Test func aLongDiffStopsAtAHunkWithTheCountsOfTheRest() {
        // Given 100 lines with every tenth one changed: ten hunks of eight lines
        let old = (1...100).map { "l\($0)\n" }
        let new = old.enumerated().map { $0.offset % 10 == 4 ? "changed \($0.offset + 1)\n" : $0.element }

        // When the diff may show 20 lines
        let diff = UnifiedDiff.make(old: old.joined(), new: new.joined(), path: "x", lineLimit: 20)

        // Then it shows two hunks; the third would pass the limit before its change, so it is left
        // out whole and counted with the other seven
        #expect(diff == """
            --- x
            +++ x
            @@ -2,7 +2,7 @@
             l2
             l3
             l4
            -l5
            +changed 5
             l6
             l7
             l8
            @@ -12,7 +12,7 @@
             l12
             l13
             l14
            -l15
            +changed 15
             l16
             l17
             l18
            ... diff truncated: 16 more lines changed (8 added, 8 removed) in 8 more hunks

            """)
    }

    @Test func aHugeHunkIsCutAtTheLimit() {
        // Given a new file of ten lines, when the diff may show four
        let diff = UnifiedDiff.make(old: nil, new: (1...10).map { "\($0)\n" }.joined(), path: "x", lineLimit: 4)

        // Then the one hunk is cut after three lines and counted as one more
        #expect(diff == "--- /dev/null\n+++ x\n@@ -0,0 +1,10 @@\n+1\n+2\n+3\n... diff truncated: 7 more lines changed (7 added, 0 removed) in 1 more hunk\n")
    }

    @Test func theCutCanFallBetweenARemovalAndItsReplacement() {
        let old = (1...10).map { "\($0)\n" }.joined()
        let diff = UnifiedDiff.make(old: old, new: old.replacing("5\n", with: "five\n"), path: "x", lineLimit: 5)
        #expect(diff == "--- x\n+++ x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n... diff truncated: 1 more line changed (1 added, 0 removed) in 1 more hunk\n")
    }

    @Test func trailingContextIsNeverCut() {
        // Given a change whose hunk ends three context lines past the limit
        let old = (1...10).map { "\($0)\n" }.joined()
        let diff = UnifiedDiff.make(old: old, new: old.replacing("5\n", with: "five\n"), path: "x", lineLimit: 6)

        // Then the hunk is shown whole, with no summary
        #expect(diff == "--- x\n+++ x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n")
    }

    @Test func diffsStopAtTwoThousandLinesByDefault() {
        // Given a new file of 5,000 lines
        let diff = UnifiedDiff.make(old: nil, new: (1...5_000).map { "\($0)\n" }.joined(), path: "x")

        // Then the header, 2,000 lines (the hunk header and 1,999 added lines) and the summary
        let lines = diff.split(separator: "\n").map(String.init)
        #expect(UnifiedDiff.defaultLineLimit == 2_000)
        #expect(lines.count == 2 + 2_000 + 1)
        #expect(lines[lines.count - 2] == "+1999")
        #expect(lines.last == "... diff truncated: 3001 more lines changed (3001 added, 0 removed) in 1 more hunk")
    }

    @Test func aCorrectDiffEvenPastTheSearchBudget() {
        // Given 2,000 lines drawn from two, in no order, and a search budget they exhaust
        var generator = SeededGenerator(seed: 7)
        let old = (0..<2_000).map { _ in Bool.random(using: &generator) ? "a\n" : "b\n" }
        let new = (0..<2_000).map { _ in Bool.random(using: &generator) ? "a\n" : "b\n" }
        let before = UnifiedDiff.Text(old.joined()), after = UnifiedDiff.Text(new.joined())
        let minimal = UnifiedDiff.edits(from: before, to: after)

        // When the search stops early
        let changes = UnifiedDiff.edits(from: before, to: after, workBudget: 10_000)

        // Then the rest is removed and added whole: longer, but it still turns the old lines into the new
        #expect(changes.reduce(0) { $0 + $1.deleted } > minimal.reduce(0) { $0 + $1.deleted })
        let diff = UnifiedDiff.render(changes, before, after, context: 3, lineLimit: .max)
        #expect(Self.apply(diff, to: old) == new)
        #expect(Self.apply(UnifiedDiff.render(minimal, before, after, context: 3, lineLimit: .max), to: old) == new)
    }

    /// The lines the hunks of `diff` (no file headers; every line ends in a newline) make of `old`.
    static func apply(_ diff: String, to old: [String]) -> [String] {
        var result: [String] = [], next = 0
        for line in diff.split(separator: "\n") {
            if line.hasPrefix("@@") {
                // "@@ -start[,count] +...": copy the lines before the hunk.
                let range = line.dropFirst(4).prefix { $0 != " " }.split(separator: ",")
                let start = Int(range[0]) ?? 0, count = range.count > 1 ? Int(range[1]) ?? 0 : 1
                let first = count == 0 ? start : start - 1
                result += old[next..<first]
                next = first
            } else if line.hasPrefix("-") {
                next += 1
            } else if line.hasPrefix("+") {
                result.append(line.dropFirst() + "\n")
            } else {
                result.append(old[next])
                next += 1
            }
        }
        return result + old[next...]
    }
}
