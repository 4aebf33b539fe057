// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceAudit", targets: ["SluiceAudit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Runbook model, loading, validation, templating and stage assignment. No I/O beyond
        // reading the runbook's own files.
        .target(
            name: "SluiceCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
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
        // The command-line program: parses arguments, calls the libraries, maps outcomes to exit
        // statuses.
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceCore",
                "SluiceAudit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"]),
        .testTarget(
            name: "SluiceAuditTests",
            dependencies: [
                "SluiceAudit",
                "SluiceCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(name: "SluiceEndToEndTests", dependencies: ["SluiceCore"]),
    ],
    swiftLanguageModes: [.v6]
)
