import CaseLedgerLMDB
import CaseLedgerLog
import Synchronization

extension ProjectionRuntime {
    /// Rebuilds a projection from position 1 into a new generation while the current one keeps serving reads, then
    /// swaps it in atomically and drops the old generation. Memory stays bounded by ``chunkSize``: the log is
    /// streamed in place, one chunk per transaction.
    ///
    /// - Throws: ``ProjectionError``: `failed` when the projection throws at an event (the old generation stays
    ///   active and untouched).
    public func rebuild(_ name: String) throws(ProjectionError) {
        guard let start = try loadState(name) else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        let next = start.generation + 1
        let fresh = try tables(name, generation: next, fresh: true)
        var built = try build(name, into: fresh, upTo: nil)
        let old = try tables(name, generation: start.generation, fresh: false)
        // The swap: the last events, the state flip and the old generation's drop in one transaction.
        do {
            try log.writeViews { txn in
                guard var state = try Self.loadState(name, meta, txn), state.generation == start.generation else {
                    throw ProjectionError(.storage, "another rebuild of '\(name)' swapped first", projection: name)
                }
                let head = try log.head().position
                if head > built {
                    try apply(name, positions: (built + 1)...head, tables: fresh, in: txn)
                    built = head
                }
                state = State(version: state.version, generation: next, checkpoint: built)
                try Self.saveState(name, state, meta, txn)
                for database in old.values { try txn.drop(database) }
            }
        } catch let stopped as Stopped {
            throw ProjectionError(
                .failed, "the rebuild stopped: \(stopped.error)", projection: name, position: stopped.position)
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw ProjectionError(.storage, "swapping in the rebuilt view failed: \(error)", projection: name)
        }
        forget(name, generation: start.generation)
        reportLag(name)
    }

    /// Applies events from position 1 to `head` (the log's head when `nil`) into `tables`, chunk by chunk.
    /// Returns the last position applied.
    func build(_ name: String, into tables: [String: Database], upTo limit: UInt64?) throws(ProjectionError) -> UInt64 {
        var done: UInt64 = 0
        while true {
            let head: UInt64
            do { head = try limit ?? log.head().position } catch {
                throw ProjectionError(.storage, "reading the head failed: \(error)", projection: name)
            }
            guard done < head else { return done }
            let range = (done + 1)...min(head, done + UInt64(chunkSize))
            do {
                try log.writeViews { txn in try apply(name, positions: range, tables: tables, in: txn) }
            } catch let stopped as Stopped {
                throw ProjectionError(
                    .failed, "the rebuild stopped: \(stopped.error)", projection: name, position: stopped.position)
            } catch {
                throw ProjectionError(.storage, "rebuilding failed: \(error)", projection: name)
            }
            done = range.upperBound
        }
    }

    func forget(_ name: String, generation: Int) {
        guard let entry = entries[name] else { return }
        handles.withLock { open in
            for table in entry.projection.tables { open[Self.tableName(name, generation, table)] = nil }
        }
    }

    /// What a consistency check found.
    public struct ConsistencyReport: Sendable, Hashable {
        public var projection: String
        /// The position both sides were computed to.
        public var position: UInt64
        public var rowsCompared: Int
        /// The first difference: table, key (hex) and what each side holds; `nil` when the view is exact.
        public var firstDifference: String?
        public var isConsistent: Bool { firstDifference == nil }
    }

