import Foundation
import SluiceTesting
import Testing

@Suite("sluice plan, run as a program", .ownThread)
struct PlanCommandTests {
    /// A runbook whose every changing command would leave a marker file, and whose read-only
    /// commands leave one too, so a test can tell exactly what ran.
    static func markerRunbook(_ folder: TemporaryFolder, webhookPort: Int) throws {
        try folder.write("mark.sh", "#!/bin/sh\n# mark.sh NAME: records that NAME ran, and in which mode.\necho \"$SLUICE_MODE\" >> \"markers/$1\"\n", executable: true)
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("markers"), withIntermediateDirectories: true)
        // The files' folder exists: plan validates new content beside the real file, as apply does.
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("out"), withIntermediateDirectories: true)
        try folder.write("site.conf", "listen {{ target.vars.port }}\n")
        try folder.write("runbook.yaml", """
            sluice: 1
            id: markers
            targets:
              - { name: web1, vars: { port: "8081" } }
              - { name: web2, vars: { port: "8082" } }
            holds:
              - { name: batch, pause: ./mark.sh hold-pause, resume: ./mark.sh hold-resume }
            guards:
              - { name: disk, run: ./mark.sh guard }
            preflight:
              - name: ready
                run: ./mark.sh preflight-{{ target.name }}
            steps:
              - name: deploy
                run: ./mark.sh run-{{ target.name }}
                check: ./mark.sh check-{{ target.name }}
                rollback: ./mark.sh rollback-{{ target.name }}
              - name: conf
                file:
                  path: "out/{{ target.name }}.conf"
                  source: site.conf
                  validate: ./mark.sh validate-{{ target.name }} {{ file }}
                  reload: ./mark.sh reload-{{ target.name }}
              - name: refresh
                cache_refresh: ./mark.sh cache-{{ target.name }}
            recovery:
              - name: refresh again
                cache_refresh: ./mark.sh recovery-{{ target.name }}
            notify:
              - webhook: http://127.0.0.1:\(webhookPort)/hook
                events: [run.started, run.finished]

            """)
    }

    @Test func planRunsOnlyReadOnlyCommandsAndChangesNothing() throws {
        // Given a runbook whose commands leave markers, and a listener where its webhook points
        let folder = try TemporaryFolder()
        let webhook = try LoopbackListener()
        try Self.markerRunbook(folder, webhookPort: webhook.port)
        // When it is planned
        let result = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("store/audit.sqlite").path])
        // Then it is ready, exactly the read-only commands ran, in check mode, and nothing changed
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let markers = try FileManager.default.contentsOfDirectory(atPath: folder.url.appendingPathComponent("markers").path).sorted()
        #expect(markers == ["check-web1", "check-web2", "guard", "preflight-web1", "preflight-web2", "validate-web1", "validate-web2"])
        for marker in markers {
            let mode = try String(contentsOf: folder.url.appendingPathComponent("markers/\(marker)"), encoding: .utf8)
            #expect(mode == "check\n", "\(marker) ran in mode \(mode)")
        }
        // Nothing was written beside the files, not even validate's temporary file
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.appendingPathComponent("out").path) == [])
        #expect(webhook.connectionsAccepted() == 0)
        #expect(result.stdout.contains("Ready: no check failed."))
    }

    @Test func aFailingCheckExitsOneAndSaysWhich() throws {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: failing
            targets: [{ name: web1 }, { name: web2 }]
            steps:
              - name: migrate
                run: echo migrate
                check: "test {{ target.name }} = web1 || { echo 'schema lock held' >&2; exit 3; }"

            """)
        let result = try SluiceBinary.run(["plan", "runbook.yaml", "--no-color"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("1. migrate [run]: FAILED (exited with status 3)"))
        #expect(result.stdout.contains("| schema lock held"))
        #expect(result.stdout.contains("Not ready: 1 check failed; fix them and plan again."))
    }

    @Test func invalidRunbookExitsTwo() throws {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", "sluice: 1\nid: x\ntargets: [{ name: a }]\nsteps: [{ name: s, run: \"echo {{ target.nmae }}\" }]\n")
        let result = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("runbook.yaml:4:34: error: unknown template variable `target.nmae`"))
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("s.sqlite").path))
    }

    @Test func missingSecretFromTheEnvironmentExitsTwo() throws {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", "sluice: 1\nid: x\nvars:\n  token: { env: SLUICE_TEST_UNSET_TOKEN, secret: true }\ntargets: [{ name: a }]\nsteps: [{ name: s, run: \"echo {{ vars.token }}\" }]\n")
        let result = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path])
        #expect(result.status == 2)
        #expect(result.stderr == "runbook.yaml:4:3: `vars.token` comes from environment variable `SLUICE_TEST_UNSET_TOKEN`, which is not set; export it and try again\n")
    }

    @Test func secretsNeverReachOutputTheSavedPlanOrTheStore() throws {
        // Given a secret used in a command, a file and a check that prints it
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: secrets
            vars:
              token: { env: PLAN_TEST_TOKEN, secret: true }
            targets: [{ name: web1 }]
            steps:
              - name: call
                run: "curl -H {{ vars.token }} http://127.0.0.1:1/"
                check: "echo checking with {{ vars.token }}; exit 1"
              - name: conf
                file: { path: out.conf, content: "token = {{ vars.token }}\\n" }

            """)
        let store = folder.url.appendingPathComponent("s.sqlite").path
        // When it is planned, as text and as JSON, with a saved plan
        let text = try SluiceBinary.run(["plan", "runbook.yaml", "--out", "plan.json"], in: folder.url, environment: ["SLUICE_STORE": store, "PLAN_TEST_TOKEN": "tok-9f8e7d"])
        let json = try SluiceBinary.run(["plan", "runbook.yaml", "--json"], in: folder.url, environment: ["SLUICE_STORE": store, "PLAN_TEST_TOKEN": "tok-9f8e7d"])
        // Then the secret appears nowhere: not in output, the plan file, or the store
        #expect(text.status == 1 && json.status == 1)
        #expect(text.stdout.contains("checking with ***"))
        #expect(text.stdout.contains("+token = ***"))
        for haystack in [text.stdout, text.stderr, json.stdout, json.stderr] { #expect(!haystack.contains("tok-9f8e7d")) }
        let saved = try Data(contentsOf: folder.url.appendingPathComponent("plan.json"))
        #expect(!String(decoding: saved, as: UTF8.self).contains("tok-9f8e7d"))
        let storeBytes = try Data(contentsOf: URL(fileURLWithPath: store))
        #expect(storeBytes.range(of: Data("tok-9f8e7d".utf8)) == nil)
    }

    @Test func fileDiffsShowNewChangedUnchangedAndModeChanges() throws {
        // Given files in four states, with content from a source and inline
        let folder = try TemporaryFolder()
        try folder.write("files/app.conf", "level = 2\nname = {{ target.name }}\n")
        try folder.write("out/changed.conf", "level = 1\nname = web1\n")
        try folder.write("out/same.conf", "same\n")
        try folder.write("out/mode.conf", "mode\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: folder.url.appendingPathComponent("out/mode.conf").path)
        try folder.write("runbook.yaml", """
            sluice: 1
            id: diffs
            targets: [{ name: web1 }]
            steps:
              - { name: new, file: { path: out/new.conf, content: "fresh\\n" } }
              - { name: changed, file: { path: out/changed.conf, source: files/app.conf } }
              - { name: same, file: { path: out/same.conf, content: "same\\n" } }
              - { name: mode, file: { path: out/mode.conf, content: "mode\\n", mode: "0600" } }

            """)
        // When it is planned as JSON
        let result = try SluiceBinary.run(["plan", "runbook.yaml", "--json"], in: folder.url, environment: ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let plan = document?["plan"] as? [String: Any]
        let stage = (plan?["stages"] as? [[String: Any]])?.first
        let steps = ((stage?["targets"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]) ?? []
        let files = steps.compactMap { $0["file"] as? [String: Any] }
        // Then each file's change and diff are right
        #expect(files.map { $0["change"] as? String } == ["create", "modify", "unchanged", "mode"])
        #expect(files[0]["diff"] as? String == "--- /dev/null\n+++ out/new.conf\n@@ -0,0 +1 @@\n+fresh\n")
        #expect(files[1]["diff"] as? String == "--- out/changed.conf\n+++ out/changed.conf\n@@ -1,2 +1,2 @@\n-level = 1\n+level = 2\n name = web1\n")
        #expect(files[2]["diff"] as? String == "")
        #expect(files[3]["currentMode"] as? String == "0644")
        #expect(files[3]["mode"] as? String == "0600")
        // And nothing was written
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("out/new.conf").path))
        #expect(try String(contentsOf: folder.url.appendingPathComponent("out/changed.conf"), encoding: .utf8) == "level = 1\nname = web1\n")
    }

    @Test func planIsRecordedInTheStore() throws {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", "sluice: 1\nid: recorded\ntargets: [{ name: a }]\nsteps: [{ name: s, run: echo ok }]\n")
        let environment = ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path, "SLUICE_USER": "alice"]
        let plan = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: environment)
        #expect(plan.status == 0)
        let runs = try SluiceBinary.run(["runs", "--json"], in: folder.url, environment: environment)
        let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]]
        #expect(list?.count == 1)
        #expect(list?.first?["mode"] as? String == "plan")
        #expect(list?.first?["actor"] as? String == "alice")
        #expect(list?.first?["outcome"] as? String == "succeeded")
        let export = try SluiceBinary.run(["audit", "export"], in: folder.url, environment: environment)
        #expect(export.stdout.contains("\"kind\":\"plan.recorded\""))
        let verify = try SluiceBinary.run(["audit", "verify"], in: folder.url, environment: environment)
        #expect(verify.status == 0)
    }
}

