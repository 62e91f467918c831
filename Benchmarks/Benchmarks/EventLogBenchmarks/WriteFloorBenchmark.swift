import Benchmark
import CBenchLMDB
import CaseLedgerLog
import CaseLedgerProjections
import Foundation
import Logging

/// The rows of the six built-in views of the ~1M-event caseload store, copied out of its active generation: what a
/// rebuild of all views writes, table by table, in key order.
struct ViewRows {
    struct Table {
        var name: String
        var bytes: [UInt8] = []
        /// Per row: where its key starts, the key's length, then the value's length (the value follows the key).
        var rows: [(start: Int, key: Int, value: Int)] = []
    }
    var tables: [Table] = []
    /// The events in the store the rows were read from.
    var events = 0
    var count: Int { tables.reduce(0) { $0 + $1.rows.count } }

    /// Brings the store's views to its head (filling them in bulk when they are empty), then reads every row of
    /// their active generations with LMDB's C API.
    static func load(store path: String) throws -> ViewRows {
        var configuration = LMDBEventLog.Configuration()
        configuration.durability = .relaxedForBulkImport
        let log = try LMDBEventLog.open(at: path, configuration: configuration)
        let runtime = try ProjectionRuntime(log: log, projections: try allViews(), logger: Logger(label: "benchmark"))
        _ = try runtime.catchUp()
        let head = try log.head().position
        guard try runtime.status().allSatisfy({ $0.checkpoint == head && $0.failedAt == nil }) else {
            throw BenchmarkFailure("the caseload's views did not reach the head")
        }
        runtime.shutdown()
        log.close()

        var env: OpaquePointer?
        guard mdb_env_create(&env) == 0, let env else { throw BenchmarkFailure("mdb_env_create") }
        defer { mdb_env_close(env) }
        mdb_env_set_maxdbs(env, 256)
        guard mdb_env_open(env, path, UInt32(MDB_RDONLY | MDB_NOTLS), 0o640) == 0 else {
            throw BenchmarkFailure("mdb_env_open \(path)")
        }
        var txn: OpaquePointer?
        guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0 else { throw BenchmarkFailure("mdb_txn_begin") }
        defer { mdb_txn_abort(txn) }
        func each(_ dbi: MDB_dbi, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
            var cursor: OpaquePointer?
            guard mdb_cursor_open(txn, dbi, &cursor) == 0 else { return }
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val()
            var data = MDB_val()
            var op = MDB_FIRST
            while mdb_cursor_get(cursor, &key, &data, op) == 0 {
                body(
                    UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
                    UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
                op = MDB_NEXT
            }
        }
        // The views' tables are named `v.<view>.<generation>.<table>`; only the newest generation is active.
        var main: MDB_dbi = 0
        guard mdb_dbi_open(txn, nil, 0, &main) == 0 else { throw BenchmarkFailure("mdb_dbi_open main") }
        var newest: [String: (generation: Int, names: [String])] = [:]
        each(main) { key, _ in
            let parts = String(decoding: key, as: UTF8.self).split(separator: ".").map(String.init)
            guard parts.count == 4, parts[0] == "v", let generation = Int(parts[2]) else { return }
            let name = parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3]
            if let kept = newest[parts[1]], kept.generation > generation { return }
            if newest[parts[1]]?.generation == generation {
                newest[parts[1]]?.names.append(name)
            } else {
                newest[parts[1]] = (generation, [name])
            }
        }
        guard newest.count == 6 else { throw BenchmarkFailure("found the tables of \(newest.count) views, not 6") }
        var rows = ViewRows()
        rows.events = Int(head)
        for name in newest.values.flatMap(\.names).sorted() {
            var dbi: MDB_dbi = 0
            guard mdb_dbi_open(txn, name, 0, &dbi) == 0 else { throw BenchmarkFailure("mdb_dbi_open \(name)") }
            var table = Table(name: name)
            each(dbi) { key, value in
                table.rows.append((table.bytes.count, key.count, value.count))
                table.bytes.append(contentsOf: key)
                table.bytes.append(contentsOf: value)
            }
            rows.tables.append(table)
        }
        return rows
    }
}

