import Foundation
import Testing

/// A folder with a small runbook and its own audit store, for the operator's gates: windows,
/// freezes, approvals, saved plans, notifications and who acts.
struct GatesWorld {
    let folder: TemporaryFolder
    var store: String { folder.url.appendingPathComponent("store/audit.sqlite").path }

    /// A runbook `runbook.yaml` (id `gates`) whose targets come from `targets.yaml`, with a file
    /// step from `files/app.conf` and a run step using the script `scripts/deploy.sh`; `extra` is added
    /// at the top level.
    init(extra: String = "") throws {
        folder = try TemporaryFolder()
        try folder.write("targets.yaml", "- { name: web1 }\n- { name: web2 }\n")
        try folder.write("files/app.conf", "version = 2\n")
        try folder.write("scripts/deploy.sh", "#!/bin/sh\necho \"deploy $1\" >> log\n", executable: true)
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("out"), withIntermediateDirectories: true)
        try folder.write("runbook.yaml", """
            sluice: 1
            id: gates
            inventory: targets.yaml
            rollout:
              stages:
                - { name: canary, count: 1 }
                - { name: rest }
            \(extra)
            steps:
              - name: config
                file: { path: "out/{{ target.name }}.conf", source: files/app.conf }
              - name: deploy
                run: scripts/deploy.sh {{ target.name }}

            """)
    }

    /// Runs `sluice ARGUMENTS` in the folder with this world's store, as `user` (SLUICE_USER).
    func run(_ arguments: [String], user: String = "alice", environment: [String: String] = [:]) throws -> SluiceBinary.Result {
        try SluiceBinary.run(arguments, in: folder.url, environment: ["SLUICE_STORE": store, "SLUICE_USER": user].merging(environment) { $1 })
    }

    func apply(_ arguments: [String] = [], user: String = "alice", environment: [String: String] = [:]) throws -> SluiceBinary.Result {
        try run(["apply", "runbook.yaml", "--yes"] + arguments, user: user, environment: environment)
    }

    /// Every event in the store, as `sluice audit export` prints it.
    func events() throws -> [[String: Any]] {
        let export = try run(["audit", "export"])
        return export.stdout.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    /// An event's detail object.
    static func detail(_ event: [String: Any]) -> [String: Any] {
        event["detail"] as? [String: Any] ?? [:]
    }

    /// Every run in the store, as `sluice runs --json` prints them.
    func runs() throws -> [[String: Any]] {
        let runs = try run(["runs", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    func read(_ name: String) -> String? {
        try? String(contentsOf: folder.url.appendingPathComponent(name), encoding: .utf8)
    }
}
