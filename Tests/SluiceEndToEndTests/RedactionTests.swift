import Foundation
import SluiceTesting
import Testing

/// Secrets are masked in free text only; names are kept as they are. Through the built binary.
@Suite("Redaction never touches identifiers", .ownThread)
struct RedactionTests {
    static func environment(_ folder: TemporaryFolder, _ extra: [String: String] = [:]) -> [String: String] {
        ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path, "SLUICE_USER": "alice"].merging(extra) { $1 }
    }

    @Test func aSecretThatIsPartOfATargetNameStillLetsTheRunBeRolledBack() throws {
        // Given a run whose secret happens to be `web`, the start of every target's name
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: secret-name-test
            vars:
              token: { env: TEST_TOKEN, secret: true }
            targets: [{ name: web1 }, { name: web2 }]
            steps:
              - name: deploy
                run: "echo deploy {{ target.name }} >> log"
                rollback: "echo undo {{ target.name }} >> log"

            """)
        let secret = ["TEST_TOKEN": "web"]
        let applied = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: Self.environment(folder, secret))
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let run = try #require(applied.stdout.firstMatch(of: /r-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}/).map { String($0.output) })

        // When it is rolled back
        let rolledBack = try SluiceBinary.run(
            ["rollback", run, "--reason", "test"], in: folder.url, environment: Self.environment(folder, secret))

        // Then both targets were undone, by name, and the store holds the names as they are
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        #expect(LostLockTests.log(folder) == ["deploy web1", "deploy web2", "undo web2", "undo web1"])
        let targets = try SQLiteShell.run(
            folder.url.appendingPathComponent("store/audit.sqlite").path,
            "SELECT DISTINCT target FROM events WHERE kind = 'step.started' ORDER BY target")
        #expect(targets == "web1\nweb2")
    }

    @Test func aMultiLineSecretIsMaskedLineByLineInLiveOutput() throws {
        // Given a secret key of three lines, which a step prints
        let folder = try TemporaryFolder()
        let key = "-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END TEST KEY-----"
        try folder.write("secrets/key.pem", key + "\n")
        try folder.write("runbook.yaml", """
            sluice: 1
            id: multi-line-secret-test
            vars:
              key: { file: secrets/key.pem, secret: true }
            targets: [{ name: web1 }]
            steps:
              - name: show key
                run: "cat secrets/key.pem"

            """)

        // When it is applied, printing progress lines (not --json)
        let applied = try SluiceBinary.run(["apply", "runbook.yaml", "--yes"], in: folder.url, environment: Self.environment(folder))

        // Then each line of the key was masked as it was shown, and in the store
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        for line in key.split(separator: "\n") {
            #expect(!applied.stdout.contains(line), "\(line) shown in:\n\(applied.stdout)")
        }
        #expect(applied.stdout.contains("web1 / show key | ***"), "\(applied.stdout)")
        let dump = try SQLiteShell.run(folder.url.appendingPathComponent("store/audit.sqlite").path, ".dump")
        #expect(!dump.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"))
    }
}
