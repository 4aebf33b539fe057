import Testing
@testable import SluiceCore

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
}
