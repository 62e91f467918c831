import Benchmark
import CBenchLMDB
import CaseLedgerLog
import Foundation
import Synchronization

// What each benchmark measures, in events per iteration, is listed in `Benchmarks/scripts/report.py`, which turns
// the exported wall-clock figures into events per second and the ratios the issues ask for.
//
// Every workload writes the same events:
// - the event's own content is about 220 bytes: stream id, type name, actor, 30 bytes of metadata and a JSON
//   payload (see `Workload.event`);
// - CaseLedger stores it as one record of `Workload.recordSize` bytes (content plus the fixed header, lengths and
//   the 32-byte chain hash) and one stream-index entry;
// - the raw-LMDB baseline stores a value of exactly that size under the same 8-byte position key (MDB_APPEND) and
//   the same stream-index entry, in the same kind of durable write transaction, with no encoding, hashing,
//   validation or concurrency machinery.

enum Workload {
    static let actor = EventActor(userID: "u-004217", role: "mediator", unit: "510124101001")
    static let metadata = Array(#"{"channel":"12348","ip":"10.1.2.3"}"#.utf8)  // 34 bytes

    static func event(_ index: Int) -> NewEvent {
        let payload = String(
            format: #"{"case":"%06d","session":3,"outcome":"agreementReached","parties":2,"note":"调解达成协议"}"#, index)
        return NewEvent(type: "MediationSessionHeld", actor: actor, metadata: metadata, payload: Array(payload.utf8))
    }

    static func streamID(_ index: Int) -> String { String(format: "case-2026-%06d", index % 100_000) }

    /// The event's own bytes: stream id, type, actor fields, metadata and payload.
    static var contentSize: Int {
        let e = event(0)
        return streamID(0).utf8.count + e.type.utf8.count + e.actor.userID.utf8.count + e.actor.role.utf8.count
            + e.actor.unit.utf8.count + e.metadata.count + e.payload.count
    }

    /// The stored record: content plus header (80), six u16 and two u32 lengths (20) and the chain hash (32).
    static var recordSize: Int { contentSize + 80 + 20 + 32 }

    static let events1 = [event(1)]
    static let events100 = (0..<100).map(event)
    static let events1000 = (0..<1000).map(event)
}

/// A store directory under the temporary folder, removed when the benchmark ends.
final class ScratchDirectory: Sendable {
    let path: String
    init(_ name: String) {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "caseledger-bench-\(name)-\(UUID().uuidString.prefix(8))"
            ).path
        kept = false
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    private let kept: Bool
    /// A directory the benchmarks keep (not removed).
    init(keeping path: String) {
        self.path = path
        kept = true
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() {
        if !kept { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// The baseline: LMDB's C API used directly, with the two databases CaseLedger's log keeps.
///
/// `@unchecked Sendable`: LMDB's environment handle is thread-safe; write transactions are serialised by LMDB.
final class RawLMDBStore: @unchecked Sendable {
    let env: OpaquePointer
    let events: MDB_dbi
    let streams: MDB_dbi
    let nextPosition = Atomic<UInt64>(1)
    /// The first failing LMDB call of an append, if any: a failed put or commit must not make the baseline look fast
    /// (``rawBenchmark`` fails the run on it).
    let failure = Mutex<String?>(nil)
    let value: [UInt8]

    init(path: String, readOnly: Bool = false) throws {
        var env: OpaquePointer?
        guard mdb_env_create(&env) == 0, let env else { throw BenchmarkFailure("mdb_env_create") }
        mdb_env_set_mapsize(env, 64 << 30)
        mdb_env_set_maxdbs(env, 8)
        let flags = UInt32(MDB_NOTLS) | (readOnly ? UInt32(MDB_RDONLY) : 0)
        guard mdb_env_open(env, path, flags, 0o640) == 0 else { throw BenchmarkFailure("mdb_env_open \(path)") }
        self.env = env
        var txn: OpaquePointer?
        guard mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn) == 0 else {
            mdb_env_close(env)
            throw BenchmarkFailure("mdb_txn_begin \(path)")
        }
        var events: MDB_dbi = 0
        var streams: MDB_dbi = 0
        let create = readOnly ? 0 : UInt32(MDB_CREATE)
        guard mdb_dbi_open(txn, "events", create, &events) == 0, mdb_dbi_open(txn, "streams", create, &streams) == 0
        else {
            mdb_txn_abort(txn)
            mdb_env_close(env)
            throw BenchmarkFailure("mdb_dbi_open")
        }
        guard mdb_txn_commit(txn) == 0 else {
            mdb_env_close(env)
            throw BenchmarkFailure("mdb_txn_commit \(path)")
        }
        self.events = events
        self.streams = streams
        value = [UInt8](repeating: 0x5a, count: Workload.recordSize)
    }

    deinit { mdb_env_close(env) }

    private func check(_ code: Int32, _ call: String) {
        guard code != 0 else { return }
        failure.withLock { $0 = $0 ?? "\(call): \(String(cString: mdb_strerror(code)))" }
    }

    /// One durable write transaction storing `count` events.
    func append(count: Int, stream: Int) {
        var txn: OpaquePointer?
        let begun = mdb_txn_begin(env, nil, 0, &txn)
        check(begun, "mdb_txn_begin")
        guard begun == 0 else { return }
        var streamKey = Array(Workload.streamID(stream).utf8) + [0] + [UInt8](repeating: 0, count: 8)
        let prefix = streamKey.count - 8
        value.withUnsafeBytes { value in
            for index in 0..<count {
                let position = nextPosition.wrappingAdd(1, ordering: .relaxed).oldValue
                withUnsafeBytes(of: (UInt64(index) + position).bigEndian) {
                    streamKey.replaceSubrange(prefix..., with: $0)
                }
                var positionKey = position.bigEndian
                withUnsafeMutableBytes(of: &positionKey) { positionBytes in
                    var key = MDB_val(mv_size: 8, mv_data: positionBytes.baseAddress)
                    var data = MDB_val(
                        mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
                    check(mdb_put(txn, events, &key, &data, UInt32(MDB_APPEND)), "mdb_put(events)")
                    streamKey.withUnsafeMutableBytes { streamBytes in
                        var indexKey = MDB_val(mv_size: streamBytes.count, mv_data: streamBytes.baseAddress)
                        var indexValue = MDB_val(mv_size: 8, mv_data: positionBytes.baseAddress)
                        check(mdb_put(txn, streams, &indexKey, &indexValue, 0), "mdb_put(streams)")
                    }
                }
            }
        }
        check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    /// A cursor walk over every event value, touching each value's bytes.
    func scan(touchingEveryLine: Bool = false) -> (count: Int, bytes: Int) {
        var txn: OpaquePointer?
        mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        mdb_cursor_open(txn, events, &cursor)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var data = MDB_val()
        var count = 0
        var bytes = 0
        var op = MDB_FIRST
        while mdb_cursor_get(cursor, &key, &data, op) == 0 {
            count += 1
            bytes += data.mv_size + Int(data.mv_data.load(as: UInt8.self))
            if touchingEveryLine {
                var offset = 64
                while offset < data.mv_size {
                    bytes &+= Int(data.mv_data.load(fromByteOffset: offset, as: UInt8.self))
                    offset += 64
                }
            }
            op = MDB_NEXT
        }
        return (count, bytes)
    }
}

/// Flushes every dirty page of the system before a write benchmark starts, so no benchmark pays for the writeback of
/// the one before it (they run one after another, always in the same order).
func settleDisk() {
    sync()
    usleep(1_000_000)
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The 1M-event store both scans read: written once by CaseLedger (relaxed bulk import), closed, then opened by
/// each scan benchmark on its own.
enum ScanStore {
    static let eventCount = 1_000_000
    private static let built = Mutex<ScratchDirectory?>(nil)

    static func path() async throws -> String {
        if let directory = built.withLock({ $0 }) { return directory.path }
        let directory = ScratchDirectory("scan")
        var configuration = LMDBEventLog.Configuration()
        configuration.durability = .relaxedForBulkImport
        configuration.initialMapSize = 1 << 30
        let log = try LMDBEventLog.open(at: directory.path + "/store", configuration: configuration)
        var written = 0
        while written < eventCount {
            let stream = written / 10
            _ = try await log.append(to: Workload.streamID(stream), events: Workload.events1000.prefix(10).map { $0 })
            written += 10
        }
        try log.sync()
        log.close()
        built.withLock { $0 = directory }
        return directory.path
    }

    static func remove() { built.withLock { $0?.remove() } }
}

/// Registers a benchmark over a fresh, durable CaseLedger log in a scratch directory (removed afterwards).
func logBenchmark(_ name: String, _ body: @escaping @Sendable (Benchmark, LMDBEventLog) async throws -> Void) {
    nonisolated(unsafe) var log: LMDBEventLog?
    nonisolated(unsafe) var directory: ScratchDirectory?
    Benchmark(
        name,
        configuration: .init(
            setup: {
                settleDisk()
                var configuration = LMDBEventLog.Configuration()
                configuration.initialMapSize = 1 << 30
                let scratch = ScratchDirectory(name)
                directory = scratch
                log = try LMDBEventLog.open(at: scratch.path + "/store", configuration: configuration)
            },
            teardown: {
                log?.close()
                log = nil
                directory?.remove()
            })
    ) { benchmark in
        guard let log else { throw BenchmarkFailure("no log") }
        try await body(benchmark, log)
    }
}

/// Registers a benchmark over a fresh raw LMDB store in a scratch directory (removed afterwards).
func rawBenchmark(_ name: String, _ body: @escaping @Sendable (Benchmark, RawLMDBStore) throws -> Void) {
    nonisolated(unsafe) var raw: RawLMDBStore?
    nonisolated(unsafe) var directory: ScratchDirectory?
    Benchmark(
        name,
        configuration: .init(
            setup: {
                settleDisk()
                let scratch = ScratchDirectory(name)
                directory = scratch
                raw = try RawLMDBStore(path: scratch.path)
            },
            teardown: {
                raw = nil
                directory?.remove()
            })
    ) { benchmark in
        guard let raw else { throw BenchmarkFailure("no store") }
        try body(benchmark, raw)
        if let failure = raw.failure.withLock({ $0 }) { throw BenchmarkFailure("raw LMDB failed: \(failure)") }
    }
}

/// Registers a scan benchmark over the shared 1M-event store, opened read-only by CaseLedger or by raw LMDB.
func scanBenchmark<Store>(
    _ name: String, open: @escaping @Sendable (String) throws -> Store, close: @escaping @Sendable (Store) -> Void,
    _ body: @escaping @Sendable (Store) throws -> Int
) {
    nonisolated(unsafe) var store: Store?
    Benchmark(
        name,
        configuration: .init(
            maxDuration: .seconds(20), maxIterations: 5,
            setup: { store = try open(try await ScanStore.path() + "/store") },
            teardown: {
                if let store { close(store) }
                store = nil
            })
    ) { benchmark in
        guard let store else { throw BenchmarkFailure("no store") }
        for _ in benchmark.scaledIterations {
            let count = try body(store)
            guard count == ScanStore.eventCount else { throw BenchmarkFailure("scanned \(count) events") }
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(4),
        maxIterations: 1000
    )
    Benchmark.teardown = {
        ScanStore.remove()
        CaseloadStore.remove()
    }

    // Durable appends, one call per iteration, then 64 concurrent single-event appenders.
    for (size, events) in [(1, Workload.events1), (100, Workload.events100), (1000, Workload.events1000)] {
        logBenchmark("Append.CaseLedger.durable.batch\(size)") { benchmark, log in
            for iteration in benchmark.scaledIterations {
                blackHole(try await log.append(to: Workload.streamID(iteration), events: events))
            }
        }
        rawBenchmark("Append.RawLMDB.durable.batch\(size)") { benchmark, raw in
            for iteration in benchmark.scaledIterations { raw.append(count: size, stream: iteration) }
        }
    }
    logBenchmark("Append.CaseLedger.durable.concurrent64x1") { benchmark, log in
        for _ in benchmark.scaledIterations {
            try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for appender in 0..<64 {
                    group.addTask { try await log.append(to: Workload.streamID(appender), events: Workload.events1) }
                }
                for try await result in group { blackHole(result) }
            }
        }
    }
    // The raw floor of the workflow benchmark's commits: with 64 clients and one command in flight each, its 576
    // events reach the log as 5 rounds of about 115 events (one group commit per round). This writes exactly that
    // with raw LMDB: 5 durable transactions of 115 events (575), no checks, no encoding, no task machinery.
    rawBenchmark("Append.RawLMDB.durable.rounds5x115") { benchmark, raw in
        for iteration in benchmark.scaledIterations {
            for round in 0..<5 { raw.append(count: 115, stream: iteration * 5 + round) }
        }
    }
    rawBenchmark("Append.RawLMDB.durable.concurrent64x1") { benchmark, raw in
        for _ in benchmark.scaledIterations {
            // 64 appenders (on as many threads as there are processors), each its own durable transaction: LMDB
            // serialises them, one commit per event.
            DispatchQueue.concurrentPerform(iterations: 64) { appender in raw.append(count: 1, stream: appender) }
        }
    }

    // End-to-end workflow commands from 64 concurrent clients (WorkflowBenchmarks.swift).
    registerWorkflowBenchmarks()
    registerWorkflowCPUBenchmarks()
    registerProjectionBenchmarks()
    registerWriteFloorBenchmark()

    // Full scans of 1M events.
    let openLog: @Sendable (String) throws -> LMDBEventLog = { try LMDBEventLog.open(at: $0, mode: .readOnly) }
    let closeLog: @Sendable (LMDBEventLog) -> Void = { $0.close() }
    scanBenchmark("Scan.CaseLedger.decode1M", open: openLog, close: closeLog) { log in
        // RecordedEvent values from batched reads (copies), touching what a consumer reads.
        var next: UInt64 = 1
        var count = 0
        var bytes = 0
        while true {
            let batch = try log.read(from: next, direction: .forwards, limit: 1024)
            guard let last = batch.last else { break }
            for event in batch { bytes += event.payload.count + event.streamID.utf8.count + event.type.utf8.count }
            count += batch.count
            next = last.position + 1
        }
        blackHole(bytes)
        return count
    }
    scanBenchmark("Scan.CaseLedger.view1M", open: openLog, close: closeLog) { log in
        // Zero-copy EventViews in the memory map: stream id and payload bytes, type compared in place.
        var bytes = 0
        var sessions = 0
        let count = try log.forEachEvent(from: 1) { event in
            bytes += event.withStreamIDBytes { $0.count } + event.withPayload { $0.count }
            if event.typeIs("MediationSessionHeld") { sessions += 1 }
            return true
        }
        guard sessions == count else { throw BenchmarkFailure("decoded \(sessions) types of \(count)") }
        blackHole(bytes)
        return count
    }
    let openRaw: @Sendable (String) throws -> RawLMDBStore = { try RawLMDBStore(path: $0, readOnly: true) }
    scanBenchmark("Scan.RawLMDB.cursor1M", open: openRaw, close: { _ in }) { raw in
        let (count, bytes) = raw.scan()
        blackHole(bytes)
        return count
    }
    // A reference, not a target: the same walk reading one byte of every 64-byte line of every record, i.e. the
    // memory traffic a decoder that looks at a whole record must pay.
    scanBenchmark("Scan.RawLMDB.cursorEveryLine1M", open: openRaw, close: { _ in }) { raw in
        let (count, bytes) = raw.scan(touchingEveryLine: true)
        blackHole(bytes)
        return count
    }
}
