import Foundation
import Testing
@testable import SluiceCore

@Suite("Loading every key of runbook format 1")
struct RunbookLoaderTests {
    /// SPEC section 2's example, made self-contained: every key the format has.
    static let complete = """
        sluice: 1
        id: alma-loan-config
        title: Roll out the loan-policy configuration
        kind: maintenance
        owner: ops-apac
        ticket: CHG-1042
        approval:
          required: true
          distinct_approver: false
        window:
          days: [sat, sun]
          from: "01:00"
          to: "05:00"
          timezone: Europe/Amsterdam
          cutoff: 15m
        freeze:
          - { start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year-end freeze }
        vars:
          config_dir: /etc/alma
          api_token: { env: ALMA_TOKEN, secret: true }
          db_password: { file: secrets/db.txt, secret: true }
        targets:
          - name: ap01-a
            labels: { region: apac, dc: sg }
            vars: { url: "http://127.0.0.1:8081", conf: /tmp/ap01.conf }
          - name: ap02-a
            labels: { region: apac, dc: sg }
            vars: { url: "http://127.0.0.1:8082", conf: /tmp/ap02.conf }
          - name: eu01-a
            labels: { region: emea, dc: ams }
            vars: { url: "http://127.0.0.1:8083", conf: /tmp/eu01.conf }
        rollout:
          stages:
            - name: canary
              select: { region: apac }
              count: 1
              bake: 30s
            - name: rest
              parallel: 4
              max_failure_percent: 10
          on_failure: halt
          rollback_scope: target
        holds:
          - name: batch-jobs
            pause: scripts/batch-jobs.sh pause
            resume: [scripts/batch-jobs.sh, resume]
        guards:
          - name: disk below 85%
            run: scripts/check-disk.sh /var 85
            every: 10s
        preflight:
          - name: certificate count
            run: scripts/count-certs.sh {{ target.vars.conf }} 100
        steps:
          - name: write config
            file:
              path: "{{ target.vars.conf }}"
              source: files/loan-policy.conf
              mode: "0640"
              validate: scripts/check-config.sh {{ file }}
              reload: scripts/reload.sh {{ target.name }}
          - name: apply config
            run: scripts/apply-config.sh {{ target.name }} {{ vars.api_token }}
            check: scripts/apply-config.sh --dry-run {{ target.name }}
            rollback: scripts/restore-config.sh {{ target.name }}
            timeout: 60s
            retries: 1
            retry_delay: 5s
            env: { CONFIG_DIR: "{{ vars.config_dir }}" }
          - name: healthy after restart
            health:
              http: "{{ target.vars.url }}/health"
              status: 200
              contains: ok
              attempts: 3
              interval: 250ms
              timeout: 2s
          - name: port open
            health: { tcp: "127.0.0.1:6379" }
          - name: login works
            health: { command: [scripts/login.sh, "{{ target.name }}"] }
          - name: refresh cache
            cache_refresh: scripts/refresh-cache.sh {{ target.name }}
          - name: settle
            wait: 10s
            when: { region: apac }
          - name: inline file
            file: { path: "/tmp/inline-{{ target.name }}.conf", content: "stage={{ stage.name }}\\n" }
        recovery:
          - name: refresh cache
            cache_refresh: scripts/refresh-cache.sh {{ target.name }}
        notify:
          - webhook: http://127.0.0.1:9000/status
            events: [run.started, stage.finished, guard.failed, rollback.started, run.finished]
        """

    static func completeFixture() throws -> RunbookFixture {
        let fixture = try RunbookFixture()
        for script in ["batch-jobs", "check-disk", "count-certs", "check-config", "reload", "apply-config", "restore-config", "login", "refresh-cache"] {
            try fixture.write("scripts/\(script).sh", "#!/bin/sh\nexit 0\n", executable: true)
        }
        try fixture.write("files/loan-policy.conf", "# loan policy for {{ target.name }}\nmax_term = 30\n")
        try fixture.write("secrets/db.txt", "hunter2\n")
        return fixture
    }

