import CaseLedgerLMDB
import CaseLedgerLog
import CaseLedgerWorkflow
import Dispatch
import Foundation
import Logging
import Synchronization

extension ProjectionRuntime {
    /// Rebuilds a projection from position 1 into a new generation while the current one keeps serving reads, then
    /// swaps it in atomically and drops the old generation. One rebuild or check per projection runs at a time.
    ///
    /// Built-in views are rebuilt in bulk when no upcasters are registered: each case is kept in memory from its first
    /// event to its last and every row is written once, with memory bounded by partitions of cases (see the bulk
    /// path in `Docs/Projections.md`). Other projections, and the built-in ones when the bulk path meets an event it
    /// does not read, are rebuilt event by event: the log is streamed in place, ``chunkSize`` events at a time, with
    /// memory bounded by the chunk.
    ///
    /// - Throws: ``ProjectionError``: `failed` when the projection throws at an event (the old generation stays
    ///   active and untouched).
    public func rebuild(_ name: String) throws(ProjectionError) {
        try rebuild([name])
    }

    /// Rebuilds every projection in one pass over the log (each event is read once for all of them), then swaps them
    /// all in at once.
    public func rebuildAll() throws(ProjectionError) {
        try rebuild(order)
    }

    /// Fills the built-in views that start from nothing (checkpoint 0: deployed on a store that already holds
    /// events, or switched to a new version) by one bulk rebuild of them all, when the log holds at least
    /// ``bulkFillMinimum`` events: a new generation is built beside the empty one and swapped in, so the views go from
    /// empty to the head at once. While another process or runtime holds a view's maintenance lock (filling the same
    /// views, most likely), it waits for it, up to ``versionSwitchWait``. Returns the events applied (summed over the
    /// views this call filled), 0 when there was nothing to fill, another filled them meanwhile, the lock stayed
    /// held, or the bulk path does not read the log (an event it leaves to the event-by-event path, or one the views
    /// stop at): catching up event by event then does the work, committing chunk by chunk, and records a view's
    /// failure at its event.
    func fillInBulk() -> Int {
        guard log.accessMode == .readWrite, let head = try? log.head().position, head >= max(1, bulkFillMinimum)
        else { return 0 }
        func empty() -> [String] {
            order.filter { name in (try? loadState(name)).flatMap { $0 }.map { isEmpty(name, $0) } ?? false }
        }
        let first = empty()
        guard !first.isEmpty, inSnapshots(first) else { return 0 }
        logger.info(
            "views start from nothing on a long log; filling them in bulk",
            metadata: ["projections": "\(first.joined(separator: ","))", "events": "\(head)"])
        var filled: [String] = []
        do {
            // Another process (or runtime) that holds a view's maintenance lock is most likely filling the same
            // views, after the same upgrade: wait for it (as a version switch does) rather than catch up beside it,
            // then fill what is still empty.
            try waitingWhileBusy(for: versionSwitchWait) { () throws(ProjectionError) in
                let names = empty()
                guard !names.isEmpty else { return }
                beforeFillLocks.withLock { $0 }?()
                // Bulk or nothing: a rebuild event by event would be no faster than catching up, and would lose all
                // its work to a crash, where catching up keeps each chunk it commits.
                // Empty once the locks are held: another runtime may have filled them since this look.
                filled = try rebuild(names, bulkOnly: true, onlyEmpty: true)
            }
        } catch {
            logger.notice(
                "filling views in bulk did not finish; they catch up event by event",
                metadata: ["projections": "\(first.joined(separator: ","))", "error": "\(error)"])
            return 0
        }
        return filled.reduce(0) { sum, name in sum + Int((try? loadState(name))?.checkpoint ?? 0) }
    }