    /// Recomputes a projection from the log into a scratch generation and compares it, row by row, with the active
    /// one at the same position; reports the first difference. Appends are held for the comparison only.
    public func check(_ name: String) throws(ProjectionError) -> ConsistencyReport {
        guard let entry = entries[name], let state = try loadState(name) else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        let scratch = -state.generation  // never an active generation
        let fresh = try tables(name, generation: scratch, fresh: true)
        let upTo = state.checkpoint
        _ = try build(name, into: fresh, upTo: upTo)
        let active = try tables(name, generation: state.generation, fresh: false)
        var report = ConsistencyReport(projection: name, position: upTo, rowsCompared: 0, firstDifference: nil)
        do {
            try log.writeViews { txn in
                // Appends wait while this runs: bring the scratch copy to the view's current position, then compare.
                guard let current = try Self.loadState(name, meta, txn), current.generation == state.generation else {
                    throw ProjectionError(
                        .storage, "'\(name)' was rebuilt during the check; check again", projection: name)
                }
                if current.checkpoint > upTo {
                    try apply(name, positions: (upTo + 1)...current.checkpoint, tables: fresh, in: txn)
                }
                report.position = current.checkpoint
                for table in entry.projection.tables.sorted() {
                    guard let mine = active[table], let theirs = fresh[table] else { continue }
                    var expected: [([UInt8], [UInt8])] = []
                    try ViewReader.walk(txn, theirs, from: []) { key, value in
                        expected.append((key, value))
                        return true
                    }
                    var index = 0
                    try ViewReader.walk(txn, mine, from: []) { key, value in
                        defer { index += 1 }
                        report.rowsCompared += 1
                        guard index < expected.count else {
                            report.firstDifference = "\(table): extra row \(hex(key)) in the view"
                            return false
                        }
                        let (eKey, eValue) = expected[index]
                        if eKey != key {
                            report.firstDifference =
                                "\(table): the view has row \(hex(key)) where the log gives \(hex(eKey))"
                            return false
                        }
                        if eValue != value {
                            report.firstDifference =
                                "\(table): row \(hex(key)) holds \(hex(value)); the log gives \(hex(eValue))"
                            return false
                        }
                        return true
                    }
                    if report.firstDifference == nil, index < expected.count {
                        report.firstDifference = "\(table): row \(hex(expected[index].0)) is missing from the view"
                    }
                    if report.firstDifference != nil { break }
                }
                for database in fresh.values { try txn.drop(database) }
            }
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw ProjectionError(.storage, "comparing failed: \(error)", projection: name)
        }
        forget(name, generation: scratch)
        return report
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes.prefix(64) {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self) + (bytes.count > 64 ? "…" : "")
}

extension ProjectionRuntime {
    /// The log's own verification (hash chain, sequences, index) and a consistency check of every view.
    public struct FullReport: Sendable {
        public var log: VerificationReport
        public var views: [ConsistencyReport]
        public var isValid: Bool { log.isValid && views.allSatisfy(\.isConsistent) }
    }

    /// Verifies the log, then checks every view against it (what `verify` with views does).
    public func verify() throws(ProjectionError) -> FullReport {
        let report: VerificationReport
        do {
            report = try log.verify()
        } catch {
            throw ProjectionError(.storage, "verifying the log failed: \(error)")
        }
        var views: [ConsistencyReport] = []
        for name in order { views.append(try check(name)) }
        return FullReport(log: report, views: views)
    }
}

extension ProjectionRuntime {
    /// Rebuilds every projection in one pass over the log (each chunk of events is applied to all new generations
    /// in one transaction), then swaps them all in at once. Memory stays bounded by ``chunkSize``.
    public func rebuildAll() throws(ProjectionError) {
        var starts: [String: State] = [:]
        var fresh: [String: [String: Database]] = [:]
        var old: [String: [String: Database]] = [:]
        for name in order {
            guard let state = try loadState(name) else { continue }
            starts[name] = state
            fresh[name] = try tables(name, generation: state.generation + 1, fresh: true)
            old[name] = try tables(name, generation: state.generation, fresh: false)
        }
        var done: UInt64 = 0
        do {
            while true {
                let head = try log.head().position
                guard done < head else { break }
                let range = (done + 1)...min(head, done + UInt64(chunkSize))
                try log.writeViews { txn in
                    for name in order {
                        if let tables = fresh[name] { try apply(name, positions: range, tables: tables, in: txn) }
                    }
                }
                done = range.upperBound
            }
            try log.writeViews { txn in
                let head = try log.head().position
                for name in order {
                    guard let start = starts[name], let tables = fresh[name],
                        let current = try Self.loadState(name, meta, txn), current.generation == start.generation
                    else {
                        throw ProjectionError(.storage, "another rebuild of '\(name)' swapped first", projection: name)
                    }
                    if head > done { try apply(name, positions: (done + 1)...head, tables: tables, in: txn) }
                    try Self.saveState(
                        name, State(version: current.version, generation: start.generation + 1, checkpoint: head), meta,
                        txn)
                    for database in (old[name] ?? [:]).values { try txn.drop(database) }
                }
            }
        } catch let stopped as Stopped {
            throw ProjectionError(.failed, "the rebuild stopped: \(stopped.error)", position: stopped.position)
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw ProjectionError(.storage, "rebuilding failed: \(error)")
        }
        for (name, state) in starts { forget(name, generation: state.generation) }
        for name in order { reportLag(name) }
    }
}
