import Foundation
import Testing
@testable import SluiceCore

@Suite("A run's journal keeps what runs, with its secrets sealed")
struct PlanJournalTests {
    static let runbook = """
        sluice: 1
        id: journal-test
        vars:
          token: { env: TOKEN, secret: true }
          key: { file: key.txt, secret: true }
          plain: hello
        targets: [{ name: web1 }, { name: web2 }]
        holds:
          - { name: jobs, pause: "hold --token {{ vars.token }}", resume: "release --token {{ vars.token }}" }
        steps:
          - name: deploy
            run: "deploy --token {{ vars.token }} --key {{ vars.key }} {{ target.name }} {{ vars.plain }}"
            rollback: ["undeploy", "--token={{ vars.token }}", "{{ target.name }}"]
            env: { KEY: "{{ vars.key }}" }
          - name: conf
            file: { path: "conf/{{ target.name }}.conf", content: "token={{ vars.token }}\\n" }
          - name: up
            health: { http: "http://127.0.0.1:9/health?key={{ vars.key }}" }

        """

    /// Secrets JSON and the shell write differently: quotes, a backslash, a space.
    static let token = #"it's "t0k" \ end"#
    static let key = "k3y-91f0"

    static func planned(token: String = token) throws -> (Plan, PlanJournal, RunbookFixture) {
        let fixture = try RunbookFixture()
        try fixture.write("key.txt", key + "\n")
        let runbook = try #require(fixture.load(runbook).validRunbook)
        let variables = try runbook.resolveVariables(environment: ["TOKEN": token])
        let plan = try Planner().plan(
            runbook: runbook, variables: variables, runID: "r-20261121-083015-7f3a", now: Date(timeIntervalSince1970: 0),
            content: ContentDigest(files: []))
        return (plan, try PlanJournal(plan: plan, runbook: runbook, variables: variables), fixture)
    }

    @Test func theJournalHoldsNoSecretInAnyForm() throws {
        let (_, journal, _) = try Self.planned()
        let stored = String(decoding: try JSONEncoder().encode(journal), as: UTF8.self)
        for secret in [Self.token, Self.key, ShellQuoting.quote(Self.token), "t0k", "k3y"] {
            #expect(!stored.contains(secret), "\(secret) is in the journal")
            #expect(!journal.plan.text.contains(SecretSeal.escaped(secret)), "\(secret) is in the journal, JSON-escaped")
        }
        #expect(journal.sealedNames == ["token", "key"])
        #expect(journal.secrets["token"] == .environment("TOKEN"))
        guard case .file(let path)? = journal.secrets["key"] else { Issue.record("key: \(String(describing: journal.secrets["key"]))"); return }
        #expect(path.hasSuffix("/key.txt"))
    }

    @Test func openingReadsTheSecretsAgainAndGivesBackExactlyWhatRuns() throws {
        let (plan, journal, fixture) = try Self.planned()
        let opened = try withExtendedLifetime(fixture) { try journal.open(environment: ["TOKEN": Self.token]).plan }
        #expect(opened == plan)
        let step = try #require(opened.stages.first?.targets.first?.steps.first)
        #expect(step.command?.executable == plan.stages[0].targets[0].steps[0].command?.executable)
        #expect(step.rollback?.executable == .argv(["undeploy", "--token=\(Self.token)", "web1"]))
        #expect(step.environment == ["KEY": Self.key])
        #expect(opened.holds.first?.pauseCommand == .shell("hold --token \(ShellQuoting.quote(Self.token))"))
    }

    @Test func aJournalOpenedAfterTheRunbookIsGoneStillHasEveryCommand() throws {
        let (plan, journal, fixture) = try Self.planned()
        // Only the secret's own file is left.
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path) where name != "key.txt" {
            try FileManager.default.removeItem(at: fixture.directory.appendingPathComponent(name))
        }
        let decoded = try JSONDecoder().decode(PlanJournal.self, from: JSONEncoder().encode(journal))
        #expect(try decoded.open(environment: ["TOKEN": Self.token]).plan == plan)
    }

    @Test func aSecretThatCannotBeReadNowIsNamedWithWhatToDo() throws {
        let (_, journal, fixture) = try Self.planned()
        #expect(throws: PlanJournalError.environmentUnset(variable: "token", environment: "TOKEN")) {
            try journal.open(environment: [:])
        }
        try FileManager.default.removeItem(at: fixture.directory.appendingPathComponent("key.txt"))
        #expect(throws: PlanJournalError.self) { try journal.open(environment: ["TOKEN": Self.token]).plan }
    }

    @Test(arguments: [
        (#""timeout":"5m""#, #""timeout":"5 minutes""#, "stages[0].targets[0].steps[0].timeout: `5 minutes` is not a duration"),
        (#""onFailure":"rollback""#, #""onFailure":"explode""#, "onFailure: "),
        (#""action":"run""#, #""action":"explode""#, "stages[0].targets[0].steps[0].action: unknown step action `explode`"),
        (#""command":{"#, #""commandX":{"#, "stages[0].targets[0].steps[0].command is missing"),
    ])
    func aDamagedValueInTheJournalIsAnErrorNamingWhereNeverADefault(_ good: String, _ bad: String, _ named: String) throws {
        let (_, planned, fixture) = try Self.planned()
        defer { withExtendedLifetime(fixture) {} }  // its folder holds the secret key file
        var journal = planned
        #expect(journal.plan.text.contains(good), "\(journal.plan.text.prefix(400))")
        journal.plan.text = journal.plan.text.replacingOccurrences(of: good, with: bad)
        do {
            _ = try journal.open(environment: ["TOKEN": Self.token])
            Issue.record("a damaged journal was opened")
        } catch let error as PlanJournalError {
            #expect("\(error)".contains("the run's journal cannot be read: \(named)"), "\(error)")
        }
    }

    @Test func aPlanEncodedOutsideTheJournalLeavesEveryExecutablePartOut() throws {
        let (plan, _, _) = try Self.planned()
        let text = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        #expect(!text.contains("executable"))
        #expect(!text.contains("k3y"))
        let decoded = try JSONDecoder().decode(Plan.self, from: Data(text.utf8))
        #expect(decoded.stages[0].targets[0].steps[0].command?.executable == nil)
    }
}
