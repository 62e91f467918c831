// swift-tools-version: 6.1
import PackageDescription

// The benchmarks live in their own package, as swift-nio's do, so that users of CaseLedger never resolve the
// benchmark tooling. Run from this directory:
//   swift package --disable-sandbox benchmark --filter 'Append.*'
let package = Package(
    name: "CaseLedgerBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "CaseLedger", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The baseline is written directly against LMDB's C API, from the same system library.
        .systemLibrary(
            name: "CBenchLMDB",
            path: "Sources/CBenchLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .executableTarget(
            name: "EventLogBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CaseLedgerLog", package: "CaseLedger"),
                .product(name: "CaseLedgerWorkflow", package: "CaseLedger"),
                .product(name: "CaseLedger", package: "CaseLedger"),
                .product(name: "CaseLedgerProjections", package: "CaseLedger"),
                .product(name: "Logging", package: "swift-log"),
                "CBenchLMDB",
            ],
            path: "Benchmarks/EventLogBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