    @Test func completeRunbookLoadsWithoutProblems() throws {
        let fixture = try Self.completeFixture()
        let result = fixture.load(Self.complete)
        #expect(result.lines == [])
        let runbook = try #require(result.validRunbook)

        #expect(runbook.id == "alma-loan-config")
        #expect(runbook.title == "Roll out the loan-policy configuration")
        #expect(runbook.kind == .maintenance)
        #expect(runbook.owner == "ops-apac")
        #expect(runbook.ticket == "CHG-1042")
        #expect(runbook.approval == Approval(required: true, distinctApprover: false))
        #expect(runbook.window?.schedule == .recurring(days: [.sat, .sun], from: TimeOfDay("01:00")!, to: TimeOfDay("05:00")!, timeZone: "Europe/Amsterdam"))
        #expect(runbook.window?.cutoff == .seconds(900))
        #expect(runbook.freezes.map(\.reason) == ["year-end freeze"])
        #expect(runbook.vars.map(\.name) == ["config_dir", "api_token", "db_password"])
        #expect(runbook.vars.map(\.source) == [.value("/etc/alma"), .environment("ALMA_TOKEN"), .file("secrets/db.txt")])
        #expect(runbook.vars.map(\.secret) == [false, true, true])
        #expect(runbook.targets.map(\.name) == ["ap01-a", "ap02-a", "eu01-a"])
        #expect(runbook.targets[2].labels == ["region": "emea", "dc": "ams"])
        #expect(runbook.targets[0].vars["url"] == "http://127.0.0.1:8081")

        let stages = runbook.rollout.stages
        #expect(stages.map(\.name) == ["canary", "rest"])
        #expect(stages[0].select == ["region": "apac"])
        #expect(stages[0].size == .count(1))
        #expect(stages[0].bake == .seconds(30))
        #expect(stages[1].parallel == 4)
        #expect(stages[1].maxFailures == .percent(10))
        #expect(runbook.rollout.onFailure == .halt)
        #expect(runbook.rollout.rollbackScope == .target)
        #expect(runbook.stageAssignment.stages == [[0], [1, 2]])

        #expect(runbook.holds.map(\.name) == ["batch-jobs"])
        #expect(runbook.holds[0].pause.script == "scripts/batch-jobs.sh")
        if case .argv(let words) = runbook.holds[0].resume.form {
            #expect(words.map(\.text) == ["scripts/batch-jobs.sh", "resume"])
        } else {
            Issue.record("resume should be an argv command")
        }
        #expect(runbook.guards[0].every == .seconds(10))
        #expect(runbook.preflight.map(\.name) == ["certificate count"])

        let steps = runbook.steps
        #expect(steps.map(\.action.key) == ["file", "run", "health", "health", "health", "cache_refresh", "wait", "file"])
        guard case .file(let file) = steps[0].action else { Issue.record("first step is a file step"); return }
        #expect(file.mode == 0o640)
        #expect(file.validate?.script == "scripts/check-config.sh")
        guard case .source(let path, let template) = file.content else { Issue.record("content comes from a source"); return }
        #expect(path == "files/loan-policy.conf")
        #expect(template.variables.map(\.variable) == [.targetName])
        #expect(template.variables.first?.location.line == 1)

        #expect(steps[1].timeout == .seconds(60))
        #expect(steps[1].retries == 1)
        #expect(steps[1].retryDelay == .seconds(5))
        #expect(steps[1].check != nil && steps[1].rollback != nil)
        #expect(steps[1].env.map(\.name) == ["CONFIG_DIR"])
        guard case .health(let health) = steps[2].action else { Issue.record("third step is health"); return }
        #expect(health.status == 200)
        #expect(health.contains == "ok")
        #expect(health.attempts == 3)
        #expect(health.interval == .milliseconds(250))
        #expect(health.timeout == .seconds(2))
        #expect(steps[6].when == ["region": "apac"])
        #expect(steps[6].action == .wait(.seconds(10)))
        #expect(runbook.recovery.map(\.name) == ["refresh cache"])
        #expect(runbook.notify.first?.events == ["run.started", "stage.finished", "guard.failed", "rollback.started", "run.finished"])
    }

