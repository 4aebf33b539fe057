import Foundation
import SluiceTesting
import Testing

@Suite("Who acts: --as, else SLUICE_USER, else the login name, on every run and event", .ownThread)
struct ActorTests {
    /// Plans, approves and applies as `arguments` and `environment` say, and returns every actor
    /// the store recorded, on runs and on events.
    static func actors(_ arguments: [String], environment: [String: String]) throws -> (runs: Set<String>, events: Set<String>, kinds: Set<String>) {
        let world = try GatesWorld(extra: "approval: { required: true, distinct_approver: false }")
        let store = ["SLUICE_STORE": world.store]
        for command in [["plan", "runbook.yaml"], ["approve", "runbook.yaml", "--by", "bob"], ["apply", "runbook.yaml", "--yes"]] {
            let result = try SluiceBinary.run(command + arguments, in: world.folder.url, environment: store.merging(environment) { $1 })
            #expect(result.status == 0, "\(command): \(result.stdout)\(result.stderr)")
        }
        let events = try world.events()
        return (
            Set(try world.runs().compactMap { $0["actor"] as? String }), Set(events.compactMap { $0["actor"] as? String }),
            Set(events.compactMap { $0["kind"] as? String }))
    }

    @Test func asWinsOverSLUICE_USER() throws {
        let (runs, events, kinds) = try Self.actors(["--as", "carol"], environment: ["SLUICE_USER": "alice"])
        #expect(runs == ["carol"])
        #expect(events == ["carol"])
        // Every kind of event the three commands record carries it
        #expect(kinds.isSuperset(of: ["plan.recorded", "approval.recorded", "lock.acquired", "run.started", "step.finished", "lock.released", "run.finished"]))
    }

    @Test func SLUICE_USERIsUsedWithoutAs() throws {
        let (runs, events, _) = try Self.actors([], environment: ["SLUICE_USER": "dave"])
        #expect(runs == ["dave"])
        #expect(events == ["dave"])
    }

    @Test func theLoginNameIsUsedWithoutEither() throws {
        // The same lookup as the program: the session's login name, else the user database's name for the uid
        let login = getlogin().map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
        let expected = try #require(login)
        let (runs, events, _) = try Self.actors([], environment: ["SLUICE_USER": ""])
        #expect(runs == [expected])
        #expect(events == [expected])
    }
}
