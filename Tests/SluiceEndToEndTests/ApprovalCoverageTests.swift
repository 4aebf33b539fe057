import Foundation
import SluiceTesting
import Testing

/// What an approval covers beyond the runbook and its scripts: the scripts an interpreter runs
/// and the files variables are read from. Through the built binary.
@Suite("Approval covers what runs", .ownThread)
struct ApprovalCoverageTests {
    static func world() throws -> GatesWorld {
        let world = try GatesWorld(extra: ApproveCommandTests.required)
        try world.folder.write("scripts/migrate.sh", "echo migrate >> log\n")
        try world.folder.write("tools/check.sh", "echo check >> log\n")
        try world.folder.write("files/banner.txt", "maintenance tonight\n")
        try world.folder.write("secrets/token", "tok-51c2\n")
        try world.folder.write("runbook.yaml", """
            sluice: 1
            id: gates
            approval: { required: true }
            vars:
              banner: { file: files/banner.txt }
              token: { file: secrets/token, secret: true }
            targets: [{ name: web1 }]
            steps:
              - name: migrate
                run: sh scripts/migrate.sh > out/migrate.log 2>&1
              - name: check
                run: [bash, ./tools/check.sh]
              - name: banner
                run: "echo {{ vars.banner }} {{ vars.token }} >> log"

            """)
        return world
    }

    @Test(arguments: [
        ("scripts/migrate.sh", "script scripts/migrate.sh changed"),
        ("tools/check.sh", "script ./tools/check.sh changed"),
        ("files/banner.txt", "variable files/banner.txt changed"),
        ("secrets/token", "secret secrets/token changed"),
    ])
    func aFileEditedAfterTheApprovalIsRefusedNamingIt(_ file: String, _ expected: String) throws {
        // Given an approved runbook whose commands run scripts through interpreters and whose
        // variables come from files
        let world = try Self.world()
        let approved = try world.run(["approve", "runbook.yaml", "--by", "bob"], user: "bob")
        #expect(approved.status == 0, "\(approved.stdout)\(approved.stderr)")

        // When one of those files is edited
        let path = world.folder.url.appendingPathComponent(file)
        try Data((try String(contentsOf: path, encoding: .utf8) + "echo owned >> log\n").utf8).write(to: path)

        // Then apply refuses, naming it, and nothing ran
        let applied = try world.apply()
        #expect(applied.status == 4, "\(applied.stdout)\(applied.stderr)")
        #expect(applied.stderr.contains(expected), "\(applied.stderr)")
        #expect(world.read("log") == nil)
    }

    @Test func theApprovalNamesEachFileAndNeverTheSecretsPlainHash() throws {
        let world = try Self.world()
        let approved = try world.run(["approve", "runbook.yaml", "--by", "bob"], user: "bob")
        #expect(approved.status == 0, "\(approved.stdout)\(approved.stderr)")
        for line in ["script scripts/migrate.sh", "script ./tools/check.sh", "variable files/banner.txt", "secret secrets/token"] {
            #expect(approved.stdout.contains("  \(line)  sha256 "), "\(approved.stdout)")
        }
        // The file written through `>` is an output, not something that runs
        #expect(!approved.stdout.contains("out/migrate.log"))
        try world.folder.write("token-copy", "tok-51c2\n")
        let sum = Process()
        sum.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sum.arguments = [world.folder.url.appendingPathComponent("token-copy").path]
        let pipe = Pipe()
        sum.standardOutput = pipe
        try sum.run()
        sum.waitUntilExit()
        let plain = String(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
        #expect(plain.count == 64)
        let dump = try SQLiteShell.run(world.store, ".dump")
        #expect(!approved.stdout.contains(plain) && !dump.contains(plain))
        #expect(try world.apply().status == 0)
        #expect(world.read("log") == "migrate\ncheck\nmaintenance tonight tok-51c2\n")
    }
}
