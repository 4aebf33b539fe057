import Foundation
import SluiceTesting
import Testing

@Suite("sluice validate, run as a program", .ownThread)
struct ValidateCommandTests {
    @Test func versionPrints() throws {
        let result = try SluiceBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func everyShippedRunbookIsValid() throws {
        let folder = SluiceBinary.repositoryRoot.appendingPathComponent("Runbooks")
        let runbooks = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        try #require(runbooks.count >= 5)
        let result = try SluiceBinary.run(["validate"] + runbooks.map { "Runbooks/\($0)" })
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("error:"))
        #expect(result.stdout.split(separator: "\n").count == runbooks.count)
        #expect(result.stdout.split(separator: "\n").allSatisfy { $0.contains(": valid: ") })
    }

    @Test func invalidRunbookExitsTwoWithPositions() throws {
        // Given one valid and one invalid runbook
        let folder = try TemporaryFolder()
        try folder.write("good.yaml", "sluice: 1\nid: good\ntargets: [{ name: a }]\nsteps: [{ name: s, run: echo ok }]\n")
        try folder.write("bad.yaml", "sluice: 1\nid: bad\ntargets: [{ name: a }]\nsteps:\n  - name: s\n    run: echo {{ target.nmae }}\n    retires: 2\n")
        // When both are validated
        let result = try SluiceBinary.run(["validate", "good.yaml", "bad.yaml"], in: folder.url)
        // Then the status is 2, every problem is on standard error with its position, and each file gets a verdict
        #expect(result.status == 2)
        #expect(result.stderr == """
            bad.yaml:6:18: error: unknown template variable `target.nmae`; did you mean `target.name`?
            bad.yaml:7:5: error: unknown key `retires` in a step; did you mean `retries`?

            """)
        #expect(result.stdout == "good.yaml: valid: good (1 target, 1 stage, 1 step)\nbad.yaml: invalid: 2 errors\n")
    }

    @Test func missingFileIsAnInvalidRunbook() throws {
        let folder = try TemporaryFolder()
        let result = try SluiceBinary.run(["validate", "nope.yaml"], in: folder.url)
        #expect(result.status == 2)
        #expect(result.stderr == "nope.yaml:1:1: error: runbook file does not exist; check the path\n")
    }

    @Test(arguments: [["validate"], ["validate", "--frobnicate", "x.yaml"], ["bogus-command"]])
    func commandLineMistakesExitSixtyFour(_ arguments: [String]) throws {
        let result = try SluiceBinary.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("Usage:") || result.stderr.contains("Error:"))
    }

    @Test(.timeLimit(.minutes(5)))
    func mutatedRunbooksExitZeroOrTwoAndNeverCrash() throws {
        // Given the quickstart runbook, damaged at random in 150 ways
        let original = try String(contentsOf: SluiceBinary.repositoryRoot.appendingPathComponent("Runbooks/quickstart.yaml"), encoding: .utf8)
        let folder = try TemporaryFolder()
        for support in ["scripts", "files", "inventory"] {
            let source = SluiceBinary.repositoryRoot.appendingPathComponent("Runbooks/\(support)")
            if FileManager.default.fileExists(atPath: source.path) {
                try FileManager.default.copyItem(at: source, to: folder.url.appendingPathComponent(support))
            }
        }
        var generator = SystemRandomNumberGenerator()
        var paths: [String] = []
        for index in 0..<150 {
            var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let line = Int.random(in: 0..<lines.count, using: &generator)
            let tokens = [":", "{", "[", "-", "  ", "\"", "{{", "}}", "&x", "*x", "\t", "\u{0}", "é"]
            var characters = Array(lines[line])
            characters.insert(contentsOf: tokens.randomElement(using: &generator) ?? ":", at: Int.random(in: 0...characters.count, using: &generator))
            lines[line] = String(characters)
            if Bool.random(using: &generator) { lines.remove(at: Int.random(in: 0..<lines.count, using: &generator)) }
            paths.append(try folder.write("m\(index).yaml", lines.joined(separator: "\n")))
        }
        // When each is validated by the program, in groups
        var statuses = Set<Int32>()
        for group in stride(from: 0, to: paths.count, by: 25) {
            let result = try SluiceBinary.run(["validate"] + paths[group..<min(group + 25, paths.count)], in: folder.url)
            // Then the program exits 0 or 2, never by a signal
            #expect(!result.crashed)
            #expect(result.status == 0 || result.status == 2, "\(result.stderr)")
            statuses.insert(result.status)
        }
        #expect(statuses.contains(2))
    }
}