    @Test func defaultsApplyWhenKeysAreLeftOut() throws {
        let fixture = try RunbookFixture()
        let result = fixture.load("""
            sluice: 1
            id: minimal
            targets: [{ name: web1 }, { name: web2 }]
            steps:
              - name: up
                health: { http: "http://127.0.0.1:1/" }
              - name: go
                run: echo go
            """)
        #expect(result.lines == [])
        let runbook = try #require(result.validRunbook)
        #expect(runbook.kind == .change)
        #expect(runbook.approval == Approval(required: false, distinctApprover: true))
        #expect(runbook.rollout.stages.map(\.name) == ["all"])
        #expect(runbook.rollout.stages[0].parallel == 1)
        #expect(runbook.rollout.stages[0].maxFailures == .count(0))
        #expect(runbook.rollout.onFailure == .rollback)
        #expect(runbook.rollout.rollbackScope == .run)
        #expect(runbook.steps[1].timeout == .seconds(300))
        #expect(runbook.steps[1].retries == 0)
        guard case .health(let health) = runbook.steps[0].action else { Issue.record("health step"); return }
        #expect(health == HealthCheck(probe: health.probe, status: nil, contains: nil, attempts: 10, interval: .seconds(2), timeout: .seconds(5)))
    }

    @Test func inventoryTargetsLoadAndTheirErrorsNameTheInventoryFile() throws {
        // Given an inventory with one good target and one with an unknown key
        let fixture = try RunbookFixture()
        try fixture.write("inventory/hosts.yaml", """
            - name: lb-sg-1
              labels: { dc: sg }
            - name: lb-ams-1
              lables: { dc: ams }
            """)
        // When the runbook naming it loads
        let result = fixture.load("""
            sluice: 1
            id: certs
            inventory: inventory/hosts.yaml
            steps: [{ name: a, run: "echo {{ target.name }}" }]
            """)
        // Then the problem is reported in the inventory file, and the good target is there
        #expect(result.diagnostics.map(\.description) == ["inventory/hosts.yaml:4:3: error: unknown key `lables` in a target; did you mean `labels`?"])
        #expect(result.runbook?.inventory == "inventory/hosts.yaml")
        #expect(result.runbook?.targets.map(\.name) == ["lb-sg-1", "lb-ams-1"])
    }

    @Test func unknownVariableInAFileSourceIsLocatedInThatFile() throws {
        let fixture = try RunbookFixture()
        try fixture.write("files/site.conf", "server {\n    listen {{ target.vars.port }};\n    name {{ target.nmae }};\n}\n")
        let result = fixture.load("""
            sluice: 1
            id: site
            targets: [{ name: web1, vars: { port: "8081" } }]
            steps:
              - name: site
                file: { path: /tmp/site.conf, source: files/site.conf }
            """)
        #expect(result.diagnostics.map(\.description) == ["files/site.conf:3:13: error: unknown template variable `target.nmae`; did you mean `target.name`?"])
    }

    @Test func tcpAddressBuiltFromAPlaceholderIsCheckedWhenRendered() throws {
        let fixture = try RunbookFixture()
        let result = fixture.load("""
            sluice: 1
            id: tcp
            targets: [{ name: redis1, vars: { address: "127.0.0.1:6379" } }]
            steps: [{ name: up, health: { tcp: "{{ target.vars.address }}" } }]
            """)
        #expect(result.lines == [])
    }

    @Test func whenLimitsWhichTargetsMustDefineAVariable() throws {
        let fixture = try RunbookFixture()
        let result = fixture.load("""
            sluice: 1
            id: certs
            targets:
              - { name: lb1, labels: { role: lb }, vars: { certs: /tmp/certs } }
              - { name: app1, labels: { role: app } }
            steps:
              - name: count
                run: ls {{ target.vars.certs }}
                when: { role: lb }
            """)
        #expect(result.lines == [])
    }

    @Test func secretVariablesBuildARedactor() throws {
        let fixture = try Self.completeFixture()
        let runbook = try #require(fixture.load(Self.complete).runbook)
        let variables = try runbook.resolveVariables(environment: ["ALMA_TOKEN": "tok'en"])
        #expect(variables.values["db_password"] == "hunter2")
        #expect(variables.secretNames == ["api_token", "db_password"])
        #expect(variables.redactor.redact("login hunter2 with 'tok'\\''en' or tok'en") == "login *** with *** or ***")
        #expect(throws: VariableResolutionError.self) { try runbook.resolveVariables(environment: [:]) }
    }
}
