// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceAudit", targets: ["SluiceAudit"]),
        .library(name: "SluiceExecution", targets: ["SluiceExecution"]),
        .library(name: "SluiceRuns", targets: ["SluiceRuns"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // Runbook model, loading, validation, templating and stage assignment. No I/O beyond
        // reading the runbook's own files.
        .target(
            name: "SluiceCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Real I/O: processes (swift-subprocess), health probes, file changes.
        .target(
            name: "SluiceExecution",
            dependencies: [
                "SluiceCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The SQLite audit store: schema, migrations, hash chain, locks.
        .target(
            name: "SluiceAudit",
            dependencies: [
                "SluiceCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // A run's lifecycle as a library: gates, locks and lease, journal, the engine with its
        // heartbeat, the run's end; `apply`, `resume` and `rollback` call it and render what it returns.
        .target(
            name: "SluiceRuns",
            dependencies: ["SluiceCore", "SluiceAudit", "SluiceExecution"]
        ),
        // The command-line program: parses arguments, calls the libraries, maps outcomes to exit
        // statuses.
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceCore",
                "SluiceAudit",
                "SluiceExecution",
                "SluiceRuns",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The quickstart's demo service: a small HTTP server on 127.0.0.1 (Scripts/quickstart.sh).
        .executableTarget(
            name: "sluice-demo",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Helper for the audit store's multi-process tests and its benchmark (Scripts/bench-audit.sh).
        .executableTarget(
            name: "sluice-store-bench",
            dependencies: [
                "SluiceAudit",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The layers under `sluice apply`, timed one by one (Scripts/bench-apply.sh).
        .executableTarget(
            name: "sluice-spawn-bench",
            dependencies: [
                "SluiceCore",
                "SluiceExecution",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The fakes the tests run the engine on: a recording transport, a scripted health prober
        // and a manual clock. For test targets only, never for `sluice`.
        .target(
            name: "SluiceTesting",
            dependencies: ["SluiceCore", "SluiceExecution"]
        ),
        // Helper for the SSH transport's tests: runs one command over SSH until a test kills it
        // with SIGKILL, to show that a killed runner leaves nothing running on the host.
        .executableTarget(name: "sluice-ssh-probe", dependencies: ["SluiceCore", "SluiceExecution"]),
        // What several test targets use: a real webhook receiver and a real sshd on 127.0.0.1.
        .target(
            name: "SluiceTestSupport",
            dependencies: [
                "SluiceExecution",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/SluiceTestSupport"
        ),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "SluiceTesting"]),
        .testTarget(name: "SluiceExecutionTests", dependencies: ["SluiceExecution", "SluiceTesting", "SluiceTestSupport", "sluice-ssh-probe"]),
        .testTarget(name: "SluiceTestingTests", dependencies: ["SluiceTesting"]),
        .testTarget(name: "SluiceRunsTests", dependencies: ["SluiceRuns", "SluiceAudit", "SluiceExecution", "SluiceCore", "SluiceTesting"]),
        .testTarget(
            name: "SluiceAuditTests",
            dependencies: [
                "SluiceAudit",
                "SluiceCore",
                "SluiceTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Runs the built `sluice` binary (and the store's bench helper) as an operator would;
        // NIO serves the webhooks that `apply` notifies.
        .testTarget(name: "SluiceEndToEndTests", dependencies: ["sluice", "sluice-store-bench", "sluice-demo", "SluiceTestSupport", "SluiceTesting"]),
        // Runs the example runbooks with the built `sluice` against real nginx and redis on
        // 127.0.0.1 (Runbooks/lab/lab.sh), each with its incident's fault injected.
        .testTarget(name: "SluiceIntegrationTests", dependencies: ["sluice", "SluiceTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
