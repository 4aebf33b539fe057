import Foundation
import SluiceTesting
import Testing

/// Runbooks/postgres-config-change.yaml against a real PostgreSQL owned by `postgres`. The
/// incident: a rollback restored postgresql.conf owned by root, so PostgreSQL, which reads the
/// file as `postgres`, could not start again. A file step keeps owner, group and mode, and a
/// rollback puts back exactly those and the old bytes (SPEC section 2).
///
/// Runs as root (CI does): see ``PostgresLab``.
@Suite("Integration: postgres-config-change (PostgreSQL)", .ownThread)
struct PostgresConfigChangeTests {
    /// `postgres:postgres 0600` as numbers, the way postgresql.conf must stay.
    static func postgresOwned() throws -> String {
        let user = try PostgresLab.postgresUser()
        return "\(user.uid):\(user.gid) 600"
    }

    @Test func restartsOnTheNewSettingsAndKeepsTheFilePostgresOwned() throws {
        try PostgresLab.run { lab in
            // Given the lab's server on the old settings, its postgresql.conf postgres:postgres 0600
            let owned = try Self.postgresOwned()
            #expect(try lab.configStatus().ownership == owned)
            #expect(try lab.show("max_connections") == "100")
            let pid = lab.postmasterPID()

            // When the change is applied
            let result = try lab.sluice(["apply", PostgresLab.runbook, "--yes"])

            // Then it succeeds, and the server was restarted on the new settings and accepts connections
            #expect(result.status == 0, "\(result.output)\n[server log]\n\(lab.serverLog())")
            #expect(result.stdout.contains("Run r-") && result.stdout.contains(" succeeded"), "\(result.output)")
            let ready = try lab.isReady()
            #expect(ready.ready, "\(ready.output)\n[server log]\n\(lab.serverLog())")
            #expect(lab.postmasterPID() != nil && lab.postmasterPID() != pid, "the server was not restarted")
            #expect(try lab.show("max_connections") == "150")
            #expect(try lab.show("shared_buffers") == "64MB")
            #expect(try lab.show("shared_preload_libraries") == "pg_stat_statements")
            // And the file holds the new settings and is still postgres:postgres 0600, with nothing left beside it
            let text = String(decoding: lab.configBytes() ?? Data(), as: UTF8.self)
            #expect(text.contains("\nmax_connections = 150\n"), "\(text)")
            #expect(text.contains("\nshared_preload_libraries = 'pg_stat_statements'\n"), "\(text)")
            #expect(try lab.configStatus().ownership == owned, "postgresql.conf after apply")
            #expect(try lab.leftovers() == [])
            #expect(try lab.sluice(["audit", "verify"]).status == 0)
        }
    }

    @Test func aLibraryThatPassesPostgresCheckButStopsTheRestartIsRolledBackAndTheServerComesBackOnTheOldFile() throws {
        try PostgresLab.run { lab in
            // Given a typo in the library to preload: `postgres -C` (the runbook's validate)
            // accepts it, only a start finds the library missing
            try lab.edit(replacing: "shared_preload_libraries: pg_stat_statements", with: "shared_preload_libraries: pg_stat_statementz")
            let owned = try Self.postgresOwned()
            let before = try #require(lab.configBytes())
            #expect(try lab.configStatus().ownership == owned)

            // When it is applied
            let result = try lab.sluice(["apply", PostgresLab.runbook, "--yes"])

            // Then validation passed, the restart failed on the missing library, and the run was rolled back
            #expect(result.status == 1, "\(result.output)\n[server log]\n\(lab.serverLog())")
            #expect(result.stdout.contains("rolled_back; failed: \(PostgresLab.target)"), "\(result.output)")
            #expect(result.output.contains("candidate configuration is valid (shared_preload_libraries = pg_stat_statementz)"), "\(result.output)")
            #expect(result.output.contains(#"could not access file "pg_stat_statementz""#), "\(result.output)")
            let run = try Lab.runID(in: result.stdout)
            let events = try lab.events(of: run)
            #expect(events.index("step.finished", target: PostgresLab.target, step: "write postgresql.conf", status: "failed") != nil, "\(events)")
            #expect(events.index("rollback.step.finished", target: PostgresLab.target, step: "write postgresql.conf", status: "succeeded") != nil, "\(events)")
            #expect(events.index("recovery.step.finished", target: PostgresLab.target, step: "accepting connections", status: "succeeded") != nil, "\(events)")
            // And postgresql.conf holds exactly the previous bytes, postgres:postgres 0600 again
            let after = try lab.configStatus()
            #expect(after.ownership == owned, "postgresql.conf after the rollback is \(after.ownership), not postgres:postgres 0600 (\(owned))")
            #expect(lab.configBytes() == before, "postgresql.conf does not hold its previous bytes after the rollback")
            #expect(try lab.leftovers() == [])
            // And the server is up again, restarted on the old file
            let ready = try lab.isReady()
            #expect(ready.ready, "the server is not up after the rollback: \(ready.output)\n[server log]\n\(lab.serverLog())")
            if ready.ready {
                #expect(try lab.show("max_connections") == "100")
                #expect(try lab.show("shared_preload_libraries") == "")
            }
            #expect(try lab.sluice(["audit", "verify"]).status == 0)
        }
    }

    @Test func aValuePostgresRefusesChangesNothingAndRestartsNothing() throws {
        try PostgresLab.run { lab in
            // Given a value out of range, which `postgres -C` refuses
            try lab.edit(replacing: #"max_connections: "150""#, with: #"max_connections: "-5""#)
            let before = try #require(lab.configBytes())
            let status = try lab.configStatus()
            let pid = try #require(lab.postmasterPID())

            // When it is applied
            let result = try lab.sluice(["apply", PostgresLab.runbook, "--yes"])

            // Then the run fails on validation and is rolled back, naming PostgreSQL's reason
            #expect(result.status == 1, "\(result.output)\n[server log]\n\(lab.serverLog())")
            #expect(result.stdout.contains("rolled_back; failed: \(PostgresLab.target)"), "\(result.output)")
            #expect(result.output.contains(#"-5 is outside the valid range for parameter "max_connections""#), "\(result.output)")
            // And nothing changed: the same file (bytes, inode, mtime, owner, mode), the same
            // server process, never restarted for a change that did not happen
            #expect(lab.configBytes() == before)
            let after = try lab.configStatus()
            #expect(after == status, "postgresql.conf was \(status), is \(after)")
            #expect(lab.postmasterPID() == pid, "the server was restarted (pid \(pid) before, \(String(describing: lab.postmasterPID())) after)")
            #expect(try lab.isReady().ready)
            #expect(try lab.show("max_connections") == "100")
            #expect(try lab.leftovers() == [])
        }
    }
}
