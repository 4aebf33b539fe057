import Foundation
import SluiceTesting
import Testing

/// A runbook, a variable or a command's output that carries terminal control characters is shown
/// with them escaped (`\e`, `\r`, `\x07`), so it cannot hide from the reviewer what runs.
@Suite("Terminal safety, run as a program", .ownThread)
struct TerminalSafetyTests {
    /// A step whose command erases its own first half on a terminal: the reviewer of a raw plan
    /// would see `run: echo safe`, while `touch hidden-ran` is what runs (the rest is a comment). A second step prints
    /// ESC, CR and BEL in its output. Every command is harmless and stays in the folder.
    static func world() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        // A raw string: `\e`, `\r` and `\t` below are YAML's escapes in a double-quoted scalar, and
        // in single quotes they reach printf as written.
        try folder.write("runbook.yaml", #"""
            sluice: 1
            id: hostile
            title: "Quiet\e[8m hidden"
            vars: { note: "ok\rHIDDEN" }
            targets: [{ name: web1 }]
            steps:
              - name: deploy
                run: "touch hidden-ran # \e[2K\recho safe"
              - name: noisy
                run: 'printf "ok\033[2K\rfine\007\n"; echo {{ vars.note }}'

            """#)
        return folder
    }

    static func environment(_ folder: TemporaryFolder) -> [String: String] {
        ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "SLUICE_USER": "alice"]
    }

    /// The control characters a terminal obeys that must never reach it from a runbook or a
    /// command: every C0 byte but tab and newline, and DEL. (C1 and bidi controls have their
    /// unit tests; a plain-text report has no reason to carry any ESC at all.)
    static func rawControls(in text: String) -> [UInt8] {
        text.utf8.filter { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A) || $0 == 0x7F }
    }

    @Test func planShowsAnEscapeSequenceInACommandEscaped() throws {
        // Given a runbook whose command hides its first half behind ESC[2K and CR
        let folder = try Self.world()
        // When it is planned
        let result = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: Self.environment(folder))
        // Then the report spells the control characters out and writes none of them
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(#"run:      touch hidden-ran # \e[2K\recho safe"#), "\(result.stdout)")
        #expect(result.stdout.contains(#"Quiet\e[8m hidden"#), "\(result.stdout)")
        #expect(result.stdout.contains(#"echo 'ok\rHIDDEN'"#), "a variable's CR is shown escaped: \(result.stdout)")
        #expect(Self.rawControls(in: result.stdout) == [], "\(result.stdout.debugDescription)")
        #expect(Self.rawControls(in: result.stderr) == [], "\(result.stderr.debugDescription)")
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("hidden-ran").path))
    }

    @Test func applyAndShowPrintACommandsControlCharactersEscaped() throws {
        // Given the same runbook
        let folder = try Self.world()
        // When it is applied
        let applied = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: Self.environment(folder))
        // Then it ran what it said, and the output line shows ESC, CR and BEL escaped
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("hidden-ran").path))
        #expect(applied.stdout.contains(#"web1 / noisy | ok\e[2K\rfine\x07"#), "\(applied.stdout)")
        #expect(applied.stdout.contains(#"web1 / noisy | ok\rHIDDEN"#), "\(applied.stdout)")
        #expect(Self.rawControls(in: applied.stdout) == [], "\(applied.stdout.debugDescription)")
        #expect(Self.rawControls(in: applied.stderr) == [], "\(applied.stderr.debugDescription)")

        // When its run is shown
        let run = try #require(applied.stdout.firstMatch(of: /r-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}/).map { String($0.output) })
        let shown = try SluiceBinary.run(["show", run], in: folder.url, environment: Self.environment(folder))
        // Then the command and its output tail are escaped too, and the title
        #expect(shown.status == 0, "\(shown.stdout)\(shown.stderr)")
        #expect(shown.stdout.contains(#"$ touch hidden-ran # \e[2K\recho safe"#), "\(shown.stdout)")
        #expect(shown.stdout.contains(#"| ok\e[2K\rfine\x07"#), "\(shown.stdout)")
        #expect(shown.stdout.contains(#"| ok\rHIDDEN"#), "\(shown.stdout)")
        #expect(shown.stdout.contains(#"hostile: Quiet\e[8m hidden"#), "\(shown.stdout)")
        #expect(Self.rawControls(in: shown.stdout) == [], "\(shown.stdout.debugDescription)")

        // And --json keeps the raw values: JSON escapes them itself
        let json = try SluiceBinary.run(["show", run, "--json"], in: folder.url, environment: Self.environment(folder))
        #expect(json.stdout.contains(#"ok\u001b[2K\rfine\u0007\nok\rHIDDEN"#), "\(json.stdout)")
    }

    @Test func applyOnATerminalKeepsItsOwnStylingAndEscapesTheRunbooks() throws {
        // Given the same runbook, applied on a terminal (under script(1)), where colour and the
        // live status line are on
        let folder = try Self.world()
        let command = [SluiceBinary.executable.path, "apply", "runbook.yaml", "--yes"].map { "'\($0)'" }.joined(separator: " ")
        let applied = try Self.runOnTerminal(command, in: folder, environment: Self.environment(folder))
        // Then sluice's own escape sequences are there (colours, the status line's erase), and
        // not one from the runbook or the command's output
        #expect(applied.contains("\u{1B}[K"), "\(applied.debugDescription)")
        #expect(applied.contains("\u{1B}[32msucceeded\u{1B}[0m"), "\(applied.debugDescription)")
        #expect(applied.contains(#"ok\e[2K\rfine\x07"#), "\(applied.debugDescription)")
        #expect(applied.contains(#"ok\rHIDDEN"#), "\(applied.debugDescription)")
        #expect(!applied.contains("\u{1B}[2K"), "\(applied.debugDescription)")
        #expect(!applied.contains("\u{07}"), "\(applied.debugDescription)")
        #expect(!applied.contains("ok\rHIDDEN"), "\(applied.debugDescription)")
    }

    @Test func validateQuotesAControlCharacterInABadKeyEscaped() throws {
        // Given a runbook with an unknown key that carries ESC and CR
        let folder = try TemporaryFolder()
        try folder.write("bad.yaml", #"""
            sluice: 1
            id: bad
            targets: [{ name: a }]
            steps:
              - name: s
                run: echo ok
                "retries\e[2K\r": 2

            """#)
        // When it is validated
        let result = try SluiceBinary.run(["validate", "bad.yaml"], in: folder.url)
        // Then the diagnostic quotes the key with its control characters spelt out
        #expect(result.status == 2)
        #expect(result.stderr.contains(#"unknown key `retries\e[2K\r` in a step"#), "\(result.stderr.debugDescription)")
        #expect(Self.rawControls(in: result.stderr) == [], "\(result.stderr.debugDescription)")
    }

    /// Runs `command` under script(1), so that sluice's standard output is a terminal; returns
    /// what the terminal received.
    static func runOnTerminal(_ command: String, in folder: TemporaryFolder, environment: [String: String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        process.currentDirectoryURL = folder.url
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { $0.key != "NO_COLOR" }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
