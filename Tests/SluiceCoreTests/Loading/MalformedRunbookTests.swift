import Foundation
import Testing
@testable import SluiceCore

/// One malformed runbook and the exact diagnostics it must produce.
struct MalformedCase: CustomTestStringConvertible, Sendable {
    let name: String
    /// The runbook text; when `headed`, ``MalformedRunbookTests/header`` (lines 1 to 6) comes first.
    let text: String
    let headed: Bool
    /// `LINE:COLUMN: severity: message`; `$DIR` stands for the runbook's folder.
    let expected: [String]
    /// Extra files beside the runbook: name, content, executable.
    let files: [(String, String, Bool)]

    init(_ name: String, headed: Bool = true, _ text: String, files: [(String, String, Bool)] = [], _ expected: String...) {
        self.name = name
        self.text = text
        self.headed = headed
        self.expected = expected
        self.files = files
    }

    var testDescription: String { name }
}

@Suite("Malformed runbooks: every problem, its exact message and position")
struct MalformedRunbookTests {
    /// Six lines of a valid start; a case's own lines begin at line 7.
    static let header = """
        sluice: 1
        id: demo
        targets:
          - name: web1
            labels: { dc: sg, role: api }
            vars: { url: "http://127.0.0.1:8081" }

        """

    static let threeTargets = """
        sluice: 1
        id: demo
        targets:
          - { name: web1, labels: { dc: sg } }
          - { name: web2, labels: { dc: sg } }
          - { name: web3, labels: { dc: ams } }

        """

