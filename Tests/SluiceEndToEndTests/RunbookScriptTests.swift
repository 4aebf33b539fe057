import Foundation
import SluiceTesting
import Testing

@Suite("The example runbooks' own scripts", .ownThread)
struct RunbookScriptTests {
    /// Runbooks/lab/selftest.sh exercises every script that needs only a shell (holds, guards,
    /// the certificate counter, the demo service), each twice to prove it is safe to repeat.
    @Test func selftestPasses() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [SluiceBinary.repositoryRoot.appendingPathComponent("Runbooks/lab/selftest.sh").path]
        process.currentDirectoryURL = SluiceBinary.repositoryRoot
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("all checks passed"))
        #expect(!text.contains("FAIL"))
    }
}
