import CaseLedgerLMDB
public import CaseLedgerLog
import CaseLedgerWorkflow
import Crypto
import Foundation
public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

/// Keeps projections from the log: inline ones in each append's own transaction, asynchronous ones from a
/// checkpoint stored in the same transaction as their rows. Runs as a `Service` so a server can host it.
///
/// Every projection's state (version, active generation, checkpoint, failure) is a row of the `views.meta` table,
/// written in the same transaction as the rows it describes, so each event takes effect exactly once across crashes
/// and restarts.
public final class ProjectionRuntime: Service, Sendable {
    /// How a projection is kept.
    public enum Mode: Sendable, Hashable {
        /// In the append's write transaction: a caller reads its own writes.
        case inline
        /// By ``run()`` (or ``catchUp()``), after the append.
        case async
    }

    /// A projection's progress, for operators.
    public struct Status: Sendable, Hashable {
        public var name: String
        public var mode: Mode
        public var version: Int
        public var generation: Int
        /// The last position applied.
        public var checkpoint: UInt64
        /// Positions behind the log's head.
        public var lag: UInt64
        /// Where it stopped, and why, when an event made it throw.
        public var failedAt: UInt64?
        public var failure: String?
    }

    struct Entry: Sendable {
        let projection: any Projection
        let mode: Mode
    }

    struct State: Codable, Sendable, Hashable {
        var version: Int
        var generation: Int
        var checkpoint: UInt64
        var failedAt: UInt64?
        var failure: String?
    }