    static let cases: [MalformedCase] = [
        // Keys
        MalformedCase("unknown step key suggests the closest", """
            steps:
              - name: a
                run: echo a
                rolback: echo undo
            """, "10:5: error: unknown key `rolback` in a step; did you mean `rollback`?"),
        MalformedCase("unknown top-level key suggests the closest", """
            stpes:
              - name: a
                run: echo a
            """,
            "1:1: error: the runbook is missing the required key `steps`",
            "7:1: error: unknown key `stpes` in the runbook; did you mean `steps`?"),
        MalformedCase("unknown key with no close match gives no hint", """
            steps:
              - name: a
                run: echo a
                colour: blue
            """, "10:5: error: unknown key `colour` in a step"),
        MalformedCase("YAML syntax error has a position", headed: false, """
            sluice: 1
            id: demo
            steps: [
            """, "4:1: error: YAML syntax: did not find expected node content (while parsing a flow node at line 4, column 1)"),
        MalformedCase("duplicate YAML key", headed: false, """
            sluice: 1
            id: demo
            id: other
            """, "2:1: error: YAML syntax: key `id` appears more than once in the same mapping; keep one"),
        MalformedCase("runbook that is a list", headed: false, """
            - sluice: 1
            """, "1:1: error: the runbook must be a mapping of keys to values, not a list"),
        MalformedCase("empty runbook", headed: false, "", "1:1: error: runbook is empty; start with `sluice: 1`"),

        // Top level
        MalformedCase("unsupported version", headed: false, """
            sluice: 2
            id: demo
            targets: [{ name: web1 }]
            steps: [{ name: a, run: echo a }]
            """, "1:9: error: unsupported runbook format version `2`; this sluice reads version 1 (`sluice: 1`)"),
        MalformedCase("missing id", headed: false, """
            sluice: 1
            targets: [{ name: web1 }]
            steps: [{ name: a, run: echo a }]
            """, "1:1: error: the runbook is missing the required key `id`"),
        MalformedCase("id with capitals and spaces", headed: false, """
            sluice: 1
            id: Loan Config
            targets: [{ name: web1 }]
            steps: [{ name: a, run: echo a }]
            """, "2:5: error: `id` must start with a lowercase letter or digit and use only a-z, 0-9, `.`, `_` and `-`, not `Loan Config`"),
        MalformedCase("unknown kind", """
            kind: chnage
            steps: [{ name: a, run: echo a }]
            """, "7:7: error: `kind` must be one of change, maintenance, not `chnage`; did you mean `change`?"),
        MalformedCase("approval flag that is not a boolean", """
            approval: { required: yes }
            steps: [{ name: a, run: echo a }]
            """, "7:23: error: `approval.required` must be true or false, not `yes`"),

        // Targets
        MalformedCase("no targets at all", headed: false, """
            sluice: 1
            id: demo
            steps: [{ name: a, run: echo a }]
            """, "1:1: error: the runbook has no targets; add `targets:` (a list) or `inventory: FILE`"),
        MalformedCase("targets key with nothing under it", headed: false, """
            sluice: 1
            id: demo
            targets:
            steps: [{ name: a, run: echo a }]
            """, "3:9: error: the target list is empty; a runbook needs at least one target"),
        MalformedCase("targets and inventory both", """
            inventory: hosts.yaml
            steps: [{ name: a, run: echo a }]
            """, "7:1: error: give either `targets` or `inventory`, not both"),
        MalformedCase("duplicate target name", headed: false, """
            sluice: 1
            id: demo
            targets:
              - name: web1
              - name: web1
            steps: [{ name: a, run: echo a }]
            """, "5:11: error: duplicate target name `web1`; the first is at line 4; names must be unique"),
        MalformedCase("name with a control character", """
            holds:
              - { name: "jobs\\e[8m", pause: "true", resume: "true" }
            steps: [{ name: "a\\nb", run: echo a }]
            """,
            "8:5: error: hold name `jobs\\e[8m` holds a control character; names are shown to people and matched by resume and rollback, so use visible characters only",
            "9:17: error: step name `a\\nb` holds a control character; names are shown to people and matched by resume and rollback, so use visible characters only"),
        MalformedCase("target without a name", headed: false, """
            sluice: 1
            id: demo
            targets:
              - labels: { dc: sg }
            steps: [{ name: a, run: echo a }]
            """, "4:5: error: a target is missing the required key `name`"),
        MalformedCase("inventory that does not exist", headed: false, """
            sluice: 1
            id: demo
            inventory: inventory/missing.yaml
            steps: [{ name: a, run: echo a }]
            """, "3:12: error: inventory `inventory/missing.yaml` does not exist or cannot be read (looked for $DIR/inventory/missing.yaml)"),

        // Steps
        MalformedCase("two actions in one step", """
            steps:
              - name: a
                run: echo a
                wait: 5s
            """, "10:5: error: step `a` has 2 actions (run, wait); a step has exactly one, so split it into 2 steps"),
        MalformedCase("step with no action", """
            steps:
              - name: a
                timeout: 5s
            """, "8:5: error: step `a` has no action; give one of run, health, cache_refresh, file or wait"),
        MalformedCase("duplicate step name", """
            steps:
              - name: a
                run: echo a
              - name: a
                run: echo b
            """, "10:11: error: duplicate step name `a`; the first is at line 8; names must be unique"),
        MalformedCase("step without a name", """
            steps:
              - run: echo a
            """, "8:5: error: a step is missing the required key `name`"),
        MalformedCase("empty steps", """
            steps: []
            """, "7:8: error: `steps` is empty; a runbook needs at least one step"),
        MalformedCase("step written as a string", """
            steps:
              - echo hi
            """, "8:5: error: a step must be a mapping of keys to values, not `echo hi`"),
        MalformedCase("bad timeout duration", """
            steps:
              - name: a
                run: echo a
                timeout: 30 seconds
            """, "10:14: error: `timeout`: bad duration `30 seconds`; write a whole number and a unit: 250ms, 30s, 5m or 2h"),
        MalformedCase("fractional wait", """
            steps:
              - name: a
                wait: 1.5s
            """, "9:11: error: `wait`: bad duration `1.5s`; write a whole number and a unit: 250ms, 30s, 5m or 2h"),
        MalformedCase("negative retries", """
            steps:
              - name: a
                run: echo a
                retries: -1
            """, "10:14: error: `retries` must be from 0 to 100, not -1"),
        MalformedCase("empty argv command", """
            steps:
              - name: a
                run: []
            """, "9:10: error: `run` is an empty list; give the program and its arguments"),
        MalformedCase("env name reserved for sluice", """
            steps:
              - name: a
                run: echo a
                env: { SLUICE_STAGE: x }
            """, "10:12: error: `SLUICE_STAGE` is set by sluice itself; choose another name"),
        MalformedCase("rollback on a health step", """
            steps:
              - name: up
                health: { tcp: "127.0.0.1:80" }
                rollback: echo undo
            """, "10:15: error: step `up` has a `rollback`, but a `health` step changes nothing; put the rollback on the step that makes the change"),
        MalformedCase("check on a file step", """
            steps:
              - name: conf
                file: { path: /tmp/demo.conf, content: "x" }
                check: echo check
            """, "10:12: error: step `conf` has a `check`, but plan shows the file's diff and runs its `validate`; remove the `check`"),
        MalformedCase("rollback on a wait step", """
            steps:
              - name: settle
                wait: 5s
                rollback: echo undo
            """, "10:15: error: step `settle` has a `rollback`, but a `wait` step changes nothing; put the rollback on the step that makes the change"),
        MalformedCase("recovery step with a rollback", """
            steps: [{ name: a, run: echo a }]
            recovery:
              - name: refresh
                cache_refresh: echo refresh
                rollback: echo no
            """, "11:15: error: recovery step `refresh` has a `rollback`; recovery is not undone, so remove it"),

        // Health
        MalformedCase("health with two probes", """
            steps:
              - name: up
                health: { http: "http://127.0.0.1/", tcp: "127.0.0.1:80" }
            """, "9:13: error: `health` has http and tcp; give exactly one probe"),
        MalformedCase("health with no probe", """
            steps:
              - name: up
                health: { status: 200 }
            """, "9:13: error: `health` needs one probe: `http: URL`, `tcp: HOST:PORT` or `command: ...`"),
        MalformedCase("status out of range", """
            steps:
              - name: up
                health: { http: "http://127.0.0.1/", status: 700 }
            """, "9:50: error: `status` must be from 100 to 599, not 700"),
        MalformedCase("contains on a tcp probe", """
            steps:
              - name: up
                health: { tcp: "127.0.0.1:80", contains: ok }
            """, "9:36: error: `contains` applies only to `http` health checks"),
        MalformedCase("tcp probe without a port", """
            steps:
              - name: up
                health: { tcp: localhost }
            """, "9:20: error: `health.tcp` must be HOST:PORT, for example 127.0.0.1:6379"),
        MalformedCase("http probe without a scheme", """
            steps:
              - name: up
                health: { http: "127.0.0.1:8081/health" }
            """, "9:21: error: `health.http` must start with http:// or https://"),

        // Files
        MalformedCase("file without content", """
            steps:
              - name: conf
                file: { path: /tmp/demo.conf }
            """, "9:11: error: `file` needs its new content: `source: FILE` or `content: TEXT`"),
        MalformedCase("file with source and content", """
            steps:
              - name: conf
                file: { path: /tmp/demo.conf, source: a.conf, content: x }
            """, files: [("a.conf", "x\n", false)],
            "9:51: error: `file` has both `source` and `content`; keep one"),
        MalformedCase("file source that does not exist", """
            steps:
              - name: conf
                file: { path: /tmp/demo.conf, source: files/missing.conf }
            """, "9:43: error: file source `files/missing.conf` does not exist or cannot be read (looked for $DIR/files/missing.conf)"),
        MalformedCase("file mode that is not octal", """
            steps:
              - name: conf
                file: { path: /tmp/demo.conf, content: x, mode: "rw-r--r--" }
            """, "9:53: error: `file.mode` must be octal permission bits such as \"0644\", not `rw-r--r--`"),

        // Templates
        MalformedCase("misspelt template variable", """
            steps:
              - name: a
                run: echo {{ target.nmae }}
            """, "9:18: error: unknown template variable `target.nmae`; did you mean `target.name`?"),
        MalformedCase("wrong variable prefix", """
            steps:
              - name: a
                run: echo {{ target.var.url }}
            """, "9:18: error: unknown template variable `target.var.url`; did you mean `target.vars.url`?"),
        MalformedCase("runbook variable never declared", """
            steps:
              - name: a
                run: echo {{ vars.token }}
            """, "9:18: error: unknown template variable `vars.token`: no such entry under `vars:`; declare it under `vars:`"),
        MalformedCase("target variable a target lacks", """
            steps:
              - name: a
                run: echo {{ target.vars.conf }}
            """, "9:18: error: `target.vars.conf` is not defined for target `web1`; add it to each target's `vars`, or limit the step with `when:`"),
        MalformedCase("target variable inside a hold", """
            holds:
              - name: batch
                pause: echo pause {{ target.name }}
                resume: echo resume
            steps: [{ name: a, run: echo a }]
            """, "9:26: error: `target.name` has no value in a hold, which runs once per run, not per target"),
        MalformedCase("file placeholder outside validate", """
            steps:
              - name: a
                run: cat {{ file }}
            """, "9:17: error: `file` has a value only in a file step's `validate`, where it names the new content's temporary file"),
        MalformedCase("placeholder never closed", """
            steps:
              - name: a
                run: echo {{ target.name
            """, "9:15: error: `{{` is never closed; end the placeholder with `}}`"),
        MalformedCase("empty placeholder", """
            steps:
              - name: a
                run: echo {{ }}
            """, "9:15: error: empty placeholder `{{ }}`; name a variable such as `{{ target.name }}`"),
        MalformedCase("unknown variable inside a block scalar", """
            steps:
              - name: a
                run: |
                  echo start
                  echo {{ stage.nam }}
            """, "11:15: error: unknown template variable `stage.nam`; did you mean `stage.name`?"),

        // Scripts
        MalformedCase("script that does not exist", """
            steps:
              - name: a
                run: ./scripts/apply.sh {{ target.name }}
            """, "9:10: error: script `./scripts/apply.sh` does not exist (looked for $DIR/scripts/apply.sh); create it or fix the path"),
        MalformedCase("script that is not executable", """
            steps:
              - name: a
                run: [scripts/apply.sh, "{{ target.name }}"]
            """, files: [("scripts/apply.sh", "#!/bin/sh\n", false)],
            "9:10: error: script `scripts/apply.sh` is not executable; run `chmod +x scripts/apply.sh`"),

        // Rollout
        MalformedCase("stages that leave targets out", headed: false, threeTargets + """
            rollout:
              stages:
                - name: canary
                  count: 1
            steps: [{ name: a, run: echo a }]
            """, "9:13: error: 2 targets are in no stage (web2, web3); give the last stage no select, count or percent, or add a stage for them"),
        MalformedCase("stage selecting a label no target carries", headed: false, threeTargets + """
            rollout:
              stages:
                - name: apac
                  select: { dc: sgp }
                - name: rest
            steps: [{ name: a, run: echo a }]
            """, "9:13: error: stage `apac` selects { dc: sgp }, which no target carries; check the labels"),
        MalformedCase("count and percent together", """
            rollout:
              stages:
                - name: canary
                  count: 1
                  percent: 10
            steps: [{ name: a, run: echo a }]
            """, "11:7: error: stage `canary` has both `count` and `percent`; keep one"),
        MalformedCase("empty stages reported beside an unrelated error", headed: false, """
            sluice: 1
            id: Demo
            targets: [{ name: web1 }]
            rollout:
              stages: []
            steps: [{ name: a, run: echo a }]
            """,
            "2:5: error: `id` must start with a lowercase letter or digit and use only a-z, 0-9, `.`, `_` and `-`, not `Demo`",
            "5:11: error: `rollout.stages` is empty; list at least one stage, or leave `stages` out for one stage of all targets"),
        MalformedCase("percent of zero", """
            rollout:
              stages:
                - name: canary
                  percent: 0
            steps: [{ name: a, run: echo a }]
            """, "10:16: error: `percent` must be from 1 to 100, not 0"),
        MalformedCase("both failure thresholds", """
            rollout:
              stages:
                - name: all
                  max_failures: 1
                  max_failure_percent: 10
            steps: [{ name: a, run: echo a }]
            """, "11:7: error: stage `all` has both `max_failures` and `max_failure_percent`; keep one"),
        MalformedCase("unknown on_failure", """
            rollout:
              on_failure: retry
            steps: [{ name: a, run: echo a }]
            """, "8:15: error: `on_failure` must be one of rollback, halt, not `retry`"),
        MalformedCase("misspelt rollback_scope", """
            rollout:
              rollback_scope: tagret
            steps: [{ name: a, run: echo a }]
            """, "8:19: error: `rollback_scope` must be one of run, target, not `tagret`; did you mean `target`?"),
        MalformedCase("duplicate stage name", headed: false, threeTargets + """
            rollout:
              stages:
                - { name: wave, count: 1 }
                - { name: wave }
            steps: [{ name: a, run: echo a }]
            """, "10:15: error: duplicate stage name `wave`; the first is at line 9; names must be unique"),

        // Windows, freezes, vars, notify, guards
        MalformedCase("window mixing one-off and recurring", """
            window: { start: 2026-11-21T08:00:00Z, end: 2026-11-21T10:00:00Z, days: [sat] }
            steps: [{ name: a, run: echo a }]
            """, "7:9: error: `window` mixes a one-off window (start, end) with a recurring one (days, from, to, timezone); keep one"),
        MalformedCase("window ending before it starts", """
            window:
              start: 2026-11-21T10:00:00Z
              end: 2026-11-21T08:00:00Z
            steps: [{ name: a, run: echo a }]
            """, "9:8: error: `window.end` must be after `window.start`"),
        MalformedCase("window time without a zone", """
            window:
              start: 2026-11-21T08:00:00
              end: 2026-11-21T10:00:00Z
            steps: [{ name: a, run: echo a }]
            """, "8:10: error: `window.start` must be an RFC 3339 time with a zone, such as 2026-11-21T08:00:00Z, not `2026-11-21T08:00:00`"),
        MalformedCase("unknown time zone", """
            window: { days: [sat, sun], from: "01:00", to: "05:00", timezone: Europe/Amsterdm }
            steps: [{ name: a, run: echo a }]
            """, "7:67: error: unknown time zone `Europe/Amsterdm`; use an IANA name such as Europe/Amsterdam or UTC"),
        MalformedCase("window hour out of range", """
            window: { days: [sat], from: "25:00", to: "05:00", timezone: UTC }
            steps: [{ name: a, run: echo a }]
            """, "7:30: error: `window.from` must be a time of day as HH:MM (24-hour, quoted), not `25:00`"),
        MalformedCase("unknown weekday", """
            window: { days: [saturday], from: "01:00", to: "05:00", timezone: UTC }
            steps: [{ name: a, run: echo a }]
            """, "7:18: error: a day in `window.days` must be one of mon, tue, wed, thu, fri, sat, sun, not `saturday`"),
        MalformedCase("freeze ending before it starts", """
            freeze:
              - { start: 2026-12-20T00:00:00Z, end: 2026-12-01T00:00:00Z, reason: year end }
            steps: [{ name: a, run: echo a }]
            """, "8:41: error: the freeze's `end` must be after its `start`"),
        MalformedCase("variable with env and file", """
            vars:
              token: { env: TOKEN, file: token.txt }
            steps: [{ name: a, run: echo a }]
            """, "8:10: error: variable `token` has both `env` and `file`; keep one"),
        MalformedCase("unknown notify event", """
            notify:
              - webhook: http://127.0.0.1:9000/status
                events: [run.started, run.finishd]
            steps: [{ name: a, run: echo a }]
            """, "9:27: error: unknown event `run.finishd`; did you mean `run.finished`?"),
        MalformedCase("notify event that a run never sends", """
            notify:
              - webhook: http://127.0.0.1:9000/status
                events: [lock.acquired, notify.failed]
            steps: [{ name: a, run: echo a }]
            """,
            "9:14: error: `lock.acquired` cannot be sent to a webhook: locks are recorded by the store, not by the run; list run events such as run.started, stage.finished or run.finished",
            "9:29: error: `notify.failed` cannot be sent to a webhook: a failure to notify is logged and audited, never notified; list run events such as run.started, stage.finished or run.finished"),
        MalformedCase("webhook that is not a URL", """
            notify:
              - webhook: chat-ops-channel
                events: [run.finished]
            steps: [{ name: a, run: echo a }]
            """, "8:14: error: `webhook` must be an http:// or https:// URL, not `chat-ops-channel`"),
        MalformedCase("guard using a target variable", """
            guards:
              - name: disk
                run: df {{ target.vars.url }}
            steps: [{ name: a, run: echo a }]
            """, "9:16: error: `target.vars.url` has no value in a guard, which runs once per stage, not per target"),
        MalformedCase("guard polling faster than a second", """
            guards:
              - name: disk
                run: df /
                every: 100ms
            steps: [{ name: a, run: echo a }]
            """, "10:12: error: guard `disk` runs every 100ms; use 1s or more"),

        // Warnings
        MalformedCase("when label no target carries", """
            steps:
              - name: a
                run: echo a
                when: { rloe: api }
            """, "8:11: warning: step `a` runs only when label `rloe` matches, but no target carries `rloe`, so it never runs; did you mean `role`?"),
        MalformedCase("placeholder quoted by hand", """
            steps:
              - name: a
                run: echo "{{ target.name }}"
            """, "9:19: warning: `{{ target.name }}` is inside quotes; sluice quotes inserted values itself, so these quotes become part of the value; remove them"),
    ]

