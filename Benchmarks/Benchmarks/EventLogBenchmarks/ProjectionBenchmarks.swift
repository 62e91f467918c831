import Benchmark
import CBenchLMDB
import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation
import Logging
import Synchronization

/// A realistic caseload of about 1M workflow events, written once through `CaseEngine` (relaxed durability) and
/// shared by the projection benchmarks: mediation cases agreed, failed and referred to court, escalated, and legal
/// aid cases approved and assigned.
enum CaseloadStore {
    static let built = Mutex<[UInt64: ScratchDirectory]>([:])

    static func directory() throws -> Directory {
        guard let village = DivisionCode("511124101001"), let township = DivisionCode("511124101000"),
            let county = DivisionCode("511124000000")
        else { throw BenchmarkFailure("bad division code") }
        return Directory(
            units: [
                ServiceUnit(id: "v1", name: "Village committee", kind: .mediationCommittee, division: village),
                ServiceUnit(id: "t1", name: "Township committee", kind: .mediationCommittee, division: township),
                ServiceUnit(id: "court", name: "Court", kind: .court, division: county),
                ServiceUnit(id: "aid", name: "Legal aid centre", kind: .legalAidCentre, division: county),
            ],
            persons: [
                Person(id: "m-v1", name: "Mediator", roles: [.mediator, .staff], units: ["v1"]),
                Person(id: "m-t1", name: "Mediator", roles: [.mediator, .staff], units: ["t1"]),
                Person(id: "court-clerk", name: "Clerk", roles: [.staff], units: ["court"]),
                Person(id: "aid-staff", name: "Aid officer", roles: [.staff], units: ["aid"]),
                Person(id: "lawyer-1", name: "Lawyer", roles: [.lawyer], units: []),
            ])
    }

    static func engine(_ log: LMDBEventLog) throws -> CaseEngine {
        CaseEngine(
            log: log,
            configuration: .init(
                directory: try directory(), calendar: try HolidayCalendar.chinaMainland(),
                definitions: try DefinitionRegistry.national()),
            clock: WorkflowWorkload.FixedClock(), logger: Logger(label: "benchmark"))
    }