    /// `bulkOnly`: fails with `unreadableEvent`, leaving the views as they are, when the bulk path does not read
    /// the log, instead of rebuilding event by event.
    ///
    /// `onlyEmpty`: of `requested`, rebuilds only the views still empty once their locks are held (a fill: another
    /// runtime may have filled them between the caller's look and the locks). Returns the views rebuilt.
    @discardableResult
    private func rebuild(_ requested: [String], bulkOnly: Bool = false, onlyEmpty: Bool = false)
        throws(ProjectionError) -> [String]
    {
        try exclusively(requested) { () throws(ProjectionError) -> [String] in
            var names: [String] = []
            var starts: [String: State] = [:]
            var fresh: [String: [String: Database]] = [:]
            var old: [String: [String: Database]] = [:]
            for name in requested {
                guard let state = try loadState(name) else {
                    throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
                }
                if onlyEmpty, !isEmpty(name, state) { continue }
                names.append(name)
                try requireRegisteredVersion(name, state)
                starts[name] = state
                fresh[name] = try tables(name, generation: state.generation + 1, fresh: true)
                old[name] = try tables(name, generation: state.generation, fresh: false)
            }
            guard !names.isEmpty else { return [] }
            var built: UInt64 = 0
            var timing = ChunkTiming()
            do {
                built = try applyChunks(names, after: 0, upTo: nil, tables: fresh, bulkOnly: bulkOnly, timing: &timing)
                logger.info(
                    "rebuilt to the head; swapping in",
                    metadata: [
                        "projections": "\(names.joined(separator: ","))", "events": "\(built)",
                        "chunks": "\(timing.chunks)", "threads": "\(timing.threads)",
                        "writeTransactions": "\(timing.transactions)",
                        "computing": "\(timing.computing)", "writing": "\(timing.writing)",
                        "longestWrite": "\(timing.longestWrite)",
                    ])
                let done = built
                // The swap: every guard and the last events first, then the new states. The old generations are
                // dropped after it, once the queries that still read them end.
                try log.writeViews { txn in
                    let head = try log.head(in: txn).position
                    for name in names {
                        guard let start = starts[name], let current = try Self.loadState(name, meta, txn),
                            current.generation == start.generation
                        else {
                            throw ProjectionError(
                                .storage, "another rebuild of '\(name)' swapped first", projection: name)
                        }
                        if head > done, let tables = fresh[name] {
                            try apply(name, positions: (done + 1)...head, tables: tables, in: txn)
                        }
                    }
                    for name in names {
                        guard let start = starts[name] else { continue }
                        try Self.saveState(
                            name, State(version: start.version, generation: start.generation + 1, checkpoint: head),
                            meta, txn)
                    }
                }
            } catch let stopped as Stopped {
                discardNewGenerations(starts, fresh)
                throw ProjectionError(
                    .failed, "the rebuild stopped: '\(stopped.projection)' threw \(stopped.error)",
                    projection: stopped.projection, position: stopped.position)
            } catch let error as ProjectionError {
                discardNewGenerations(starts, fresh)
                throw error
            } catch {
                discardNewGenerations(starts, fresh)
                throw ProjectionError(.storage, "rebuilding failed: \(error)")
            }
            for (name, state) in starts { retire(name, generation: state.generation, tables: old[name] ?? [:]) }
            for name in names { reportLag(name) }
            return names
        }
    }

    /// Whether a built-in view starts from nothing and can be filled in bulk: at checkpoint 0, not failed, at the
    /// registered version.
    private func isEmpty(_ name: String, _ state: State) -> Bool {
        guard let entry = entries[name], BulkTargets.View(entry.projection) != nil else { return false }
        return state.checkpoint == 0 && state.failedAt == nil && state.version == entry.projection.version
    }