    @Test(arguments: cases)
    func reportsExactly(_ testCase: MalformedCase) throws {
        // Given a runbook with one problem, and the files it names
        let fixture = try RunbookFixture()
        for (name, content, executable) in testCase.files {
            try fixture.write(name, content, executable: executable)
        }
        let text = testCase.headed ? Self.header + testCase.text : testCase.text
        // When it is loaded
        let result = fixture.load(text + "\n")
        // Then exactly the expected diagnostics come out, in reading order
        let expected = testCase.expected.map { $0.replacing("$DIR", with: fixture.directory.standardizedFileURL.path) }
        #expect(result.lines == expected)
        if expected.contains(where: { $0.contains(": error: ") }) {
            #expect(result.validRunbook == nil)
        }
    }

    @Test func casesCoverEnoughProblems() {
        #expect(Self.cases.count >= 40)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count)
    }

    @Test func allProblemsAreReportedAtOnce() throws {
        // Given a runbook with four unrelated problems, one of which (`wat`) also leaves a step without an action
        let fixture = try RunbookFixture()
        let result = fixture.load(Self.header + """
            rollout:
              on_failure: retry
            steps:
              - name: a
                run: echo {{ target.nmae }}
                timeout: forever
              - name: b
                wat: 5s

            """)
        // Then each is reported, in reading order
        #expect(result.lines.count == 5)
        #expect(result.lines.map { $0.prefix(6) } == ["8:15: ", "11:18:", "12:14:", "13:5: ", "14:5: "])
    }
}

