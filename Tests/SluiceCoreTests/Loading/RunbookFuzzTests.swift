import Foundation
import SluiceTesting
import Testing
@testable import SluiceCore

/// Random damage to valid runbooks must never crash or hang the loader: every outcome is a
/// runbook or diagnostics with positions inside the file.
@Suite("Fuzzing the loader", .ownThread(queued: false))
struct RunbookFuzzTests {
    static let alphabet: [String] = [
        ":", "{", "}", "[", "]", "-", " ", "  ", "\n", "\t", "\"", "'", "#", "&a", "*a", "!", "|", ">", "%", "@", "`",
        "{{", "}}", "{{ target.", ",", "?", "\\", "x", "0", "-1", "é", "🚦", "\u{0}", "\r", "~", "null", "true", "99999999999999999999",
    ]

    @Test(.timeLimit(.minutes(2)), arguments: 0..<8)
    func mutatedRunbooksNeverCrashTheLoader(_ batch: Int) throws {
        let fixture = try RunbookLoaderTests.completeFixture()
        let base = RunbookLoaderTests.complete
        var generator = SeededGenerator(seed: UInt64(1000 + batch))
        var outcomes = (valid: 0, invalid: 0)
        for _ in 0..<500 {
            // Given a valid runbook with one to four random mutations
            var text = base
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                text = Self.mutate(text, using: &generator)
            }
            // When it is loaded
            let result = fixture.load(text)
            // Then it is either valid, or has errors, each pointing inside the file (or its sources)
            if result.diagnostics.hasErrors { outcomes.invalid += 1 } else { outcomes.valid += 1 }
            let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
            for diagnostic in result.diagnostics where diagnostic.location.file == "runbook.yaml" {
                #expect(diagnostic.location.line >= 1 && diagnostic.location.line <= lineCount + 1, "\(diagnostic)")
                #expect(diagnostic.location.column >= 1, "\(diagnostic)")
                #expect(!diagnostic.message.isEmpty)
            }
        }
        // Some mutations are harmless (inside comments or strings), most are not: both paths ran.
        #expect(outcomes.invalid > 0)
        #expect(outcomes.valid + outcomes.invalid == 500)
    }

    static func mutate(_ text: String, using generator: inout SeededGenerator) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = Int.random(in: 0..<lines.count, using: &generator)
        switch Int.random(in: 0..<7, using: &generator) {
        case 0:  // insert a token
            var line = Array(lines[index])
            line.insert(contentsOf: alphabet.randomElement(using: &generator) ?? "", at: Int.random(in: 0...line.count, using: &generator))
            lines[index] = String(line)
        case 1:  // delete a character
            var line = Array(lines[index])
            if !line.isEmpty { line.remove(at: Int.random(in: 0..<line.count, using: &generator)) }
            lines[index] = String(line)
        case 2:  // delete a line
            lines.remove(at: index)
        case 3:  // duplicate a line
            lines.insert(lines[index], at: index)
        case 4:  // swap two lines
            lines.swapAt(index, Int.random(in: 0..<lines.count, using: &generator))
        case 5:  // change the indentation
            lines[index] = String(repeating: " ", count: Int.random(in: 0...8, using: &generator)) + lines[index].drop { $0 == " " }
        default:  // cut the file short
            lines = Array(lines.prefix(index))
        }
        return lines.joined(separator: "\n")
    }
}