    /// Drops the tables a failed rebuild wrote into the next generations, so that a failure (a full disk, a view that
    /// stops) does not leave partial copies of the views taking space until the next rebuild. Runs under the
    /// rebuild's maintenance locks, so nothing else builds those generations; a view whose generation moved anyway is
    /// left alone. A failure to drop is logged: the next rebuild empties the tables.
    private func discardNewGenerations(_ starts: [String: State], _ fresh: [String: [String: Database]]) {
        for (name, start) in starts {
            guard let tables = fresh[name], (try? loadState(name))?.generation == start.generation else { continue }
            do {
                try log.writeViews { txn in for database in tables.values { try txn.drop(named: database.name) } }
                forget(name, generation: start.generation + 1)
            } catch {
                logger.warning(
                    "dropping a failed rebuild's tables failed; the next rebuild empties them",
                    metadata: ["projection": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Applies events from position 1 to `limit` into the `tables` of `names`, in one pass over the log (in bulk when
    /// the bulk path serves them). Returns the last position applied.
    func build(_ names: [String], into tables: [String: [String: Database]], upTo limit: UInt64) throws(ProjectionError)
        -> UInt64
    {
        var timing = ChunkTiming()
        do {
            return try applyChunks(names, after: 0, upTo: limit, tables: tables, timing: &timing)
        } catch let stopped as Stopped {
            throw ProjectionError(
                .failed, "the rebuild stopped: \(stopped.error)", projection: stopped.projection,
                position: stopped.position)
        } catch {
            throw ProjectionError(
                .storage, "rebuilding failed: \(error)", projection: names.count == 1 ? names.first : nil)
        }
    }

    /// Applies the events after position `start` to the new generations' `tables` of `names`, one chunk
    /// (``chunkSize`` events) at a time, up to `limit` or else the log's head (read again after each chunk), and
    /// commits their rows. Returns the last position applied.
    ///
    /// Built-in views are computed in read snapshots, split across up to ``rebuildThreads`` threads: each scans the
    /// chunk, applies its share of the views into its own ``RowBuffer`` and seals what it changed into a
    /// ``ChunkRows``. Meanwhile another thread writes the previous chunk's rows, so the log's write lock is held only
    /// for writing and appends never wait for the computing. A chunk reads the rows the previous chunk changed from its
    /// ``ChunkRows``, and every other row from its snapshot, which holds every chunk before the previous one (committed
    /// before the chunk starts). This is sound
    /// because nothing but this rebuild writes a generation that is not active yet, and one rebuild runs per
    /// projection. Other projections (and every projection when upcasters are registered) are applied inside the
    /// write transaction, one chunk at a time.
    func applyChunks(
        _ names: [String], after start: UInt64, upTo limit: UInt64?, tables: [String: [String: Database]],
        bulkOnly: Bool = false, timing: inout ChunkTiming
    ) throws -> UInt64 {
        let clock = ContinuousClock()
        func end() throws -> UInt64 { try limit ?? log.head().position }
        var next = start  // the last position computed
        if start == 0, let built = try bulkBuild(names, upTo: try end(), tables: tables, timing: &timing) {
            next = built
            afterBulkPass.withLock { $0 }?()
        } else if start == 0, bulkOnly {
            throw ProjectionError(
                .unreadableEvent, "the bulk path does not read this log (the log says why); nothing was built")
        }
        guard inSnapshots(names) else {
            while case let head = try end(), next < head {
                let range = (next + 1)...min(head, next + UInt64(chunkSize))
                let started = clock.now
                try log.writeViews { txn in try applyBuffered(names, positions: range, tables: tables, in: txn) }
                timing.chunks += 1
                timing.wrote(clock.now - started)
                next = range.upperBound
            }
            return next
        }
        let groups = balance(names, threads: max(1, min(rebuildThreads, names.count)))
        timing.threads = groups.count
        let databases = names.flatMap { tables[$0].map { Array($0.values) } ?? [] }
        var pending: [ChunkRows]?  // the previous chunk: computed, not written yet
        while case let head = try end(), next < head {
            let range = (next + 1)...min(head, next + UInt64(chunkSize))
            let writer = pending.map {
                ChunkWriter(log: log, rows: $0, databases: databases, batchRows: writeBatchRows)
            }
            let started = clock.now
            let computed = Result { () throws -> [ChunkRows] in
                try compute(groups, range, tables, previous: pending)
            }
            timing.computing += clock.now - started
            if let writer { timing.wrote(try writer.wait()) }
            pending = try computed.get()
            timing.chunks += 1
            next = range.upperBound
        }
        if let pending {
            timing.wrote(
                try ChunkWriter(log: log, rows: pending, databases: databases, batchRows: writeBatchRows).wait())
        }
        return next
    }

    /// Whether chunks of `names` can be computed in read snapshots: built-in views only, read without upcasters, and
    /// not from inside a transaction closure (the threads could then wait for a map growth that waits for the
    /// caller's transaction, while the caller waits for them).
    func inSnapshots(_ names: [String]) -> Bool {
        upcasters.isEmpty && names.allSatisfy { entries[$0]?.projection is any HeaderAwareProjection }
            && !log.isInTransactionOnCurrentThread
    }

    /// Where projection `name` stands among those the runtime was given (views run in this order).
    func registrationIndex(_ name: String) -> Int { order.firstIndex(of: name) ?? Int.max }

    /// Where a rebuild's time went, for its log line: computing chunks (no lock held) and writing them (holding the
    /// log's write lock, which appends wait for).
    struct ChunkTiming {
        var chunks = 0
        /// Threads that computed each chunk (1 when chunks are applied inside the write transaction).
        var threads = 1
        var computing: Duration = .zero
        var writing: Duration = .zero
        var longestWrite: Duration = .zero
        /// Write transactions (one per chunk when chunks are applied inside the write transaction).
        var transactions = 0
        mutating func wrote(_ duration: Duration) {
            writing += duration
            longestWrite = max(longestWrite, duration)
            transactions += 1
        }
        fileprivate mutating func wrote(_ holds: ChunkWriter.Holds) {
            writing += holds.total
            longestWrite = max(longestWrite, holds.longest)
            transactions += holds.transactions
        }
    }

    /// Splits built-in views into `threads` groups of about equal work: the costliest view first, each to the group
    /// with the least work so far (ties to the earlier group, so the split is the same on every run). Each group
    /// lists its views in registration order.
    func balance(_ names: [String], threads: Int) -> [[String]] {
        let cost = { (name: String) in (self.entries[name]?.projection as? any HeaderAwareProjection)?.rebuildCost ?? 1
        }
        let ranked = names.enumerated().sorted { a, b in
            cost(a.element) != cost(b.element) ? cost(a.element) > cost(b.element) : a.offset < b.offset
        }
        var groups = [[String]](repeating: [], count: threads)
        var load = [Int](repeating: 0, count: threads)
        for (_, name) in ranked {
            guard let lightest = load.indices.min(by: { load[$0] < load[$1] }) else { break }
            groups[lightest].append(name)
            load[lightest] += cost(name)
        }
        // Within a group, views run in the order they were registered, so a thread that meets several views stopping
        // at one event reports the one a single pass would.
        return groups.filter { !$0.isEmpty }.map { $0.sorted { registrationIndex($0) < registrationIndex($1) } }
    }

    /// One group's share of a chunk, computed on its own thread.
    private struct Share: Sendable {
        var rows: ChunkRows?
        var error: (any Error)?
    }

    /// Computes one chunk: group `i` of `groups` into `ChunkRows` `i`, reading the rows the previous chunk changed
    /// from `previous[i]`. The groups run on threads of their own when there are several.
    func compute(
        _ groups: [[String]], _ positions: ClosedRange<UInt64>, _ tables: [String: [String: Database]],
        previous: [ChunkRows]?
    ) throws -> [ChunkRows] {
        let inputs = previous ?? []
        let span = max(1, min(Self.snapshotEvents, chunkSize / 2))
        @Sendable func share(_ index: Int) -> Share {
            var share = Share()
            do {
                let buffer = RowBuffer(previous: inputs.indices.contains(index) ? inputs[index] : nil)
                // A snapshot at most `snapshotEvents` long: growing the map (which an append or the writer may need)
                // waits for every open transaction, so none may last a whole large chunk. Any snapshot taken now
                // serves: it holds every chunk before the previous one, and the previous one's rows are in `inputs`.
                var from = positions.lowerBound
                while from <= positions.upperBound {
                    let part = from...min(positions.upperBound, from + UInt64(span) - 1)
                    try log.readViews { snapshot in try compute(groups[index], part, tables, into: buffer, snapshot) }
                    from = part.upperBound + 1
                }
                share.rows = buffer.sealed()
            } catch {
                share.error = error
            }
            return share
        }
        let results: [Share]
        if groups.count == 1 {
            results = [share(0)]
        } else {
            let shares = Mutex<[Int: Share]>([:])
            DispatchQueue.concurrentPerform(iterations: groups.count) { index in
                let result = share(index)
                shares.withLock { $0[index] = result }
            }
            results = shares.withLock { shares in groups.indices.map { shares[$0] ?? Share() } }
        }
        // Report what a single pass would have met first: the earliest event a view stopped at, else a store error.
        // At one event, the views stop in the runtime's order, as a single pass would meet them.
        let stops = results.compactMap { $0.error as? Stopped }
        if let first = stops.min(by: {
            ($0.position, registrationIndex($0.projection)) < ($1.position, registrationIndex($1.projection))
        }) {
            throw first
        }
        if let error = results.lazy.compactMap(\.error).first { throw error }
        return try results.map { share in
            guard let rows = share.rows else {
                throw ProjectionError(.storage, "a rebuild thread ended without its rows")
            }
            return rows
        }
    }

    /// The most events a rebuild thread applies in one read snapshot (half a chunk when chunks are smaller, so that
    /// every chunk of the tests spans several snapshots).
    static let snapshotEvents = 1_024

    /// Applies the events at `positions` to `names` in a read snapshot; every row they write stays in `buffer`.
    private func compute(
        _ names: [String], _ positions: ClosedRange<UInt64>, _ tables: [String: [String: Database]],
        into buffer: RowBuffer, _ snapshot: borrowing ReadTransaction
    ) throws {
        // Objects holding each view opened once: visiting them per event retains one reference, where calling
        // through `any HeaderAwareProjection` copied the view into a new heap box for every event.
        final class Target {
            typealias Apply = (borrowing EventView, RecordHeader?, borrowing ViewTransaction) throws -> Void
            let name: String
            let apply: Apply
            let tables: [String: Database]
            init(_ name: String, _ view: any HeaderAwareProjection, _ tables: [String: Database]) {
                self.name = name
                func opened(_ view: some HeaderAwareProjection) -> Apply {
                    { event, header, transaction in try view.apply(event, header: header, to: transaction) }
                }
                self.apply = opened(view)
                self.tables = tables
            }
        }
        let targets = names.compactMap { name -> Target? in
            guard let projection = entries[name]?.projection as? any HeaderAwareProjection, let tables = tables[name]
            else { return nil }
            return Target(name, projection, tables)
        }
        let memo = RecordMemo()
        var seen: UInt64 = 0
        try log.forEachEvent(positions: positions, in: snapshot) { event in
            seen += 1
            let header = event.workflowHeader
            for target in targets {
                let view = ViewTransaction(snapshot: snapshot, databases: target.tables, buffer: buffer, memo: memo)
                try stopping(target.name, at: event.position) {
                    if header == nil, event.isCaseEvent { throw EventView.unreadable(event.position) }
                    try target.apply(event, header, view)
                }
            }
        }
        guard seen == UInt64(positions.count) else {
            throw ProjectionError(.storage, "the log returned \(seen) events for \(positions)")
        }
    }

    /// Applies the events at `positions` to several projections' tables in one pass over the log: each event is
    /// decoded once (and its header once) for all of them, and their rows go through a ``RowBuffer`` that reaches
    /// LMDB once per chunk. Throws ``Stopped`` naming the event a projection threw at.
    func applyBuffered(
        _ names: [String], positions: ClosedRange<UInt64>, tables: [String: [String: Database]],
        in txn: borrowing WriteTransaction
    ) throws {
        struct Target {
            let name: String
            let projection: any Projection
            let shared: (any HeaderAwareProjection)?
            let tables: [String: Database]
        }
        let targets = names.compactMap { name -> Target? in
            guard let entry = entries[name], let tables = tables[name] else { return nil }
            return Target(
                name: name, projection: entry.projection,
                shared: upcasters.isEmpty ? entry.projection as? any HeaderAwareProjection : nil, tables: tables)
        }
        let needsHeader = targets.contains { $0.shared != nil }
        // One pass for several views decodes each header in place; passes for one view at a time (catch-up, checks)
        // share the headers decoded for the range, as the inline views of a commit do.
        let cached = needsHeader && targets.count == 1 ? try headers(for: positions, in: txn) : nil
        let buffer = RowBuffer()
        let memo = RecordMemo()
        try log.forEachEvent(positions: positions, in: txn) { event in
            let header =
                cached.map { $0[Int(event.position - positions.lowerBound)] }
                ?? (needsHeader ? event.workflowHeader : nil)
            for target in targets {
                let view = ViewTransaction(txn, databases: target.tables, buffer: buffer, memo: memo)
                try applyEvent(
                    event, to: target.projection, named: target.name, shared: target.shared, header: header, view: view)
            }
        }
        try buffer.flush(targets.flatMap(\.tables.values), txn)
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
    /// one at the same position; reports the first difference. The comparison reads both in a snapshot, side by side,
    /// so neither appends nor memory wait on the tables' size; only when appends keep moving the view does the last
    /// round compare inside the write transaction.
    ///
    /// On a log open read-only, the built-in views are checked without scratch tables: a bulk pass computes their
    /// rows and compares them with the stored ones (other projections, or a log the bulk path does not read, cannot
    /// be checked there).
    public func check(_ name: String) throws(ProjectionError) -> ConsistencyReport {
        guard let report = try check([name]).first else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        return report
    }

    /// Checks every projection as ``check(_:)`` does, in registration order, building their scratch copies in one
    /// pass over the log (in bulk for the built-in views) instead of one pass each. Views whose checkpoints lie far
    /// apart (more than ``chunkSize`` events) are built in separate passes, so no copy needs many events applied
    /// inside a write transaction to reach its view.
    public func checkAll() throws(ProjectionError) -> [ConsistencyReport] {
        try check(order)
    }

    /// Refuses to rebuild or check a view the store holds at another version than the registered one: this
    /// process's rules would build its rows, and a rebuild would label them with the stored version.
    func requireRegisteredVersion(_ name: String, _ state: State) throws(ProjectionError) {
        guard let registered = entries[name]?.projection.version, state.version != registered else { return }
        throw ProjectionError(
            .versionMismatch,
            "the store holds '\(name)' at version \(state.version), and this process registers version \(registered): "
                + "rebuild or check it with a release that registers version \(state.version) (a writable store "
                + "switches an older version when the projection is opened)", projection: name)
    }

    private func check(_ names: [String]) throws(ProjectionError) -> [ConsistencyReport] {
        // A read-only store has no room for scratch copies: the built-in views are compared as the bulk pass computes
        // them.
        if log.accessMode != .readWrite { return try checkWithoutWriting(names) }
        return try exclusively(names) { () throws(ProjectionError) -> [ConsistencyReport] in
            var states: [(name: String, state: State)] = []
            for name in names {
                guard entries[name] != nil, let state = try loadState(name) else {
                    throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
                }
                try requireRegisteredVersion(name, state)
                states.append((name, state))
            }
            var reports: [String: ConsistencyReport] = [:]
            for group in Self.checkGroups(states, span: UInt64(chunkSize)) {
                for (name, report) in try check(group) { reports[name] = report }
            }
            return names.compactMap { reports[$0] }
        }
    }

    /// Views whose checkpoints lie within `span` of each other, so that one pass builds their scratch copies to the
    /// lowest checkpoint and each copy is brought to its view's with few events.
    static func checkGroups(_ states: [(name: String, state: State)], span: UInt64) -> [[(name: String, state: State)]]
    {
        var groups: [[(name: String, state: State)]] = []
        for entry in states.sorted(by: { $0.state.checkpoint < $1.state.checkpoint }) {
            if let low = groups.last?.first?.state.checkpoint, entry.state.checkpoint - low <= span {
                groups[groups.count - 1].append(entry)
            } else {
                groups.append([entry])
            }
        }
        return groups
    }

    /// Builds the scratch copies of `group` in one pass and compares each with its view.
    private func check(_ group: [(name: String, state: State)]) throws(ProjectionError) -> [String: ConsistencyReport] {
        var scratches: [String: (generation: Int, tables: [String: Database])] = [:]
        func discardAll() {
            for (name, scratch) in scratches {
                discardScratch(name, generation: scratch.generation, tables: scratch.tables)
            }
            scratches = [:]
        }
        let upTo = group.map(\.state.checkpoint).min() ?? 0
        var active: [String: [String: Database]] = [:]
        do throws(ProjectionError) {
            for (name, state) in group {
                let generation = -state.generation  // never an active generation
                scratches[name] = (generation, try tables(name, generation: generation, fresh: true))
            }
            _ = try build(group.map(\.name), into: scratches.mapValues(\.tables), upTo: upTo)
            for (name, state) in group { active[name] = try tables(name, generation: state.generation, fresh: false) }
        } catch {
            // The projection threw or the store failed: the half-built copies are of no use to anyone.
            discardAll()
            throw error
        }
        var reports: [String: ConsistencyReport] = [:]
        for (name, state) in group {
            guard let scratch = scratches[name], let mine = active[name] else { continue }
            do {
                reports[name] = try compare(name, state: state, active: mine, scratch: scratch.tables, builtTo: upTo)
            } catch let error as ProjectionError {
                discardAll()
                throw error
            } catch {
                discardAll()
                throw ProjectionError(.storage, "comparing failed: \(error)", projection: name)
            }
            scratches[name] = nil  // compared and dropped
            forget(name, generation: scratch.generation)
        }
        return reports
    }

    /// Drops a failed check's scratch tables. A failure to drop is logged, not thrown (the check's own error is the
    /// one to report); the next check of the projection empties them anyway.
    private func discardScratch(_ name: String, generation: Int, tables: [String: Database]) {
        do {
            try log.writeViews { txn in for database in tables.values { try txn.drop(named: database.name) } }
        } catch {
            logger.warning(
                "dropping a failed check's scratch tables failed; the next check empties them",
                metadata: ["projection": "\(name)", "error": "\(error)"])
        }
        forget(name, generation: generation)
    }

    /// Brings the scratch copy of a check to the view's position and compares the two, row by row. The comparison
    /// runs in a read snapshot where the view stands where the scratch copy was brought, so appends do not wait for
    /// it; when appends keep moving the view (three times), the last round compares inside the write transaction,
    /// which they then wait for. Drops the scratch tables.
    private func compare(
        _ name: String, state: State, active: [String: Database], scratch: [String: Database], builtTo: UInt64
    ) throws -> ConsistencyReport {
        guard let entry = entries[name] else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        let tables = entry.projection.tables.sorted()
        func compare(at position: UInt64, _ txn: borrowing some ReadableTransaction & ~Copyable) throws
            -> ConsistencyReport
        {
            var result = ConsistencyReport(projection: name, position: position, rowsCompared: 0, firstDifference: nil)
            for table in tables {
                guard let mine = active[table], let theirs = scratch[table] else { continue }
                result.firstDifference = try Self.firstDifference(table, mine, theirs, txn, count: &result.rowsCompared)
                if result.firstDifference != nil { break }
            }
            return result
        }
        /// Brings the scratch copy from `from` to the view's checkpoint; returns it. With `andCompare`, compares
        /// too, in the same transaction.
        func advance(from: UInt64, andCompare: Bool) throws -> (position: UInt64, report: ConsistencyReport?) {
            try log.writeViews { txn -> (UInt64, ConsistencyReport?) in
                guard let current = try Self.loadState(name, meta, txn), current.generation == state.generation else {
                    throw ProjectionError(
                        .storage, "'\(name)' was rebuilt during the check; check again", projection: name)
                }
                if current.checkpoint > from {
                    try apply(name, positions: (from + 1)...current.checkpoint, tables: scratch, in: txn)
                }
                return (current.checkpoint, andCompare ? try compare(at: current.checkpoint, txn) : nil)
            }
        }
        var position = builtTo
        var report: ConsistencyReport?
        for attempt in 1...3 {
            (position, _) = try advance(from: position, andCompare: false)
            afterCheckAdvance.withLock { $0 }?(attempt)
            report = try log.readViews { txn -> ConsistencyReport? in
                guard let current = try Self.loadState(name, meta, txn), current.generation == state.generation else {
                    throw ProjectionError(
                        .storage, "'\(name)' was rebuilt during the check; check again", projection: name)
                }
                guard current.checkpoint == position else { return nil }  // appends moved it: bring the copy on
                return try compare(at: position, txn)
            }
            if report != nil { break }
            logger.debug(
                "appends moved the view during its check", metadata: ["projection": "\(name)", "attempt": "\(attempt)"])
        }
        if report == nil { report = try advance(from: position, andCompare: true).report }
        try log.writeViews { txn in for database in scratch.values { try txn.drop(named: database.name) } }
        guard let report else { throw ProjectionError(.storage, "the check compared nothing", projection: name) }
        return report
    }

    /// The first row where the view's table `mine` and the log's `theirs` differ, walking both in key order side by
    /// side (memory does not grow with the tables); `count` grows by the view's rows read.
    static func firstDifference(
        _ table: String, _ mine: Database, _ theirs: Database,
        _ txn: borrowing some ReadableTransaction & ~Copyable, count: inout Int
    ) throws -> String? {
        try txn.withCursor(theirs) { expected in
            try txn.withCursor(mine) { actual in
                try Self.firstDifference(table, stored: actual, including: { _ in true }, count: &count) {
                    index, body in
                    try expected.move(index == 0 ? .first : .next) { key, value in try body(key, value) } != nil
                }
            }
        }
    }

    /// The first difference between the rows of a view's table that `stored` walks (in key order; only those
    /// `including` accepts) and the rows the log gives, which `expected` hands out in key order: for index 0, 1, …
    /// it calls its body with the row's key and value and returns `true`, or returns `false` past the last row.
    /// `count` grows by the stored rows read.
    static func firstDifference(
        _ table: String, stored: borrowing Cursor, including: (UnsafeRawBufferPointer) -> Bool, count: inout Int,
        expected: (Int, (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Bool
    ) throws -> String? {
        func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
            a.count == b.count && ByteInterner.compare(a, b) == 0
        }
        var difference: String?
        var next = 0
        try stored.walk(from: .first, then: .next) { key, value in
            guard including(key) else { return true }
            count += 1
            let found = try expected(next) { eKey, eValue in
                if !same(eKey, key) {
                    difference = "\(table): the view has row \(hex(Array(key))) where the log gives \(hex(Array(eKey)))"
                } else if !same(eValue, value) {
                    difference =
                        "\(table): row \(hex(Array(key))) holds \(hex(Array(value))); the log gives \(hex(Array(eValue)))"
                }
            }
            next += 1
            if !found { difference = "\(table): extra row \(hex(Array(key))) in the view" }
            return difference == nil
        }
        if difference == nil {
            _ = try expected(next) { key, _ in difference = "\(table): row \(hex(Array(key))) is missing from the view"
            }
        }
        return difference
    }
}

/// At most 64 bytes in hex, for reports.
func hex(_ bytes: [UInt8]) -> String { Bytes.hex(Array(bytes.prefix(64))) + (bytes.count > 64 ? "…" : "") }

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
        return FullReport(log: report, views: try checkAll())
    }
}

/// Writes a computed chunk's rows on a thread of its own, while the next chunk is computed: in write transactions of
/// at most `batchRows` rows each, so the write lock is held briefly however large the chunk. The rows go into a
/// generation nobody reads yet, and the next chunk but one starts only after all of them are written.
private final class ChunkWriter: Sendable {
    /// What writing a chunk took: all its transactions together, the longest one, and how many there were.
    struct Holds: Sendable {
        var total: Duration = .zero
        var longest: Duration = .zero
        var transactions = 0
    }

    private let log: LMDBEventLog
    private let rows: [ChunkRows]
    private let databases: [Database]
    private let batchRows: Int
    private let done = DispatchSemaphore(value: 0)
    private let outcome = Mutex<Result<Holds, any Error>>(.success(Holds()))

    /// Starts writing at once, on a thread of its own.
    init(log: LMDBEventLog, rows: [ChunkRows], databases: [Database], batchRows: Int) {
        self.log = log
        self.rows = rows
        self.databases = databases
        self.batchRows = max(1, batchRows)
        let thread = Thread { [self] in
            let result = Result { () throws -> Holds in try self.write() }
            self.outcome.withLock { $0 = result }
            self.done.signal()
        }
        thread.name = "caseledger.rebuild.writer"
        thread.start()
    }

    private func write() throws -> Holds {
        // The batches: slices of the chunk's tables in key order, at most `batchRows` rows per transaction.
        var batches: [[(rows: ChunkRows, database: Database, range: Range<Int>)]] = [[]]
        var filled = 0
        for chunk in rows {
            for database in databases {
                let count = chunk.count(database)
                var start = 0
                while start < count {
                    let take = min(count - start, batchRows - filled)
                    batches[batches.count - 1].append((chunk, database, start..<(start + take)))
                    filled += take
                    start += take
                    if filled == batchRows {
                        batches.append([])
                        filled = 0
                    }
                }
            }
        }
        let clock = ContinuousClock()
        var holds = Holds()
        for batch in batches where !batch.isEmpty {
            // The hold: from entering the transaction (the lock is taken) to the end of its commit. A map growth
            // runs the closure again, which writes the same immutable rows.
            var entered = clock.now
            try log.writeViews { txn in
                entered = clock.now
                for part in batch { try part.rows.write(part.database, rows: part.range, txn) }
            }
            let held = clock.now - entered
            holds.total += held
            holds.longest = max(holds.longest, held)
            holds.transactions += 1
        }
        return holds
    }

    /// Waits for the writes; returns how long they held the write lock, or throws what the first failing one threw.
    func wait() throws -> Holds {
        done.wait()
        return try outcome.withLock { $0 }.get()
    }
}