extension MalformedRunbookTests {
    @Test func unquotedPlaceholderInAFlowMappingGetsAHint() throws {
        let fixture = try RunbookFixture()
        let result = fixture.load(Self.header + "steps: [{ name: a, run: echo {{ target.name }} }]\n")
        #expect(result.lines == ["7:30: error: YAML syntax: did not find expected ',' or '}' (while parsing a flow mapping at line 7, column 9); a value holding `{{ }}` inside `{ }` or `[ ]` must be quoted"])
    }

    @Test func anUnquotedPlaceholderAtTheStartOfAValueGetsTheHintToQuoteIt() throws {
        // Given values that start with `{{`, unquoted: alone (a mapping to YAML), and followed by
        // more words (a syntax error)
        let fixture = try RunbookFixture()
        let alone = fixture.load(Self.header + "steps:\n  - name: a\n    run: {{ target.name }}\n")
        let followed = fixture.load(Self.header + "steps:\n  - name: a\n    run: {{ target.name }} restart\n")
        // Then each error says to quote it
        let hint = "a value that starts with `{{` must be quoted, or YAML reads it as a mapping: write it as \"{{ ... }}\""
        #expect(alone.lines.count == 1 && alone.lines.allSatisfy { $0.hasSuffix(hint) }, "\(alone.lines)")
        #expect(followed.lines.count == 1 && followed.lines.allSatisfy { $0.contains("YAML syntax") && $0.hasSuffix(hint) }, "\(followed.lines)")
    }
}
