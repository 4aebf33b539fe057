import Foundation
import Testing
@testable import SluiceCore

@Suite("The planner renders exactly what apply will run")
struct PlannerTests {
    static let runbook = """
        sluice: 1
        id: plan-test
        vars:
          token: { env: TOKEN, secret: true }
          greeting: hello world
        targets:
          - { name: lb1, labels: { role: lb, dc: ams }, vars: { port: "8081" } }
          - { name: app1, labels: { role: app, dc: ams }, vars: { port: "8082" } }
          - { name: app2, labels: { role: app, dc: fra }, vars: { port: "8083" } }
        rollout:
          stages:
            - { name: canary, count: 1, bake: 30s }
            - { name: rest, parallel: 2, max_failure_percent: 50 }
        preflight:
          - name: disk
            run: "df {{ target.name }}"
        steps:
          - name: deploy
            run: "deploy --token {{ vars.token }} --say {{ vars.greeting }} {{ target.name }} {{ run.id }}"
            check: "deploy --dry-run {{ target.name }}"
            rollback: "undeploy {{ target.name }}"
            env: { PORT: "{{ target.vars.port }}" }
          - name: conf
            file:
              path: "/tmp/{{ target.name }}.conf"
              content: "port={{ target.vars.port }} token={{ vars.token }}\\n"
              mode: "0600"
              validate: "check-conf {{ file }}"
          - name: lb only
            wait: 5s
            when: { role: lb }
          - name: up
            health: { http: "http://127.0.0.1:{{ target.vars.port }}/health" }
          - name: refresh
            cache_refresh: "refresh {{ stage.name }}"

        """

    static func plan() throws -> Plan {
        let fixture = try RunbookFixture()
        let runbook = try #require(fixture.load(runbook).validRunbook)
        let variables = try runbook.resolveVariables(environment: ["TOKEN": "s3cret"])
        return try Planner().plan(
            runbook: runbook, variables: variables, runID: "r-20261121-083015-7f3a", now: Date(timeIntervalSince1970: 0),
            content: ContentDigest(files: []), validateFile: { target, index, _ in "/tmp/plan/\(target)/\(index)/new.conf" })
    }

    @Test func stagesTakeTheirTargets() throws {
        let plan = try Self.plan()
        #expect(plan.stages.map(\.name) == ["canary", "rest"])
        #expect(plan.stages.map { $0.targets.map(\.name) } == [["lb1"], ["app1", "app2"]])
        #expect(plan.stages.map(\.toleratedFailures) == [0, 1])
        #expect(plan.stages[0].bake?.text == "30s")
    }

    @Test func displayMasksSecretsAndExecutableKeepsThem() throws {
        let step = try Self.plan().stages[1].targets[0].steps[0]
        #expect(step.command?.display == "deploy --token *** --say 'hello world' app1 r-20261121-083015-7f3a")
        #expect(step.command?.executable == .shell("deploy --token s3cret --say 'hello world' app1 r-20261121-083015-7f3a"))
        #expect(step.check?.display == "deploy --dry-run app1")
        #expect(step.rollback?.display == "undeploy app1")
        #expect(step.environment == ["PORT": "8082"])
    }

    @Test func fileStepsRenderPathContentAndValidate() throws {
        let file = try #require(Self.plan().stages[0].targets[0].steps[1].file)
        #expect(file.path == "/tmp/lb1.conf")
        #expect(file.mode == "0600")
        #expect(file.content == "port=8081 token=***\n")
        #expect(file.executableContent == "port=8081 token=s3cret\n")
        #expect(file.validate?.display == "check-conf '<new content>'")
        #expect(file.validate?.executable == .shell("check-conf /tmp/plan/lb1/1/new.conf"))
        #expect(file.validateFile == "/tmp/plan/lb1/1/new.conf")
    }

    @Test func stepsOutsideTheirWhenAreListedNotHidden() throws {
        let plan = try Self.plan()
        #expect(plan.stages[0].targets[0].steps[2].applies)
        let skipped = plan.stages[1].targets[0].steps[2]
        #expect(!skipped.applies)
        #expect(skipped.verification.detail == "not on this target (when role=lb)")
    }

    @Test func stepsWithoutACheckSaySo() throws {
        let steps = try Self.plan().stages[0].targets[0].steps
        #expect(steps[4].verification == CheckOutcome(status: .notChecked, detail: "no `check` command: the dry run cannot verify this step"))
        #expect(steps[4].command?.display == "refresh canary")
    }

    @Test func defaultRecoveryIsCacheRefreshThenHealth() throws {
        let recovery = try Self.plan().stages[0].targets[0].recovery
        #expect(recovery.map(\.name) == ["refresh", "up"])
    }

    @Test func savedPlanHoldsNoSecret() throws {
        let data = try JSONEncoder().encode(Self.plan())
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("s3cret"))
        #expect(text.contains("***"))
        let decoded = try JSONDecoder().decode(Plan.self, from: data)
        #expect(decoded.stages.map(\.name) == ["canary", "rest"])
        #expect(decoded.stages[0].targets[0].steps[0].command?.executable == nil)
    }

    @Test func summaryCountsStepInstances() throws {
        let summary = try Self.plan().summary
        // 3 targets x 4 steps, plus the lb-only wait on lb1.
        #expect(summary.targets == 3)
        #expect(summary.steps == 13)
        #expect(summary.notChecked == 12)  // nothing has run yet; the wait has nothing to check
        #expect(summary.checks == 0)
    }
}
