import CaseLedgerLMDB
import CaseLedgerLog
import Foundation
import Logging

/// Compares a bulk pass's rows with the stored tables of the views, writing nothing: the consistency check of a
/// read-only store. Each round's rows (the cases of some partitions) are compared, in key order, with the stored rows
/// of the same cases: a stored row belongs to the partition of the case id in its key. The monthly counters (summed
/// over every case) are compared at the end with the whole `months` table.
struct BulkTableComparer: BulkRowSink {
    let runtime: ProjectionRuntime
    /// The views compared, and the state each must keep while the check reads (a store written meanwhile moves them).
    let states: [(name: String, state: ProjectionRuntime.State)]
    /// The first difference found in each table, by table name.
    private(set) var differences: [String: String] = [:]
    /// The stored rows compared, by table name.
    private(set) var compared: [String: Int] = [:]

    init(runtime: ProjectionRuntime, states: [(name: String, state: ProjectionRuntime.State)]) {
        self.runtime = runtime
        self.states = states
    }

    /// The rounds taken since the pass started (again).
    private var rounds = 0

    mutating func startAgain() throws {
        differences = [:]
        compared = [:]
        rounds = 0
    }

    mutating func take(
        _ runs: [[RowRun]], of group: [CasePartition], _ targets: BulkTargets,
        timing: inout ProjectionRuntime.ChunkTiming
    ) throws -> Int {
        var taken = 0
        let first = rounds == 0
        rounds += 1
        for table in BulkTargets.Table.allCases {
            guard let database = targets[table] else { continue }
            let tableRuns = runs.compactMap { $0.indices.contains(table.rawValue) ? $0[table.rawValue] : nil }
            taken += tableRuns.reduce(0) { $0 + $1.rows.count }
            let name = "\(table)"
            guard differences[name] == nil else { continue }
            let order = RowRun.merged(tableRuns)
            try compare(name, database, order.count) { index, body in
                let (run, row) = order[index]
                try tableRuns[Int(run)].withRow(Int(row), body)
            } including: { key in
                // A key whose case id cannot be read is compared in the first round, where it is extra.
                guard let id = Self.caseID(in: key, of: table) else { return first }
                let hash = ByteInterner.quickHash(id)
                return group.contains { $0.contains(hash) }
            }
        }
        return taken
    }

    mutating func takeMonths(_ run: RowRun, _ database: Database, timing: inout ProjectionRuntime.ChunkTiming) throws
        -> Int
    {
        try compare("months", database, run.rows.count) { index, body in
            try run.withRow(index, body)
        } including: {
            _ in
            true
        }
        return run.rows.count
    }

    /// The first stored table of each view (in name order) that differs names the view's difference.
    func report(_ name: String, _ tables: [String], at position: UInt64) -> ProjectionRuntime.ConsistencyReport {
        var report = ProjectionRuntime.ConsistencyReport(
            projection: name, position: position, rowsCompared: 0, firstDifference: nil)
        for table in tables.sorted() {
            report.rowsCompared += compared[table] ?? 0
            if report.firstDifference == nil, let difference = differences[table] {
                report.firstDifference = difference
            }
        }
        return report
    }

