import CaseLedgerLMDB
import CaseLedgerLog
import Foundation
import Logging

/// Compares a bulk pass's rows with the stored tables of the views, writing nothing: the consistency check of a
/// read-only store. Each table's rows, all cases in key order, are compared with the stored rows as they come.
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

    mutating func startAgain() throws {
        differences = [:]
        compared = [:]
    }

    mutating func take(
        _ name: String, _ database: Database, _ rows: inout some RowStream,
        timing: inout ProjectionRuntime.ChunkTiming
    ) throws -> Int {
        var taken = 0
        try compare(name, database) { body in
            let found = try rows.next(body)
            if found { taken += 1 }
            return found
        }
        return taken
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

    /// Walks the stored rows of `database` in key order beside the computed rows, which `next` hands out in key order
    /// (calling its body with the next row, or returning `false` past the last), and records the first difference
    /// (``ProjectionRuntime/firstDifference(_:stored:including:count:expected:)``).
    private mutating func compare(
        _ table: String, _ database: Database,
        _ next: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Bool
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
                // Each computed row is asked for once, in order (the index only counts them).
                try ProjectionRuntime.firstDifference(table, stored: stored, including: { _ in true }, count: &rows) {
                    _, body in try withoutActuallyEscaping(body) { body in try next(body) }
                }
            }
        }
        compared[table, default: 0] += rows
        if let difference { differences[table] = difference }
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
        try compare(table, database) { _ in false }
    }
}
