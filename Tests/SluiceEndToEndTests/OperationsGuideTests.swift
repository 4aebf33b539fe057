import Foundation
import SluiceTesting
import Testing

/// The example of docs/operations.md, run as the guide runs it, so that the guide stays true.
@Suite("The operations guide's example, run as a program", .ownThread)
struct OperationsGuideTests {
    @Test func theGuidesChangeIsApprovedAppliedAndRolledBack() throws {
        let folder = try TemporaryFolder()
        let example = SluiceBinary.repositoryRoot.appendingPathComponent("docs/examples/connections")
        for name in ["connections.yaml", "scripts/pool.sh"] {
            let text = try String(contentsOf: example.appendingPathComponent(name), encoding: .utf8)
            try folder.write(name, text, executable: name.hasSuffix(".sh"))
        }
        for target in ["app-1", "app-2", "app-3"] { try folder.write("state/\(target)/db.conf", "max_connections = 100\n") }
        func sluice(_ arguments: [String], as user: String = "dana") throws -> SluiceBinary.Result {
            try SluiceBinary.run(arguments, in: folder.url, environment: [
                "SLUICE_STORE": folder.url.appendingPathComponent(".sluice/audit.sqlite").path, "SLUICE_USER": user,
            ])
        }
        func conf(_ target: String) -> String? {
            try? String(contentsOf: folder.url.appendingPathComponent("state/\(target)/db.conf"), encoding: .utf8)
        }

        #expect(try sluice(["validate", "connections.yaml"]).status == 0)
        #expect(try sluice(["plan", "connections.yaml"]).status == 0)
        #expect(try sluice(["apply", "connections.yaml", "--yes"]).status == 4)  // not approved
        #expect(try sluice(["approve", "connections.yaml", "--by", "lee"]).status == 0)
        let applied = try sluice(["apply", "connections.yaml", "--yes"])
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        for target in ["app-1", "app-2", "app-3"] { #expect(conf(target) == "max_connections = 200\n") }

        let run = try #require(applied.stdout.split(separator: " ").dropFirst().first.map { String($0.dropLast()) })
        let rolledBack = try sluice(["rollback", run, "--reason", "guide"])
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        for target in ["app-1", "app-2", "app-3"] { #expect(conf(target) == "max_connections = 100\n") }
    }
}