    /// Walks the stored rows of `database` that `including` accepts, in key order, beside the `count` computed rows
    /// that `row` hands out in key order, and records the first difference
    /// (``ProjectionRuntime/firstDifference(_:stored:including:count:expected:)``).
    private mutating func compare(
        _ table: String, _ database: Database, _ count: Int,
        _ row: (Int, (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Void,
        including: (UnsafeRawBufferPointer) -> Bool
    ) throws {
        let states = states
        let meta = runtime.meta
        var difference: String?
        var rows = 0
        try runtime.log.readViews { txn in
            // The views must still be where the pass computed them to.
            for (name, state) in states {
                guard let current = try ProjectionRuntime.loadState(name, meta, txn),
                    current.generation == state.generation, current.checkpoint == state.checkpoint
                else {
                    throw ProjectionError(
                        .storage,
                        "'\(name)' moved while it was checked without writing (the store is being written); check a "
                            + "copy made with `caseledger backup`, or open the store read-write", projection: name)
                }
            }
            difference = try txn.withCursor(database) { stored in
                try ProjectionRuntime.firstDifference(table, stored: stored, including: including, count: &rows) {
                    index, body in
                    guard index < count else { return false }
                    try withoutActuallyEscaping(body) { body in try row(index, body) }
                    return true
                }
            }
        }
        compared[table, default: 0] += rows
        if let difference { differences[table] = difference }
    }

    /// The case id in a stored key of `table`, as the bulk path writes it (see `BulkPartition.rows`).
    static func caseID(in key: UnsafeRawBufferPointer, of table: BulkTargets.Table) -> UnsafeRawBufferPointer? {
        func after(_ start: Int) -> UnsafeRawBufferPointer? {
            key.count > start ? UnsafeRawBufferPointer(rebasing: key[start...]) : nil
        }
        switch table {
        case .cases, .caseMeta, .byCase, .casePeople:
            return key
        case .open:
            return after(HeaderSpan.division.count)  // the division's digits, then the id
        case .parties:
            return after(32)  // the keyed hash, then the id
        case .due:
            // The due instant, the id, a zero byte and the clock's name.
            guard let rest = after(8), let zero = rest.firstIndex(of: 0) else { return nil }
            return UnsafeRawBufferPointer(rebasing: rest[..<zero])
        case .byPerson, .byUnit:
            // The person's or unit's name, a zero byte and the id.
            guard let zero = key.firstIndex(of: 0) else { return nil }
            return after(zero + 1)
        }
    }
}

extension ProjectionRuntime {
    /// Checks the built-in views `names` on a log open read-only: a bulk pass over the log to each view's checkpoint,
    /// whose rows are compared with the stored tables instead of being written to scratch ones. Views at different
    /// checkpoints take a pass each.
    func checkWithoutWriting(_ names: [String]) throws(ProjectionError) -> [ConsistencyReport] {
        var states: [(name: String, state: State)] = []
        for name in names {
            guard let entry = entries[name], let state = try loadState(name) else {
                throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
            }
            try requireRegisteredVersion(name, state)
            guard BulkTargets.View(entry.projection) != nil, upcasters.isEmpty else {
                throw ProjectionError(
                    .storage,
                    "'\(name)' can be checked on a read-only log only if it is a built-in view and no upcasters are "
                        + "registered; check a writable copy", projection: name)
            }
            states.append((name, state))
        }
        var reports: [String: ConsistencyReport] = [:]
        for group in Dictionary(grouping: states, by: \.state.checkpoint).sorted(by: { $0.key < $1.key }) {
            let position = group.key
            var active: [String: [String: Database]] = [:]
            for (name, state) in group.value {
                active[name] = try tables(name, generation: state.generation, fresh: false)
            }
            var comparer = BulkTableComparer(runtime: self, states: group.value)
            var timing = ChunkTiming()
            do {
                if position > 0 {
                    guard
                        try bulkPass(
                            group.value.map(\.name), upTo: position, tables: active, into: &comparer, timing: &timing)
                            != nil
                    else {
                        throw ProjectionError(
                            .unreadableEvent,
                            "the views cannot be checked without writing: the bulk path does not read this log (the "
                                + "log says why); check a writable copy")
                    }
                } else {
                    // Nothing applied yet: every table must be empty.
                    for (name, _) in group.value {
                        for (table, database) in (active[name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                            try comparer.compareEmpty(table, database)
                        }
                    }
                }
            } catch let error as ProjectionError {
                throw error
            } catch {
                throw ProjectionError(.storage, "checking without writing failed: \(error)")
            }
            for (name, _) in group.value {
                reports[name] = comparer.report(name, entries[name]?.projection.tables ?? [], at: position)
            }
        }
        return names.compactMap { reports[$0] }
    }
}

extension BulkTableComparer {
    /// Compares a stored table with no rows at all.
    mutating func compareEmpty(_ table: String, _ database: Database) throws {
        try compare(table, database, 0) { _, _ in
        } including: { _ in
            true
        }
    }
}