/// A TCP listener on 127.0.0.1 that counts connections, to prove nothing connected.
final class LoopbackListener {
    let socket: Int32
    let port: Int

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0, listen(socket, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        _ = fcntl(socket, F_SETFL, O_NONBLOCK)
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socket) }

    func connectionsAccepted() -> Int {
        var count = 0
        while true {
            let client = accept(socket, nil, nil)
            if client < 0 { return count }
            close(client)
            count += 1
        }
    }
}

extension PlanCommandTests {
    @Test func jsonTimesAreRFC3339LikeTheSavedPlan() throws {
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", "sluice: 1\nid: times\ntargets: [{ name: a }]\nsteps: [{ name: s, run: echo ok }]\n")
        let environment = ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path]
        let result = try SluiceBinary.run(["plan", "runbook.yaml", "--json", "--out", "plan.json"], in: folder.url, environment: environment)
        #expect(result.status == 0)
        let printed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.url.appendingPathComponent("plan.json"))) as? [String: Any]
        for createdAt in [(printed?["plan"] as? [String: Any])?["createdAt"], saved?["createdAt"]] {
            let text = try #require(createdAt as? String)
            #expect(ISO8601DateFormatter().date(from: text) != nil, "\(text)")
        }
    }
}

extension PlanCommandTests {
    @Test func valuesThatCannotBeUsedExitTwoSayingWhereAndWhatToDo() throws {
        // Given a target whose tcp address has no port, and a variable file holding a NUL byte
        let folder = try TemporaryFolder()
        try folder.write("runbook.yaml", """
            sluice: 1
            id: bad-values
            targets: [{ name: web1, vars: { addr: "127.0.0.1" } }]
            steps:
              - { name: up, health: { tcp: "{{ target.vars.addr }}" } }

            """)
        try Data("to\0ken".utf8).write(to: folder.url.appendingPathComponent("token.txt"))
        try folder.write("nul.yaml", """
            sluice: 1
            id: nul-value
            vars:
              token: { file: token.txt }
            targets: [{ name: web1 }]
            steps: [{ name: s, run: "echo {{ vars.token }}" }]

            """)
        let environment = ["SLUICE_STORE": folder.url.appendingPathComponent("s.sqlite").path]
        // When each is planned
        let address = try SluiceBinary.run(["plan", "runbook.yaml"], in: folder.url, environment: environment)
        let nul = try SluiceBinary.run(["plan", "nul.yaml"], in: folder.url, environment: environment)
        // Then both exit 2, naming the place and what to do, before anything ran or was recorded
        #expect(address.status == 2)
        #expect(address.stderr == "runbook.yaml:5:32: `health.tcp` renders as `127.0.0.1`, which is not HOST:PORT with a port from 1 to 65535; fix the value it is built from\n")
        #expect(nul.status == 2)
        #expect(nul.stderr == "nul.yaml:6:34: the value of `vars.token` contains a NUL byte, which cannot be passed to a command; remove it\n")
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("s.sqlite").path))
    }
}

extension ApplyCommandTests {
    @Test func anUnusableStoreRefusesBeforeAnythingChanges() throws {
        // Given a store path under a regular file, where no store can be created
        let folder = try Self.world()
        try folder.write("not-a-folder", "x")
        let result = try SluiceBinary.run(["apply", "runbook.yaml", "--yes", "--store", "not-a-folder/audit.sqlite"], in: folder.url)
        #expect(result.status == 4)
        #expect(result.stderr.contains("cannot create the audit store at not-a-folder/audit.sqlite"))
        #expect(result.stderr.contains("pass --store PATH to use another location"))
        #expect(Self.read(folder, "web1/app.conf") == "version = 1\n")
        #expect(Self.read(folder, "log") == nil)
    }
}
