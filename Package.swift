// swift-tools-version: 6.1
import PackageDescription

/// Settings every target shares: Swift 6 language mode comes from `swiftLanguageModes`; these add the
/// upcoming features that make dependencies and existentials explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "CaseLedger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CaseLedgerLog", targets: ["CaseLedgerLog"]),
        .library(name: "CaseLedgerWorkflow", targets: ["CaseLedgerWorkflow"]),
        .library(name: "CaseLedger", targets: ["CaseLedger"]),
        .library(name: "CaseLedgerProjections", targets: ["CaseLedgerProjections"]),
        .executable(name: "caseledger", targets: ["caseledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // The C library, from the system (Debian: liblmdb-dev). No C source is vendored.
        .systemLibrary(
            name: "CCaseLedgerLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"]), .brew(["lmdb"])]
        ),
        // A thin, safe layer over the LMDB C API: environments, scoped transactions, cursors, typed errors.
        .target(
            name: "CaseLedgerLMDB",
            dependencies: ["CCaseLedgerLMDB"]
        ),
        // The append-only, hash-chained event log. Its public API exposes no LMDB type.
        .target(
            name: "CaseLedgerLog",
            dependencies: [
                "CaseLedgerLMDB",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The pure case workflow: definitions as data, state folds, the decider and statutory clocks. Standard
        // library only: no I/O, no clock, no Foundation.
        .target(name: "CaseLedgerWorkflow"),
        // The facade: commands through the workflow into the log under group commit, ticks, YAML overrides and the
        // shipped holiday calendar.
        .target(
            name: "CaseLedger",
            dependencies: [
                "CaseLedgerLog", "CaseLedgerWorkflow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Projections: views kept from the log, inline (in the append's transaction) or asynchronous (from a
        // checkpoint stored with the view), rebuilt without downtime and checked against the log.
        .target(
            name: "CaseLedgerProjections",
            dependencies: [
                "CaseLedgerLog", "CaseLedgerLMDB", "CaseLedgerWorkflow",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The `caseledger` tool: simulate, exec, replay, verify, stats, export, backup and views, on the public API.
        .executableTarget(
            name: "caseledger",
            dependencies: [
                "CaseLedger", "CaseLedgerLog", "CaseLedgerWorkflow", "CaseLedgerProjections",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // A child process for the crash-safety test: appends under group commit until it is killed.
        .executableTarget(
            name: "caseledger-crash-child",
            dependencies: ["CaseLedgerLog"]
        ),
        .target(
            name: "_CaseLedgerTestSupport",
            dependencies: ["CaseLedgerLog", "CaseLedgerWorkflow", "CaseLedger"],
            path: "Tests/_CaseLedgerTestSupport"
        ),
        .testTarget(
            name: "CaseLedgerWorkflowTests",
            dependencies: ["CaseLedgerWorkflow", "CaseLedger", "CaseLedgerLog", "_CaseLedgerTestSupport"]
        ),
        .testTarget(
            name: "CaseLedgerProjectionsTests",
            dependencies: [
                "CaseLedgerProjections", "CaseLedger", "CaseLedgerWorkflow", "CaseLedgerLog", "_CaseLedgerTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // A store kept as bytes, read by `UpcastingTests` from its source path.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "CaseLedgerTests",
            dependencies: [
                "CaseLedger", "CaseLedgerWorkflow", "CaseLedgerLog", "_CaseLedgerTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CaseLedgerToolTests",
            dependencies: [
                "caseledger", "CaseLedger", "CaseLedgerLog", "CaseLedgerProjections", "CaseLedgerWorkflow",
                "_CaseLedgerTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CaseLedgerLMDBTests",
            dependencies: ["CaseLedgerLMDB", "_CaseLedgerTestSupport"]
        ),
        .testTarget(
            name: "CaseLedgerLogTests",
            dependencies: [
                "CaseLedgerLog", "CaseLedgerLMDB", "_CaseLedgerTestSupport", "caseledger-crash-child",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