/// Writes `rows` into fresh tables of an LMDB environment at `path` as a rebuild does: appended in key order
/// (`MDB_APPEND`), in write transactions of at most 16,384 rows of one table, each flushed on commit (the rebuild
/// benchmark's log is opened durably, as `caseledger views rebuild` opens it). Returns the rows written.
func appendRows(_ rows: ViewRows, env: OpaquePointer) throws -> Int {
    var written = 0
    for table in rows.tables {
        var start = 0
        while start < table.rows.count {
            var txn: OpaquePointer?
            guard mdb_txn_begin(env, nil, 0, &txn) == 0 else { throw BenchmarkFailure("mdb_txn_begin") }
            var dbi: MDB_dbi = 0
            guard mdb_dbi_open(txn, table.name, UInt32(MDB_CREATE), &dbi) == 0 else {
                mdb_txn_abort(txn)
                throw BenchmarkFailure("mdb_dbi_open \(table.name)")
            }
            let end = min(table.rows.count, start + 16_384)
            let failed = table.bytes.withUnsafeBytes { bytes -> Int32 in
                guard let base = bytes.baseAddress else { return MDB_BAD_VALSIZE }
                for (offset, keyCount, valueCount) in table.rows[start..<end] {
                    var key = MDB_val(mv_size: keyCount, mv_data: UnsafeMutableRawPointer(mutating: base + offset))
                    var value = MDB_val(
                        mv_size: valueCount, mv_data: UnsafeMutableRawPointer(mutating: base + offset + keyCount))
                    let code = mdb_put(txn, dbi, &key, &value, UInt32(MDB_APPEND))
                    if code != 0 { return code }
                }
                return 0
            }
            guard failed == 0, mdb_txn_commit(txn) == 0 else {
                if failed != 0 { mdb_txn_abort(txn) }
                throw BenchmarkFailure("writing \(table.name) failed: \(String(cString: mdb_strerror(failed)))")
            }
            written += end - start
            start = end
        }
    }
    return written
}

/// The least a rebuild of all six views can spend writing: the caseload's view rows appended with LMDB's C API into
/// an empty environment, with no computing, encoding or checks. Its rate in `report.py` is per event of the log, so
/// it compares with the rebuild's and the raw scan's directly.
func registerWriteFloorBenchmark() {
    nonisolated(unsafe) var rows = ViewRows()
    Benchmark(
        "Write.RawLMDB.viewRowsCaseload1M",
        configuration: .init(
            metrics: [.wallClock, .throughput] + storeEventMetrics, maxDuration: .seconds(60), maxIterations: 5,
            setup: { rows = try ViewRows.load(store: try await CaseloadStore.path() + "/store") },
            teardown: { rows = ViewRows() })
    ) { benchmark in
        guard rows.count > 0 else { throw BenchmarkFailure("no view rows") }
        for _ in benchmark.scaledIterations {
            let directory = ScratchDirectory("view-rows")
            defer { directory.remove() }
            var env: OpaquePointer?
            guard mdb_env_create(&env) == 0, let env else { throw BenchmarkFailure("mdb_env_create") }
            defer { mdb_env_close(env) }
            mdb_env_set_mapsize(env, 4 << 30)
            mdb_env_set_maxdbs(env, 64)
            guard mdb_env_open(env, directory.path, UInt32(MDB_NOTLS), 0o640) == 0 else {
                throw BenchmarkFailure("mdb_env_open \(directory.path)")
            }
            benchmark.startMeasurement()
            let written = try appendRows(rows, env: env)
            benchmark.stopMeasurement()
            guard written == rows.count else { throw BenchmarkFailure("wrote \(written) of \(rows.count) rows") }
            recordStoreEvents(benchmark, rows.events)
        }
    }
}