    /// One case's commands, by variant.
    static func run(_ engine: CaseEngine, case n: Int) async throws {
        guard let village = DivisionCode("511124101001") else { return }
        let id = CaseID("c\(n)")
        let parties = [
            Party(reference: "p\(n % 50_000)", name: "张三", role: .applicant),
            Party(reference: "q\(n)", name: "李四", role: .respondent),
        ]
        func registration(_ kind: CaseKind, _ unit: UnitID, _ owner: PersonID) -> Registration {
            Registration(
                kind: kind, channel: n % 3 == 0 ? .hotline12348 : .window, unit: unit, owner: owner, division: village,
                parties: parties, disputeType: n % 7 == 0 ? .debt : .neighbour, summary: "邻里纠纷",
                legalAid: kind == .legalAid
                    ? LegalAidApplication(matter: .labour, exemption: .migrantWorkerWages, exemptionEvidence: "工资单")
                    : nil)
        }
        switch n % 10 {
        case 0...5:
            try await engine.execute(.register(registration(.peopleMediation, "v1", "m-v1")), on: id, by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
            try await engine.execute(.reachAgreement(form: .oral, terms: "赔偿500元"), on: id, by: "m-v1")
            try await engine.execute(.close(outcome: "performed"), on: id, by: "m-v1")
            try await engine.execute(.evaluate(rating: 3 + n % 3, comment: nil), on: id, by: "m-v1")
        case 6, 7:
            try await engine.execute(.register(registration(.peopleMediation, "v1", "m-v1")), on: id, by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
            try await engine.execute(
                .declareFailure(rightsNotice: "告知", suggestedRoute: .civilLitigation), on: id, by: "m-v1")
            try await engine.execute(
                .refer(
                    Referral(
                        route: .civilLitigation, newCase: CaseID("c\(n)-s"), toUnit: "court", toPerson: "court-clerk")),
                on: id, by: "m-v1")
        case 8:
            try await engine.execute(.register(registration(.peopleMediation, "v1", "m-v1")), on: id, by: "m-v1")
            try await engine.execute(
                .escalate(
                    Escalation(
                        toUnit: "t1", toPerson: "m-t1", reason: .complex,
                        consentingParties: ["p\(n % 50_000)", "q\(n)"])),
                on: id, by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-t1"], chosenByParties: false), on: id, by: "m-t1")
        default:
            try await engine.execute(.register(registration(.legalAid, "aid", "aid-staff")), on: id, by: "aid-staff")
            try await engine.execute(.approveAid, on: id, by: "aid-staff")
            try await engine.execute(.assignProvider("lawyer-1"), on: id, by: "aid-staff")
        }
    }

    /// A store of at least `events` events. `CASELEDGER_BENCH_CASELOAD=DIR` keeps it in `DIR/<events>` and reuses it
    /// in later runs (for profiling).
    static func path(events targetEvents: UInt64 = 1_000_000) async throws -> String {
        if let directory = built.withLock({ $0[targetEvents] }) { return directory.path }
        let kept = ProcessInfo.processInfo.environment["CASELEDGER_BENCH_CASELOAD"].map { "\($0)/\(targetEvents)" }
        let directory = kept.map(ScratchDirectory.init(keeping:)) ?? ScratchDirectory("caseload")
        if kept != nil, FileManager.default.fileExists(atPath: directory.path + "/store/data.mdb") {
            let log = try LMDBEventLog.open(at: directory.path + "/store", mode: .readOnly)
            let head = try log.head().position
            log.close()
            guard head >= targetEvents else {
                throw BenchmarkFailure("the kept caseload at \(directory.path) has \(head) events: remove it")
            }
            built.withLock { $0[targetEvents] = directory }
            return directory.path
        }
        var configuration = LMDBEventLog.Configuration()
        configuration.durability = .relaxedForBulkImport
        configuration.initialMapSize = max(4 << 30, Int(targetEvents) * 1_600)
        configuration.clock = WorkflowWorkload.FixedClock()
        let log = try LMDBEventLog.open(at: directory.path + "/store", configuration: configuration)
        let engine = try engine(log)
        var next = 0
        while try log.head().position < targetEvents {
            let start = next
            next += 640
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<64 {
                    group.addTask {
                        var n = start + worker
                        while n < start + 640 {
                            try await run(engine, case: n)
                            n += 64
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try log.sync()
        log.close()
        built.withLock { $0[targetEvents] = directory }
        return directory.path
    }

    static func remove() { built.withLock { for directory in $0.values { directory.remove() } } }
}

/// The number of events in the store a caseload benchmark read or rebuilt, recorded once per iteration, so that
/// `scripts/report.py` divides by the store's own count (the caseload stops at the first batch of cases past its
/// target) instead of a round figure. package-benchmark keeps measurements in a histogram exact only below 2,048, so
/// the count is recorded in three parts of three digits each (millions, thousands, units), which `report.py` adds up.
let storeEventMetrics = ["millions", "thousands", "units"].map {
    BenchmarkMetric.custom("Events in the store (\($0))", polarity: .prefersLarger, useScalingFactor: false)
}

/// Records `events` as the three ``storeEventMetrics``.
func recordStoreEvents(_ benchmark: Benchmark, _ events: Int) {
    benchmark.measurement(storeEventMetrics[0], events / 1_000_000)
    benchmark.measurement(storeEventMetrics[1], events / 1_000 % 1_000)
    benchmark.measurement(storeEventMetrics[2], events % 1_000)
}

func allViews() throws -> [(any Projection, ProjectionRuntime.Mode)] {
    [
        (CaseSummaryProjection(), .async), (DeadlinesProjection(), .async), (BoardProjection(), .async),
        (MonthlyStatisticsProjection(), .async), (WorkloadProjection(), .async),
        (try RepeatDisputesProjection(partyKey: Array("benchmark party key, 32 bytes...".utf8)), .async),
    ]
}

/// The peak of the process's anonymous resident memory (heap and stacks, not the mapped store) while `body` runs,
/// sampled every 10 ms from `/proc/self/status`, in MB.
func anonymousResidentPeak(_ body: () throws -> Void) rethrows -> Int {
    @Sendable func current() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    final class Sampler: Sendable {
        let peak: Atomic<Int>
        let running = Atomic<Bool>(true)
        init(_ start: Int) { peak = Atomic(start) }
    }
    let sampler = Sampler(current())
    let thread = Thread {
        while sampler.running.load(ordering: .relaxed) {
            let now = current()
            if now > sampler.peak.load(ordering: .relaxed) { sampler.peak.store(now, ordering: .relaxed) }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
    thread.start()
    defer { sampler.running.store(false, ordering: .relaxed) }
    try body()
    return max(sampler.peak.load(ordering: .relaxed), current()) / 1024
}

/// A rebuild of all six views as `caseledger views rebuild` runs it: the log opened durably (every write transaction
/// of the rebuild flushed), the disk settled before the run, one warm-up iteration for 1M events so that each timed
/// one starts from the same state (the previous generation's tables to drop, a warm page cache), as the scans do.
func registerRebuildBenchmark(
    _ name: String, events target: UInt64, iterations: Int, warmup: Int, chunkSize: Int = 16_384
) {
    nonisolated(unsafe) var log: LMDBEventLog?
    nonisolated(unsafe) var runtime: ProjectionRuntime?
    nonisolated(unsafe) var events: UInt64 = 0
    let anonymousPeak = BenchmarkMetric.custom("Memory (anonymous resident peak, MB)", useScalingFactor: false)
    Benchmark(
        name,
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident, anonymousPeak]
                + storeEventMetrics,
            warmupIterations: warmup, maxDuration: .seconds(1_800), maxIterations: iterations,
            setup: {
                let opened = try LMDBEventLog.open(at: try await CaseloadStore.path(events: target) + "/store")
                settleDisk()
                log = opened
                events = try opened.head().position
                runtime = try ProjectionRuntime(
                    log: opened, projections: try allViews(), logger: Logger(label: "benchmark"), chunkSize: chunkSize)
            },
            teardown: {
                runtime?.shutdown()
                runtime = nil
                log?.close()
                log = nil
            })
    ) { benchmark in
        guard let runtime, let log else { throw BenchmarkFailure("no runtime") }
        for _ in benchmark.scaledIterations {
            let peak = try anonymousResidentPeak { try runtime.rebuildAll() }
            benchmark.measurement(anonymousPeak, peak)
            recordStoreEvents(benchmark, Int(events))
            guard try runtime.status().allSatisfy({ $0.checkpoint == events && $0.failedAt == nil }) else {
                throw BenchmarkFailure("rebuild incomplete")
            }
        }
        blackHole(try log.head())
    }
}

/// A scan of the ~1M-event caseload store, opened read-only for the benchmark.
func registerCaseloadScan(_ name: String, _ body: @escaping @Sendable (Benchmark, LMDBEventLog) throws -> Void) {
    nonisolated(unsafe) var scanned: LMDBEventLog?
    Benchmark(
        name,
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident] + storeEventMetrics,
            maxDuration: .seconds(20), maxIterations: 5,
            setup: { scanned = try LMDBEventLog.open(at: try await CaseloadStore.path() + "/store", mode: .readOnly) },
            teardown: {
                scanned?.close()
                scanned = nil
            })
    ) { benchmark in
        guard let scanned else { throw BenchmarkFailure("no store") }
        try body(benchmark, scanned)
        let head = Int(try scanned.head().position)
        for _ in benchmark.scaledIterations { recordStoreEvents(benchmark, head) }
    }
}

func registerProjectionBenchmarks() {
    registerRebuildBenchmark("Rebuild.CaseLedger.allViews1M", events: 1_000_000, iterations: 3, warmup: 1)
    // 10M events: a long run (the store alone takes minutes to write), so only on request.
    if ProcessInfo.processInfo.environment["CASELEDGER_BENCH_10M"] == "1" {
        registerRebuildBenchmark("Rebuild.CaseLedger.allViews10M", events: 10_000_000, iterations: 1, warmup: 0)
    }
    registerCaseloadScan("Scan.CaseLedger.headersCaseload1M") { benchmark, scanned in
        // What every rebuild must do at least: read each event in place and decode its workflow header.
        let head = try scanned.head().position
        for _ in benchmark.scaledIterations {
            var headers = 0
            var states = 0
            let count = try scanned.forEachEvent(from: 1) { event in
                if let header = event.withMetadata({ RecordHeader(bytes: $0) }) {
                    headers += 1
                    states &+= header.state.utf8.count
                }
                return true
            }
            guard count == Int(head), headers == count else {
                throw BenchmarkFailure("scanned \(count) events, \(headers) headers, of \(head)")
            }
            blackHole(states)
        }
    }
    registerCaseloadScan("Scan.CaseLedger.hashedCounterCaseload1M") { benchmark, scanned in
        // The least work a view could do per event: the in-place scan, one byte of the header (the state's length)
        // and one counter per case, found by an FNV-1a hash of the stream id in a fixed table (collisions ignored).
        // No view costs less; the rate target is measured against the raw scan.
        var counters = [UInt32](repeating: 0, count: 1 << 20)
        let head = try scanned.head().position
        for _ in benchmark.scaledIterations {
            var sum = 0
            let count = try scanned.forEachEvent(from: 1) { event in
                let stateLength = event.withMetadata { $0.count > 35 ? Int($0[35]) : 0 }
                let hash = event.withStreamIDBytes { bytes -> UInt64 in
                    var h: UInt64 = 0xcbf2_9ce4_8422_2325
                    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
                    return h
                }
                counters[Int(hash & 0xF_FFFF)] &+= 1
                sum &+= stateLength
                return true
            }
            guard count == Int(head) else { throw BenchmarkFailure("scanned \(count) events of \(head)") }
            blackHole(sum)
        }
        blackHole(counters)
    }
    registerCaseloadScan("Scan.CaseLedger.eventsCaseload1M") { benchmark, scanned in
        // CaseLedger's zero-copy scan alone: each record checked against its key and viewed in place, nothing
        // decoded.
        let head = try scanned.head().position
        for _ in benchmark.scaledIterations {
            var sum = 0
            let count = try scanned.forEachEvent(from: 1) { event in
                sum &+= Int(event.streamVersion)
                return true
            }
            guard count == Int(head) else { throw BenchmarkFailure("scanned \(count) events of \(head)") }
            blackHole(sum)
        }
    }
    nonisolated(unsafe) var raw: RawLMDBStore?
    nonisolated(unsafe) var rawEvents = 0
    Benchmark(
        "Scan.RawLMDB.cursorCaseload1M",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident] + storeEventMetrics,
            maxDuration: .seconds(20), maxIterations: 5,
            setup: {
                let path = try await CaseloadStore.path() + "/store"
                let log = try LMDBEventLog.open(at: path, mode: .readOnly)
                rawEvents = Int(try log.head().position)
                log.close()
                raw = try RawLMDBStore(path: path, readOnly: true)
            },
            teardown: { raw = nil })
    ) { benchmark in
        guard let raw else { throw BenchmarkFailure("no store") }
        for _ in benchmark.scaledIterations {
            let (count, bytes) = raw.scan()
            guard count == rawEvents else { throw BenchmarkFailure("scanned \(count) of \(rawEvents)") }
            recordStoreEvents(benchmark, rawEvents)
            blackHole(bytes)
        }
    }
}