    let log: LMDBEventLog
    let entries: [String: Entry]
    let order: [String]
    let logger: Logger
    let upcasters: UpcasterChain
    let metrics: (any MetricsFactory)?
    let meta: Database
    /// Open table handles by database name.
    let handles: Mutex<[String: Database]>
    let observers: Mutex<[any CommitObserver]>
    /// Projections under maintenance (a rebuild or a check): one operation at a time per projection.
    let maintenance: Mutex<Set<String>>
    struct HeaderCache: Sendable {
        let range: ClosedRange<UInt64>
        /// The chain hash of the range's last event, which covers every event before it: a commit that failed after
        /// its headers were decoded leaves its positions to other events, and this tells them apart.
        let last: ChainHash
        let headers: [RecordHeader?]
    }
    let headerCache: Mutex<HeaderCache?>
    /// Where ``run()`` catches up: a thread of the runtime's own.
    let catchUpQueue: DispatchQueue
    /// Where the handles of generations other processes retired are closed (``retireStaleHandles(_:before:)``), and
    /// where inline views open for good the tables they opened inside a commit.
    let handleCloser = DispatchQueue(label: "caseledger.projections.handle-closer", qos: .utility)
    /// Generations (`name.generation`) whose handles are being closed, and whose tables are being opened for good.
    let closing = Mutex<Set<String>>([])
    let opening = Mutex<Set<String>>([])
    /// For tests: waits (up to 10 s) until the opening and closing queued so far has run.
    package func waitForHandleClosing() {
        for _ in 0..<10_000 {
            handleCloser.sync {}
            if closing.withLock({ $0.isEmpty }) && opening.withLock({ $0.isEmpty }) { return }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }
    /// Queries in flight per generation (`name.generation`), and the generations a swap retired: a retired
    /// generation's tables are dropped only when its last query ends, and no new query starts on it. The log's own,
    /// shared with the other runtimes of this process on it.
    let readers: ViewReaders
    /// How many events catch-up applies per transaction, and a rebuild or check computes per chunk when it goes event
    /// by event (a chunk's rows are then written in transactions of at most 16,384 rows). The bulk rebuild of the
    /// built-in views does not use chunks.
    public let chunkSize: Int
    /// How many threads a rebuild or check computes on: partitions of cases on the bulk path, shares of the views per
    /// chunk on the event-by-event path.
    public let rebuildThreads: Int
    /// At most how many rows one write transaction of a rebuild's or check's writer commits. A chunk's rows may take
    /// several transactions (they go into a generation nobody reads yet), so the write lock, which appends wait for,
    /// is held briefly whatever the chunk size.
    let writeBatchRows: Int
    /// At most how many cases one partition of a bulk rebuild keeps in memory (tests make it small).
    let bulkCaseCapacity: Int
    /// Where bulk rebuilds and checks make their spill directory; `nil` for the default (``spillParent``).
    public let spillDirectory: String?
    /// Whether bulk passes spill the case events to files (tests turn it off to take the path without spill files).
    let bulkSpills: Bool
    /// The disk a bulk pass asks for per event before it spills: the spill records (about 100–150 bytes per case
    /// event) and the rounds' row files (about 50 bytes per event). Tests make it huge to see a full disk refused.
    let spillBytesPerEvent: Int
    /// The free disk a spill must leave; `nil` for the default (``SpillDirectory/requireRoom(in:for:margin:)``). Tests
    /// ask for none, so that they do not depend on the machine's free space.
    let spillMargin: Int?
    /// How many buckets a bulk pass spills the case events into; `nil`: about one per ``bulkCaseCapacity`` events
    /// (tests set it to make partitions regroup and split).
    let spillBuckets: Int?
    /// How many full partitions of spilled bulk passes were regrouped (their buckets into more partitions) and split
    /// (their one bucket's files written again into more), for tests and diagnostics.
    let bulkRegroups = Atomic<Int>(0)
    let bulkSplits = Atomic<Int>(0)
    package var bulkRegroupCount: Int { bulkRegroups.load(ordering: .relaxed) }
    package var bulkSplitCount: Int { bulkSplits.load(ordering: .relaxed) }
    /// How long opening waits for another holder of a switching view's maintenance lock.
    let versionSwitchWait: Duration
    /// Views that start from nothing on a log of at least this many events are filled by a bulk rebuild.
    let bulkFillMinimum: UInt64
    /// How many rebuilds and checks the bulk path served (for tests and diagnostics).
    let bulkBuilds = Atomic<Int>(0)
    /// How many rebuilds and checks the bulk path served.
    package var bulkBuildCount: Int { bulkBuilds.load(ordering: .relaxed) }
    /// For tests: runs on the rebuilding thread right after a bulk pass, before the events appended meanwhile are
    /// applied event by event.
    let afterBulkPass = Mutex<(@Sendable () -> Void)?>(nil)
    /// Sets what runs right after each bulk pass (tests make appends land there).
    package func setAfterBulkPass(_ body: (@Sendable () -> Void)?) { afterBulkPass.withLock { $0 = body } }
    /// For tests: runs right after a bulk pass has copied the log's case events into spill files (with the spill
    /// directory's path), before the partitions read them.
    let afterSpill = Mutex<(@Sendable (String) -> Void)?>(nil)
    /// Sets what runs right after each bulk pass has filled its spill files (tests change a file there).
    package func setAfterSpill(_ body: (@Sendable (String) -> Void)?) { afterSpill.withLock { $0 = body } }
    /// For tests: runs on the checking thread each time a check has brought its scratch copy to the view's position,
    /// before it compares (with the attempt's number, from 1).
    let afterCheckAdvance = Mutex<(@Sendable (Int) -> Void)?>(nil)
    /// For tests: runs when a fill has found views empty, before it takes their maintenance locks.
    let beforeFillLocks = Mutex<(@Sendable () -> Void)?>(nil)
    /// Sets what runs between a fill's look at the views and its locks (tests fill them from another runtime there).
    package func setBeforeFillLocks(_ body: (@Sendable () -> Void)?) { beforeFillLocks.withLock { $0 = body } }
    /// For tests, by projection name: runs when opening a runtime has found no state for the projection, before it
    /// stores the first one (tests open another runtime there).
    package static let beforeFirstState = Mutex<[String: @Sendable () -> Void]>([:])
    /// Sets what runs before each comparison round of a check (tests make appends move the view there).
    package func setAfterCheckAdvance(_ body: (@Sendable (Int) -> Void)?) { afterCheckAdvance.withLock { $0 = body } }

    /// Prepares the projections' tables and registers the inline ones with the log.
    ///
    /// - Throws: ``ProjectionError`` for two projections with one name or a store failure; `busy` when a view's
    ///   version changed and another process kept its maintenance lock (a rebuild or check of it) for all of
    ///   `versionSwitchWait`.
    ///
    /// - Parameters:
    ///   - upcasters: rewrite events of older payload schemas before projections see them.
    ///   - metrics: where lag and failure metrics go; the process's `MetricsSystem` when `nil`.
    ///   - rebuildThreads: how many threads a rebuild or check computes on; the machine's active processor count when
    ///     `nil`. In bulk, each thread copies a share of the log into spill files, then applies one partition of the
    ///     cases at a time; event by event, each reads the chunk and applies its share of the built-in views.
    ///   - versionSwitchWait: how long opening waits for another process (or runtime) that holds the maintenance lock
    ///     of a view whose version changed. Several processes opened together after an upgrade switch each view once
    ///     between them: the others wait for the first, then find the view switched.
    ///   - spillDirectory: where a bulk rebuild or check of the built-in views copies the log's case events, by
    ///     bucket of cases, so that it reads the log once (the events' metadata, type and case id: 100 to 150 bytes
    ///     per case event, removed as the rebuild goes on and at its end). Before it spills, a pass asks for 200 bytes
    ///     per event of the log free there, plus a tenth of the file system (1 to 16 GiB) when it is the store's.
    ///     `nil`: a hidden directory in the store's directory for a writable log, else the system's temporary
    ///     directory; where that cannot be used, the threads each scan the log, in one round. A directory given here
    ///     must be usable and have the room, or a rebuild or check fails with ``ProjectionError`` `storage`.
    public convenience init(
        log: LMDBEventLog, projections: [(any Projection, Mode)], logger: Logger, chunkSize: Int = 4_096,
        upcasters: UpcasterChain = UpcasterChain(), metrics: (any MetricsFactory)? = nil, rebuildThreads: Int? = nil,
        versionSwitchWait: Duration = .seconds(30), spillDirectory: String? = nil
    ) throws(ProjectionError) {
        try self.init(
            log: log, projections: projections, logger: logger, chunkSize: chunkSize, upcasters: upcasters,
            metrics: metrics, rebuildThreads: rebuildThreads, writeBatchRows: Self.defaultWriteBatchRows,
            versionSwitchWait: versionSwitchWait, spillDirectory: spillDirectory)
    }

    /// At most this many rows per write transaction of a rebuild's writer, unless tests ask for fewer.
    static let defaultWriteBatchRows = 16_384

    /// At most this many cases per partition of a bulk rebuild (a few hundred bytes each), unless tests ask for fewer.
    package static let defaultBulkCaseCapacity = 81_920

    /// Built-in views that start from nothing (deployed on a store that already holds events, or switched to a new
    /// version) are filled by a bulk rebuild when the log holds at least this many events, unless tests ask for
    /// another bound. Below it, catching up event by event takes about a second at most (a county's year, 44,065
    /// events: 0.93–0.97 s, against 0.14–0.17 s in bulk), and the county-year job keeps comparing views built event
    /// by event with their bulk rebuild in `verify`.
    package static let defaultBulkFillMinimum: UInt64 = 50_000

    /// The public initializer, with the writer's batch size that tests make small.
    package init(
        log: LMDBEventLog, projections: [(any Projection, Mode)], logger: Logger, chunkSize: Int,
        upcasters: UpcasterChain, metrics: (any MetricsFactory)?, rebuildThreads: Int?, writeBatchRows: Int,
        bulkCaseCapacity: Int = ProjectionRuntime.defaultBulkCaseCapacity, versionSwitchWait: Duration = .seconds(30),
        bulkFillMinimum: UInt64 = ProjectionRuntime.defaultBulkFillMinimum, spillDirectory: String? = nil,
        spillBuckets: Int? = nil, bulkSpills: Bool = true, spillBytesPerEvent: Int = 200, spillMargin: Int? = nil
    ) throws(ProjectionError) {
        var entries: [String: Entry] = [:]
        var order: [String] = []
        for (projection, mode) in projections {
            guard entries[projection.name] == nil else {
                throw ProjectionError(.duplicateName, "two projections are named '\(projection.name)'")
            }
            entries[projection.name] = Entry(projection: projection, mode: mode)
            order.append(projection.name)
        }
        self.log = log
        self.entries = entries
        self.order = order
        self.logger = logger
        self.upcasters = upcasters
        self.metrics = metrics
        self.chunkSize = max(1, chunkSize)
        self.rebuildThreads = max(1, rebuildThreads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.writeBatchRows = max(1, writeBatchRows)
        self.bulkCaseCapacity = max(1, bulkCaseCapacity)
        self.versionSwitchWait = versionSwitchWait
        self.bulkFillMinimum = bulkFillMinimum
        self.spillDirectory = spillDirectory
        self.spillBuckets = spillBuckets.map { max(1, $0) }
        self.bulkSpills = bulkSpills
        self.spillBytesPerEvent = max(1, spillBytesPerEvent)
        self.spillMargin = spillMargin
        self.handles = Mutex([:])
        self.observers = Mutex([])
        self.maintenance = Mutex([])
        self.headerCache = Mutex(nil)
        self.catchUpQueue = DispatchQueue(label: Self.catchUpQueueLabel)
        catchUpQueue.setSpecific(key: Self.catchUpQueueKey, value: true)
        self.readers = log.viewReaders
        do {
            meta = try log.database(named: "views.meta")
        } catch {
            throw ProjectionError(.storage, "opening views.meta failed: \(error)")
        }
        do throws(ProjectionError) {
            try prepare()
        } catch {
            shutdown()
            throw error
        }
    }

    private func prepare() throws(ProjectionError) {
        for name in order {
            guard let entry = entries[name] else { continue }
            var state = try loadState(name) ?? State(version: entry.projection.version, generation: 1, checkpoint: 0)
            if state.version > entry.projection.version {
                // A newer release switched it: switching it back would make the two releases rebuild it in turn, and
                // the newer one read rows of the older format meanwhile. This process leaves it alone; its queries
                // of it fail with `versionMismatch` and its catch-up skips it.
                logger.warning(
                    "the store holds a newer version of this view than this release registers; it is left as it is",
                    metadata: [
                        "projection": "\(name)", "stored": "\(state.version)",
                        "registered": "\(entry.projection.version)",
                    ])
            } else if state.version != entry.projection.version {
                // A new version of the view: start a fresh generation from the beginning (its rows are rebuilt).
                // Exclusive like a rebuild: another process's rebuild would be writing the same next generation.
                let stored = state
                state = try waitingWhileBusy(for: versionSwitchWait) { () throws(ProjectionError) -> State in
                    try exclusively([name]) { () throws(ProjectionError) -> State in
                        let current = try loadState(name) ?? stored
                        guard current.version != entry.projection.version else {
                            // Another process switched it between this one's first look and taking the lock.
                            _ = try tables(name, generation: current.generation, fresh: false)
                            return current
                        }
                        // A newer release switched it meanwhile: left alone, as above.
                        guard current.version < entry.projection.version else { return current }
                        return try switchVersion(name, from: current, to: entry.projection.version)
                    }
                }
            } else if try activeTablesMissing(name) {
                // The state names a generation whose tables are gone (a views.meta restored from elsewhere, tables
                // dropped by hand): creating them empty would keep the checkpoint and silently skip every event
                // before it, so the view starts again from the beginning in a fresh generation, as for a new version.
                let stored = state
                state = try waitingWhileBusy(for: versionSwitchWait) { () throws(ProjectionError) -> State in
                    try exclusively([name]) { () throws(ProjectionError) -> State in
                        let current = try loadState(name) ?? stored
                        guard try activeTablesMissing(name) else {
                            _ = try tables(name, generation: current.generation, fresh: false)
                            return current
                        }
                        return try switchVersion(
                            name, from: current, to: current.version,
                            because: "the tables of its active generation are missing; rebuilding")
                    }
                }
            } else {
                _ = try tables(name, generation: state.generation, fresh: false)
                if try loadState(name) == nil {
                    Self.beforeFirstState.withLock { $0[name] }?()
                    try insertState(name, state)
                }
                try dropLeftovers(name, keeping: state.generation)
            }
            if entry.mode == .inline {
                let observer = InlineObserver(runtime: self, name: name)
                observers.withLock { $0.append(observer) }
                log.addCommitObserver(observer)
            }
        }
    }

    /// Runs `body` again, every 50 ms, while it fails with `busy`, for up to `wait`; then lets the last `busy` through.
    func waitingWhileBusy<R>(for wait: Duration, _ body: () throws(ProjectionError) -> R) throws(ProjectionError) -> R {
        let clock = ContinuousClock()
        let deadline = clock.now + wait
        while true {
            do {
                return try body()
            } catch  where error.code == .busy && clock.now < deadline {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Whether the stored state of `name` names a generation whose tables do not all exist, read in one snapshot
    /// (so a swap by another process, which commits the new state with the new tables, never looks like this).
    private func activeTablesMissing(_ name: String) throws(ProjectionError) -> Bool {
        do {
            return try log.openingTables { txn -> Bool in
                guard let state = try Self.loadState(name, meta, txn) else { return false }
                // Missing: the transaction is aborted, so the tables it did open are not kept open.
                guard try existingTables(name, generation: state.generation, in: txn) != nil else {
                    throw TablesMissing()
                }
                return false
            }
        } catch is TablesMissing {
            return true
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw ProjectionError(.storage, "reading the state of '\(name)' failed: \(error)", projection: name)
        }
    }

    /// Switches projection `name` to a new version (or, with `because`, restarts it at its version): a fresh
    /// generation from the beginning, which catch-up fills; the old generation's tables are dropped. Returns the new
    /// state.
    private func switchVersion(
        _ name: String, from state: State, to version: Int, because reason: String? = nil
    ) throws(ProjectionError) -> State {
        if let reason {
            logger.warning(
                "\(reason)", metadata: ["projection": "\(name)", "generation": "\(state.generation)"])
        } else {
            logger.info(
                "projection version changed; rebuilding",
                metadata: ["projection": "\(name)", "from": "\(state.version)", "to": "\(version)"])
        }
        let oldGeneration = state.generation
        let newState = State(version: version, generation: state.generation + 1, checkpoint: 0)
        _ = try tables(name, generation: newState.generation, fresh: true)
        // Dropped by name in the transaction that moves the state, without opening them first: opening would create
        // any that are missing, in a commit of their own, where other processes could meet them under the old state.
        let oldNames = (entries[name]?.projection.tables ?? []).map { Self.tableName(name, oldGeneration, $0) }
        do {
            try log.writeViews { txn in
                try Self.saveState(name, newState, meta, txn)
                for table in oldNames { _ = try txn.drop(named: table) }
            }
        } catch {
            throw ProjectionError(
                .storage, "switching '\(name)' to its new version failed: \(error)", projection: name)
        }
        forget(name, generation: oldGeneration)
        return newState
    }

    /// Unregisters the inline projections from the log.
    public func shutdown() {
        let current = observers.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for observer in current { log.removeCommitObserver(observer) }
    }

    static func tableName(_ projection: String, _ generation: Int, _ table: String) -> String {
        "v.\(projection).\(generation).\(table)"
    }

    /// The projection's tables of a generation, opened (and, with `fresh`, emptied) as needed.
    func tables(_ name: String, generation: Int, fresh: Bool) throws(ProjectionError) -> [String: Database] {
        guard let entry = entries[name] else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        var result: [String: Database] = [:]
        for table in entry.projection.tables {
            let full = Self.tableName(name, generation, table)
            if !fresh, let open = handles.withLock({ $0[full] }) {
                result[table] = open
                continue
            }
            do {
                let database = try log.database(named: full)
                if fresh {
                    try log.writeViews { txn in try txn.empty(database) }
                }
                handles.withLock { $0[full] = database }
                result[table] = database
            } catch {
                throw ProjectionError(.storage, "opening table \(full) failed: \(error)", projection: name)
            }
        }
        return result
    }

    /// Thrown inside a transaction that opens a generation's tables when one is missing, to abort it.
    struct TablesMissing: Error {}

    /// A generation's tables, from the handles already open or opened without creating any: `nil` when one of them
    /// does not exist (another process retired the generation and dropped its tables). Queries and catch-up use this,
    /// so that a generation retired between reading the state and opening its tables is not re-created empty.
    func existingTablesOpened(_ name: String, generation: Int) throws(ProjectionError) -> [String: Database]? {
        if let open = openTables(name, generation: generation) { return open }
        guard let entry = entries[name] else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        // Opening takes a write transaction on a writable log, which a thread inside a transaction closure (a
        // projection querying another view) cannot begin without waiting for itself; on a read-only log, the
        // openers' lock, whose holder may wait for this thread's transaction to end (to adopt a grown map).
        guard !log.isInTransactionOnCurrentThread else {
            throw ProjectionError(
                .storage,
                "the tables of generation \(generation) of '\(name)' are not open in this process yet, and cannot be "
                    + "opened inside a transaction closure; query the view outside it", projection: name)
        }
        let found: [String: Database]?
        do {
            // LMDB allows one transaction at a time in a process to open tables, until it ends (see `openingTables`).
            found = try log.openingTables { txn in
                // Missing: the transaction is aborted, so the tables it did open are not kept open.
                guard let tables = try existingTables(name, generation: generation, in: txn) else {
                    throw TablesMissing()
                }
                return tables
            }
        } catch is TablesMissing {
            found = nil
        } catch {
            throw ProjectionError(.storage, "opening the tables of '\(name)' failed: \(error)", projection: name)
        }
        guard let found else { return nil }
        handles.withLock { open in
            for table in entry.projection.tables {
                let full = Self.tableName(name, generation, table)
                if open[full] == nil { open[full] = found[table] }
            }
        }
        retireStaleHandles(name, before: generation)
        return openTables(name, generation: generation)
    }

    /// Closes this runtime's handles of `name`'s generations before `generation`, which another process swapped
    /// out and dropped (a swap in this process drops its old tables itself, which closes their handles). LMDB has
    /// slots for ``LMDBEventLog``'s 128 open tables, so a long-running process beside repeated rebuilds would run out
    /// of them. The generation is retired first, so no query or chunk starts on it; once the ones reading it have
    /// ended (within 60 s; otherwise a later call tries again), the handles whose tables are gone from the store are
    /// closed in the background, each only while its slot still holds its table
    /// (`LMDBEventLog.closeDroppedDatabases(_:)`), and forgotten. A check's scratch generations (negative numbers)
    /// are never touched.
    func retireStaleHandles(_ name: String, before generation: Int) {
        // A read-only log closes no handles (`closeDroppedDatabases`): nothing to retire for.
        guard log.accessMode == .readWrite, let tables = entries[name]?.projection.tables else { return }
        let prefix = "v.\(name)."
        let stale: [Int: [Database]] = handles.withLock { open in
            var found: [Int: [Database]] = [:]
            for (full, database) in open where full.hasPrefix(prefix) {
                for table in tables where full.hasSuffix("." + table) {
                    let middle = full.dropFirst(prefix.count).dropLast(table.count + 1)
                    if let old = Int(middle), old > 0, old < generation { found[old, default: []].append(database) }
                }
            }
            return found
        }
        for (old, databases) in stale {
            let key = "\(name).\(old)"
            guard closing.withLock({ $0.insert(key).inserted }) else { continue }  // already being closed
            readers.state.withLock { _ = $0.retired.insert(key) }
            closeWhenUnread(key, databases, deadline: ContinuousClock.now.advanced(by: .seconds(60)))
        }
    }

    /// Closes `databases` (a retired generation's handles) once no query or chunk reads generation `key`, polling
    /// without blocking the queue; gives up at `deadline`, leaving them open and cached for a later try.
    private func closeWhenUnread(_ key: String, _ databases: [Database], deadline: ContinuousClock.Instant) {
        handleCloser.async { [self] in
            if readers.state.withLock({ $0.active[key] ?? 0 }) > 0 {
                guard ContinuousClock.now < deadline else {
                    _ = closing.withLock { $0.remove(key) }
                    return
                }
                handleCloser.asyncAfter(deadline: .now() + .milliseconds(5)) {
                    self.closeWhenUnread(key, databases, deadline: deadline)
                }
                return
            }
            do {
                let (closed, gone) = try log.closeDroppedDatabases(databases)
                let names = Set((closed + gone).map(\.name))
                handles.withLock { open in for name in names { open[name] = nil } }
            } catch {
                logger.warning(
                    "closing the table handles of a retired view generation failed; they stay open",
                    metadata: ["generation": "\(key)", "error": "\(error)"])
            }
            _ = closing.withLock { $0.remove(key) }
        }
    }

    /// The already-open tables of a generation, or `nil` when one is not open.
    func openTables(_ name: String, generation: Int) -> [String: Database]? {
        openTables(name, generation: generation, in: handles.withLock { $0 })
    }

    /// The tables of a generation among `open` (a copy of the handle cache), or `nil` when one is not there.
    func openTables(_ name: String, generation: Int, in open: [String: Database]) -> [String: Database]? {
        guard let entry = entries[name] else { return nil }
        var result: [String: Database] = [:]
        for table in entry.projection.tables {
            guard let database = open[Self.tableName(name, generation, table)] else { return nil }
            result[table] = database
        }
        return result
    }

    /// The tables of a generation as they exist in `txn`, without creating or caching any; `nil` when one is missing.
    func existingTables(
        _ name: String, generation: Int, in txn: borrowing some ReadableTransaction & ~Copyable
    ) throws -> [String: Database]? {
        guard let entry = entries[name] else { return nil }
        var result: [String: Database] = [:]
        for table in entry.projection.tables {
            guard let database = try txn.openExistingDatabase(named: Self.tableName(name, generation, table)) else {
                return nil
            }
            result[table] = database
        }
        return result
    }

    func loadState(_ name: String) throws(ProjectionError) -> State? {
        do {
            let bytes = try log.readViews { txn in try txn.value(meta, key: Array(name.utf8)) }
            return try bytes.map(State.init(stored:))
        } catch {
            throw ProjectionError(.storage, "reading the state of '\(name)' failed: \(error)", projection: name)
        }
    }

    static func loadState(_ name: String, _ meta: Database, _ txn: borrowing some ReadableTransaction & ~Copyable)
        throws -> State?
    {
        try txn.value(meta, key: Array(name.utf8)).map(State.init(stored:))
    }

    static func saveState(
        _ name: String, _ state: State, _ meta: Database, _ txn: borrowing WriteTransaction
    ) throws {
        try txn.put(meta, key: Array(name.utf8), value: state.stored)
    }

    /// Stores `state` as projection `name`'s first state, in one transaction with the look that finds none: another
    /// runtime on the store may have stored one, and applied events from it, since this one looked.
    func insertState(_ name: String, _ state: State) throws(ProjectionError) {
        do {
            try log.writeViews { txn in
                guard try Self.loadState(name, meta, txn) == nil else { return }
                try Self.saveState(name, state, meta, txn)
            }
        } catch {
            throw ProjectionError(.storage, "writing the state of '\(name)' failed: \(error)", projection: name)
        }
    }

    func saveState(_ name: String, _ state: State) throws(ProjectionError) {
        do {
            try log.writeViews { txn in try Self.saveState(name, state, meta, txn) }
        } catch {
            throw ProjectionError(.storage, "writing the state of '\(name)' failed: \(error)", projection: name)
        }
    }

    // MARK: Applying

    /// A projection threw at an event: which projection, at which position, and what it threw.
    struct Stopped: Error {
        let projection: String
        let position: UInt64
        let error: any Error
    }

    /// Applies the events at `positions` to a generation's tables in `txn`; throws ``Stopped`` naming the event a
    /// projection threw at.
    func apply(
        _ name: String, positions: ClosedRange<UInt64>, tables: [String: Database], in txn: borrowing WriteTransaction
    ) throws {
        guard let entry = entries[name] else { return }
        let view = ViewTransaction(txn, databases: tables)
        // The built-in views share one decoding of each event's header per commit or chunk.
        let shared = upcasters.isEmpty ? entry.projection as? any HeaderAwareProjection : nil
        let headers = shared != nil ? try self.headers(for: positions, in: txn) : nil
        try log.forEachEvent(positions: positions, in: txn) { event in
            let header = headers?[Int(event.position - positions.lowerBound)]
            try applyEvent(event, to: entry.projection, named: name, shared: shared, header: header, view: view)
        }
    }

    /// Applies one event to one projection, the same way on every path (inline, catch-up, rebuild, check): a built-in
    /// view takes the event's shared header, and a case event without one stops it; any other projection sees the
    /// upcast event. The store's own errors pass through (a full map is retried after growth); anything else the
    /// projection throws becomes ``Stopped`` at this event.
    func applyEvent(
        _ event: borrowing EventView, to projection: any Projection, named name: String,
        shared: (any HeaderAwareProjection)?, header: RecordHeader?, view: borrowing ViewTransaction
    ) throws {
        try stopping(name, at: event.position) {
            if let shared {
                if header == nil, event.isCaseEvent { throw EventView.unreadable(event.position) }
                try shared.apply(event, header: header, to: view)
            } else {
                try upcasters.withCurrent(event) { current in try projection.apply(current, to: view) }
            }
        }
    }

    /// Runs projection `name`'s work on the event at `position`: the store's own errors pass through, anything else
    /// becomes ``Stopped`` there.
    func stopping(_ name: String, at position: UInt64, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as LMDBError {
            throw error
        } catch let error as EventLogError {
            throw error
        } catch {
            throw Stopped(projection: name, position: position, error: error)
        }
    }

    /// The workflow headers of the events at `positions`, decoded once for all views of a commit or chunk.
    ///
    /// A cached range is used only if its last event's chain hash is still the one at that position: a commit can fail
    /// after the inline views decoded its headers (a full disk, or a later observer's store error), and the next
    /// commit then writes other events at the same positions.
    func headers(for positions: ClosedRange<UInt64>, in txn: borrowing WriteTransaction) throws -> [RecordHeader?] {
        if let cached = headerCache.withLock({ $0 }), cached.range == positions {
            var last: ChainHash?
            try log.forEachEvent(positions: positions.upperBound...positions.upperBound, in: txn) { event in
                last = event.chainHash
            }
            if last == cached.last { return cached.headers }
        }
        var headers: [RecordHeader?] = []
        headers.reserveCapacity(positions.count)
        var last = ChainHash.zero
        try log.forEachEvent(positions: positions, in: txn) { event in
            headers.append(event.workflowHeader)
            last = event.chainHash
        }
        guard headers.count == positions.count else {
            throw ProjectionError(.storage, "the log returned \(headers.count) events for \(positions)")
        }
        headerCache.withLock { $0 = HeaderCache(range: positions, last: last, headers: headers) }
        return headers
    }

    /// Brings every projection that is behind (asynchronous ones, and inline ones that stopped or started late) up
    /// to the log's head, one chunk per transaction. Returns the number of events applied.
    ///
    /// Built-in views that start from nothing on a long log (deployed on a store that already holds events, or
    /// switched to a new version) are first filled by one bulk rebuild of them all, which is several times faster;
    /// when it cannot run (another process holds a view's maintenance lock) or stops, they catch up event by event.
    ///
    /// A projection that throws stops at that event: its checkpoint stays before it, the failure is recorded in its
    /// state and reported through the log and metrics, and the others go on. A projection whose catch-up fails
    /// otherwise (the store refused its writes) does not hold the others back either: they are brought up first,
    /// then the first such error is thrown.
    @discardableResult
    public func catchUp() throws(ProjectionError) -> Int {
        try catchUp(until: nil)
    }

    /// ``catchUp()`` that ends early, between chunks, once `stop` is set (``run()`` sets it when its task is
    /// cancelled or a graceful shutdown begins). A bulk fill in progress is finished first.
    func catchUp(until stop: StopFlag?) throws(ProjectionError) -> Int {
        var applied = stop?.isSet == true ? 0 : fillInBulk()
        var failure: ProjectionError?
        for name in order where stop?.isSet != true {
            do {
                applied += try catchUp(name, until: stop)
            } catch {
                logger.error(
                    "catching up a projection failed; the others go on",
                    metadata: ["projection": "\(name)", "error": "\(error)"])
                counter("caseledger_projection_catch_up_errors_total", name).increment()
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
        return applied
    }

    func catchUp(_ name: String, until stop: StopFlag? = nil) throws(ProjectionError) -> Int {
        // The gauges are refreshed however the round ends, so a view whose catch-up fails keeps showing its lag.
        defer { reportLag(name) }
        var applied = 0
        // Events per transaction: the chunk, halved while a transaction comes out too large for the store, and
        // doubled again (up to the chunk) after each that fits.
        var span = UInt64(chunkSize)
        // The event a projection stopped at, in which generation: the events before it are applied first, in chunks
        // as any are (so they are halved too if need be), then the stop is recorded with nothing else to write.
        var stoppedAt: (stopped: Stopped, generation: Int)?
        while stop?.isSet != true {
            let head: UInt64
            do { head = try log.head().position } catch {
                throw ProjectionError(.storage, "reading the head failed: \(error)", projection: name)
            }
            guard let state = try loadState(name), state.failedAt == nil, state.checkpoint < head,
                state.version == entries[name]?.projection.version
            else { break }
            guard let tables = try existingTablesOpened(name, generation: state.generation) else {
                // Another process retired this generation after the state above was read: read it again. The same
                // state with its tables missing is damage, not a race.
                guard try loadState(name) != state else {
                    throw ProjectionError(
                        .storage,
                        "the tables of generation \(state.generation) of '\(name)' are missing; rebuild the view",
                        projection: name)
                }
                continue
            }
            if let (stopped, generation) = stoppedAt, stopped.position <= state.checkpoint + 1 {
                // At the event: record the stop, unless the view moved meanwhile (then the event is met again, or not).
                if stopped.position == state.checkpoint + 1, generation == state.generation,
                    try recordStop(stopped, of: name, at: state)
                {
                    break
                }
                stoppedAt = nil
                continue
            }
            var last = min(head, state.checkpoint + span)
            if let (stopped, generation) = stoppedAt {
                guard generation == state.generation else {
                    stoppedAt = nil
                    continue
                }
                last = min(last, stopped.position - 1)
            }
            let range = (state.checkpoint + 1)...last
            let start = state
            do {
                // A built-in view's chunk is computed in read snapshots, outside the write lock, so appends do not
                // wait for it; the write keeps it only if nothing moved the view meanwhile (every write to a view's
                // tables moves its checkpoint or generation, in the same transaction). Otherwise the chunk is
                // computed again. The computing is registered as a reader of the generation, as queries are, so a
                // swap in this process drops its tables only after it.
                var computed: [ChunkRows]?
                if inSnapshots([name]) {
                    let rows = try asReader(name, generation: start.generation) {
                        try compute([[name]], range, [name: tables], previous: nil)
                    }
                    guard let rows else { continue }  // a swap retired the generation: the view moved
                    computed = rows
                }
                let done = try log.writeViews { txn -> Bool in
                    // Re-read inside the transaction: an inline commit or another catch-up may have moved it.
                    guard var current = try Self.loadState(name, meta, txn), current.checkpoint == start.checkpoint,
                        current.generation == start.generation
                    else { return false }
                    if let computed {
                        let databases = Array(tables.values)
                        for rows in computed { try rows.write(databases, txn) }
                    } else {
                        try applyBuffered([name], positions: range, tables: [name: tables], in: txn)
                    }
                    current.checkpoint = range.upperBound
                    try Self.saveState(name, current, meta, txn)
                    return true
                }
                if done {
                    applied += range.count
                    span = min(UInt64(chunkSize), span * 2)
                }
            } catch let stopped as Stopped {
                stoppedAt = (stopped, start.generation)
            } catch let error as EventLogError where error.code == .transactionTooLarge {
                // The chunk's writes do not fit in one transaction: try half as many events. An event whose writes
                // do not fit even alone stops the view there, as a projection's own failure does.
                if range.count > 1 {
                    span = UInt64(range.count / 2)
                    logger.notice(
                        "a catch-up chunk is too large for one transaction; halving it",
                        metadata: ["projection": "\(name)", "events": "\(span)", "error": "\(error)"])
                    continue
                }
                let tooLarge = ProjectionError(
                    .storage,
                    "the event's writes alone do not fit in one LMDB write transaction (MDB_TXN_FULL): the projection "
                        + "writes too much for one event", projection: name)
                stoppedAt = (Stopped(projection: name, position: range.lowerBound, error: tooLarge), start.generation)
            } catch {
                // A snapshot may have met tables a swap (in another process) dropped: then the view moved, and the
                // next round starts from where it is now.
                if let now = try? loadState(name),
                    now.generation != start.generation || now.checkpoint != start.checkpoint
                {
                    continue
                }
                throw ProjectionError(.storage, "applying events failed: \(error)", projection: name)
            }
        }
        return applied
    }

    /// Records that projection `name` stopped at an event, whose predecessors are applied (`state`'s checkpoint is
    /// just before it): the failure goes into the view's state, which keeps its checkpoint. Only if the view is still
    /// at `state`: a view another writer moved meets the event again (or not) in the next round, and this returns
    /// `false`.
    private func recordStop(_ stopped: Stopped, of name: String, at state: State) throws(ProjectionError) -> Bool {
        let recorded: Bool
        do {
            recorded = try log.writeViews { txn -> Bool in
                guard var failed = try Self.loadState(name, meta, txn), failed == state else { return false }
                failed.failedAt = stopped.position
                failed.failure = "\(stopped.error)"
                try Self.saveState(name, failed, meta, txn)
                return true
            }
        } catch {
            throw ProjectionError(.storage, "recording the failure failed: \(error)", projection: name)
        }
        guard recorded else { return false }
        logger.error(
            "projection stopped at an event; its checkpoint stays before it",
            metadata: ["projection": "\(name)", "position": "\(stopped.position)", "error": "\(stopped.error)"])
        counter("caseledger_projection_failures_total", name).increment()
        return true
    }

    /// Clears a projection's recorded failure so ``catchUp()`` tries the event again (after a fix was deployed).
    public func resume(_ name: String) throws(ProjectionError) {
        guard entries[name] != nil else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        do {
            try log.writeViews { txn in
                guard var state = try Self.loadState(name, meta, txn) else { return }
                state.failedAt = nil
                state.failure = nil
                try Self.saveState(name, state, meta, txn)
            }
        } catch {
            throw ProjectionError(.storage, "resuming '\(name)' failed: \(error)", projection: name)
        }
    }

    /// The projections' progress.
    public func status() throws(ProjectionError) -> [Status] {
        let head: UInt64
        do { head = try log.head().position } catch {
            throw ProjectionError(.storage, "reading the head failed: \(error)")
        }
        var result: [Status] = []
        for name in order {
            guard let entry = entries[name], let state = try loadState(name) else { continue }
            result.append(
                Status(
                    name: name, mode: entry.mode, version: state.version, generation: state.generation,
                    checkpoint: state.checkpoint, lag: head > state.checkpoint ? head - state.checkpoint : 0,
                    failedAt: state.failedAt, failure: state.failure))
        }
        return result
    }

    /// Records the gauges of `name`: positions behind the head, the age of the oldest event not yet applied (the
    /// log's clock now, less the time that event was recorded; 0 when none is waiting), the checkpoint, and the
    /// position of the event the projection stopped at (0 while it runs). ``run()`` catches up,
    /// and so records them, at least every `crossProcessPollInterval`, so the age of a stopped view keeps growing.
    func reportLag(_ name: String) {
        guard let state = try? loadState(name), let head = try? log.head() else { return }
        let behind = head.position > state.checkpoint ? head.position - state.checkpoint : 0
        gauge("caseledger_projection_lag_positions", name).record(Int64(behind))
        gauge("caseledger_projection_checkpoint", name).record(Int64(clamping: state.checkpoint))
        gauge("caseledger_projection_stopped_at", name).record(Int64(clamping: state.failedAt ?? 0))
        var age: Double = 0
        if behind > 0, let oldest = try? log.read(from: state.checkpoint + 1, direction: .forwards, limit: 1).first {
            let now = log.configuration.clock.now()
            age = max(0, Double(now.microsecondsSinceEpoch - oldest.recordedAt.microsecondsSinceEpoch) / 1e6)
        }
        gauge("caseledger_projection_lag_seconds", name).record(age)
    }

    func counter(_ label: String, _ projection: String) -> Counter {
        if let metrics { return Counter(label: label, dimensions: [("projection", projection)], factory: metrics) }
        return Counter(label: label, dimensions: [("projection", projection)])
    }

    func gauge(_ label: String, _ projection: String) -> Gauge {
        if let metrics { return Gauge(label: label, dimensions: [("projection", projection)], factory: metrics) }
        return Gauge(label: label, dimensions: [("projection", projection)])
    }

    /// Runs until cancelled: catches up, then waits for appends and catches up again.
    ///
    /// The catching up runs on the runtime's own thread (a serial dispatch queue), not on the task's: it blocks while
    /// it reads and writes the store, and may wait up to `versionSwitchWait` for another process's maintenance lock,
    /// which must not hold one of the few threads Swift concurrency shares with the rest of the server.
    ///
    /// It returns when its task is cancelled or, inside a `ServiceGroup`, when a graceful shutdown begins: the chunk
    /// being applied is finished first (its rows and checkpoint commit together, so nothing is half done), and so is
    /// a bulk fill in progress (views that start from nothing on a long log: seconds, or half a minute at 10M
    /// events). List the runtime before the services that append (an HTTP server), so that it stops after them
    /// (a `ServiceGroup` stops its services in reverse order) and what they appended while draining is applied.
    public func run() async throws {
        let stop = StopFlag()
        await cancelWhenGracefulShutdown { [self] in
            await withTaskCancellationHandler {
                while !Task.isCancelled {
                    let position: UInt64
                    do {
                        try await catchUpOnItsThread(until: stop)
                        position = try log.head().position
                    } catch {
                        logger.error("projection catch-up failed", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                        continue
                    }
                    await log.waitForAppend(after: position)
                }
            } onCancel: {
                // The catch-up runs on its own thread: it sees this between chunks.
                stop.set()
            }
        }
    }

    /// The label of the dispatch queue ``run()`` catches up on.
    static let catchUpQueueLabel = "caseledger.projections.catch-up"
    /// Set (to `true`) on that queue, for tests that check where work runs.
    package static let catchUpQueueKey = DispatchSpecificKey<Bool>()

    /// ``catchUp()`` on ``catchUpQueue``, awaited.
    @discardableResult
    private func catchUpOnItsThread(until stop: StopFlag) async throws(ProjectionError) -> Int {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Int, ProjectionError>, Never>) in
            catchUpQueue.async {
                done.resume(returning: Result { () throws(ProjectionError) -> Int in try self.catchUp(until: stop) })
            }
        }
        return try result.get()
    }

    // MARK: Reading

    /// Reads a projection's active tables in one snapshot.
    public func read<R>(_ name: String, _ body: (borrowing ViewReader) throws -> R) throws -> R {
        guard entries[name] != nil else {
            throw ProjectionError(.unknownProjection, "no projection is named '\(name)'")
        }
        // The generation is read in the same snapshot as the rows, and only handles already open are used (a swap
        // opens the new generation's tables before it commits), so a query never re-creates a dropped table. A
        // generation another process swapped in is opened once, outside the snapshot, and the read runs again.
        for _ in 0..<2 {
            var missing: Int?
            // Only handles cached before the snapshot begins: LMDB refuses, in a transaction, a handle opened after it
            // began (another thread may be opening the generation's tables right now).
            let cached = handles.withLock { $0 }
            let result = try log.readViews { txn -> R? in
                guard let state = try Self.loadState(name, meta, txn) else {
                    throw ProjectionError(.unknownProjection, "'\(name)' has no state yet", projection: name)
                }
                // Rows of another version's format are not read as this one's (another release switched the view).
                try requireRegisteredVersion(name, state)
                // A generation a swap retired (this snapshot predates the swap): read again in a new snapshot.
                let read = try asReader(name, generation: state.generation) { () throws -> R? in
                    guard let tables = openTables(name, generation: state.generation, in: cached) else {
                        missing = state.generation
                        return nil
                    }
                    return try body(ViewReader(txn: ReadTransaction(sameAs: txn), databases: tables))
                }
                return read ?? nil
            }
            if let result { return result }
            // Opened without creating: a generation retired meanwhile is read again in a new snapshot.
            if let generation = missing { _ = try existingTablesOpened(name, generation: generation) }
        }
        throw ProjectionError(.storage, "'\(name)' kept changing generation during the read; retry", projection: name)
    }

    /// Runs `body` registered as a reader of generation `generation` of `name`, as queries are: a swap in this
    /// process drops a generation's tables only after its readers end. `nil`, without running `body`, when a swap
    /// already retired that generation.
    func asReader<R>(_ name: String, generation: Int, _ body: () throws -> R) rethrows -> R? {
        let key = "\(name).\(generation)"
        let admitted = readers.state.withLock { readers -> Bool in
            guard !readers.retired.contains(key) else { return false }
            readers.active[key, default: 0] += 1
            return true
        }
        guard admitted else { return nil }
        defer {
            readers.state.withLock { readers in
                readers.active[key, default: 1] -= 1
                if readers.active[key] == 0 { readers.active[key] = nil }
            }
        }
        return try body()
    }

    /// Drops a generation's tables once no query reads them. A swap has already made another generation active, so
    /// new queries never start on it; the ones that began before the swap finish first (LMDB closes a table's handle
    /// when it drops the table). When queries outlast `patience`, the tables stay and are dropped when the runtime
    /// next opens.
    func retire(_ name: String, generation: Int, tables: [String: Database], patience: Duration = .seconds(60)) {
        let key = "\(name).\(generation)"
        readers.state.withLock { _ = $0.retired.insert(key) }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: patience)
        while readers.state.withLock({ $0.active[key] ?? 0 }) > 0 {
            guard clock.now < deadline else {
                logger.warning(
                    "queries still read a retired view generation; its tables are dropped at the next start",
                    metadata: ["projection": "\(name)", "generation": "\(generation)"])
                return
            }
            Thread.sleep(forTimeInterval: 0.001)
        }
        do {
            try log.writeViews { txn in for database in tables.values { try txn.drop(named: database.name) } }
        } catch {
            logger.error(
                "dropping a retired view generation failed; it is dropped at the next start",
                metadata: ["projection": "\(name)", "generation": "\(generation)", "error": "\(error)"])
        }
        forget(name, generation: generation)
    }

    /// Drops the tables of every generation before the active one: generations a swap retired but did not drop (the
    /// process ended first, or queries outlasted the wait). Later generations (another process's rebuild under way)
    /// and a check's scratch tables (emptied by the next check) are left alone, as is a read-only log.
    func dropLeftovers(_ name: String, keeping active: Int) throws(ProjectionError) {
        guard let entry = entries[name], log.accessMode == .readWrite else { return }
        let prefix = Array("v.\(name).".utf8)
        var leftovers: [(generation: Int, table: String)] = []
        do {
            // The environment's main database lists the named ones; opening a missing table would create it. Even
            // the main database is opened only where opening tables takes turns.
            try log.openingTables { txn in
                try ViewReader.walk(txn, try txn.openMainDatabase(), from: prefix) { key, _ in
                    guard key.starts(with: prefix) else { return false }
                    let rest = String(decoding: key[prefix.count...], as: UTF8.self)
                    guard let dot = rest.firstIndex(of: "."), let generation = Int(rest[..<dot]),
                        generation > 0, generation < active
                    else { return true }
                    let table = String(rest[rest.index(after: dot)...])
                    if entry.projection.tables.contains(table) { leftovers.append((generation, table)) }
                    return true
                }
            }
            // Another runtime of this process may still be swapping one out: no new query starts on these, and one
            // whose queries are still running is left to that runtime's swap (or the next start).
            leftovers = readers.state.withLock { readers in
                leftovers.filter { leftover in
                    let key = "\(name).\(leftover.generation)"
                    readers.retired.insert(key)
                    return (readers.active[key] ?? 0) == 0
                }
            }
            guard !leftovers.isEmpty else { return }
            // By name, in the dropping transaction: opening each first would re-create one another runtime dropped.
            let stale = leftovers.map { Self.tableName(name, $0.generation, $0.table) }
            try log.writeViews { txn in for table in stale { try txn.drop(named: table) } }
        } catch {
            throw ProjectionError(
                .storage, "dropping leftover tables of '\(name)' failed: \(error)", projection: name)
        }
        for generation in Set(leftovers.map(\.generation)) { forget(name, generation: generation) }
        logger.info(
            "dropped leftover view tables", metadata: ["projection": "\(name)", "tables": "\(leftovers.count)"])
    }

    /// Marks projections as under maintenance for the duration of `body`: a second rebuild, check or version switch
    /// of one of them fails with ``ProjectionError/Code/busy``, whether it comes from this runtime, another runtime
    /// in this process or another process on the same store.
    ///
    /// Within the runtime a set of names excludes; across runtimes and processes, a `flock` on a lock file per
    /// projection in the store's directory (``maintenanceLockPath(_:)``), which the system releases if the process
    /// dies, so a crashed rebuild never leaves a view locked.
    func exclusively<R>(_ names: [String], _ body: () throws(ProjectionError) -> R) throws(ProjectionError) -> R {
        let taken = maintenance.withLock { busy -> Bool in
            guard busy.isDisjoint(with: names) else { return false }
            busy.formUnion(names)
            return true
        }
        guard taken else {
            throw ProjectionError(
                .busy,
                "a rebuild, check or version switch of \(names.joined(separator: ", ")) is already running; wait for it",
                projection: names.count == 1 ? names.first : nil)
        }
        defer { maintenance.withLock { busy in busy.subtract(names) } }
        guard log.accessMode == .readWrite else {
            throw ProjectionError(
                .storage,
                "the log is open read-only; rebuilding, checking or switching the version of "
                    + "\(names.joined(separator: ", ")) writes view tables, so open it read-write",
                projection: names.count == 1 ? names.first : nil)
        }
        var locks: [FileLock] = []
        defer { for lock in locks { lock.release() } }
        for name in Set(names).sorted() {
            let path = maintenanceLockPath(name)
            do throws(FileLock.Failure) {
                locks.append(try FileLock.take(path))
            } catch {
                switch error {
                case .held:
                    throw ProjectionError(
                        .busy,
                        "another process (or runtime) on this store is rebuilding or checking '\(name)' (it holds "
                            + "\(path)); try again when it ends", projection: name)
                case .system(let code):
                    throw ProjectionError(
                        .storage,
                        "cannot lock \(path) for maintenance of '\(name)': \(error.reason) (errno \(code)); the lock "
                            + "file is created in the store's directory, which must be writable", projection: name)
                }
            }
        }
        return try body()
    }

    /// The lock file that makes maintenance of projection `name` exclusive across processes:
    /// `views.<name>.lock` in the store's directory, with bytes other than ASCII letters, digits, `-` and `_` of the
    /// name written as `%XX`. A name whose encoded form is longer than 200 bytes is cut to its first 100 bytes and
    /// followed by `~` and the SHA-256 of the whole name in hexadecimal, so every name has its own file.
    func maintenanceLockPath(_ name: String) -> String {
        var encoded = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        if encoded.utf8.count > 200 {
            let digest = SHA256.hash(data: Array(name.utf8)).map { String(format: "%02x", $0) }.joined()
            encoded = String(encoded.prefix(100)) + "~" + digest
        }
        return log.path + "/views." + encoded + ".lock"
    }
}

/// Runs an inline projection inside each append's write transaction.
final class InlineObserver: CommitObserver {
    let name: String
    private let runtime: ProjectionRuntime

    init(runtime: ProjectionRuntime, name: String) {
        self.runtime = runtime
        self.name = name
    }

    func didWrite(positions: ClosedRange<UInt64>, log: LMDBEventLog, in txn: borrowing WriteTransaction) throws {
        guard var state = try ProjectionRuntime.loadState(name, runtime.meta, txn),
            state.failedAt == nil, state.checkpoint == positions.lowerBound - 1,
            state.version == runtime.entries[name]?.projection.version
        else {
            // Behind (it stopped, or was added to a log with events): catchUp() brings it up in order.
            return
        }
        // Handles opened before (at start-up or by a rebuild); else, a generation another process swapped in is
        // opened in this transaction, not created, and not cached (LMDB closes a handle opened in a transaction that
        // aborts; queries and catch-up open it for good).
        let cached = runtime.openTables(name, generation: state.generation)
        if cached == nil {
            // Opened in this transaction only: open them for good after it, which also closes the handles of the
            // generations another process retired (an inline-only runtime may never query or catch up).
            let (runtime, name, generation) = (runtime, name, state.generation)
            let key = "\(name).\(generation)"
            if runtime.opening.withLock({ $0.insert(key).inserted }) {
                runtime.handleCloser.async {
                    _ = try? runtime.existingTablesOpened(name, generation: generation)
                    _ = runtime.opening.withLock { $0.remove(key) }
                }
            }
        }
        guard let tables = try cached ?? runtime.existingTables(name, generation: state.generation, in: txn) else {
            runtime.logger.warning(
                "inline projection's tables are missing; it falls behind and catchUp() brings it up",
                metadata: ["projection": "\(name)", "generation": "\(state.generation)"])
            return
        }
        do {
            try runtime.apply(name, positions: positions, tables: tables, in: txn)
        } catch let stopped as ProjectionRuntime.Stopped {
            // The nested transaction is discarded; catchUp() meets the same event and records the failure.
            runtime.logger.error(
                "inline projection failed; it falls behind and catchUp() will record where",
                metadata: ["projection": "\(name)", "position": "\(stopped.position)", "error": "\(stopped.error)"])
            // Metrics see it now, not only once catchUp() records it (which sets the gauge again, or back to 0 if
            // the event applies then).
            runtime.gauge("caseledger_projection_stopped_at", name).record(Int64(clamping: stopped.position))
            throw stopped.error
        }
        state.checkpoint = positions.upperBound
        try ProjectionRuntime.saveState(name, state, runtime.meta, txn)
    }
}
