package import CaseLedgerLMDB
import Dispatch
import Foundation
public import Logging
import Synchronization

/// The event log on an embedded LMDB store: durable, gap-free, hash-chained, with group commit.
///
/// Concurrent ``append(_:)`` calls are gathered into one LMDB write transaction and one durable commit. Each caller
/// resumes once its own events are durable and gets its own result or its own error: a conflict in one request
/// leaves the others of the batch untouched. Reads never wait for the writer (LMDB's MVCC), in this process or in
/// others.
///
/// ```swift
/// let log = try LMDBEventLog.open(at: "/var/lib/caseledger/county")
/// let result = try await log.append(to: "case-1", expectedVersion: .noStream, events: [event])
/// for try await recorded in log.events(inStream: "case-1") { print(recorded.type) }
/// ```
///
/// - Important: A process opens a store once; share the instance (it is `Sendable`). Call ``close()`` before the
///   process ends to let pending appends finish.
public final class LMDBEventLog: EventLog {
    /// How durable a commit is.
    public enum Durability: Sendable, Hashable {
        /// Every commit is flushed to disk before any appender of the batch resumes (the default).
        case durable
        /// Commits are not flushed (`MDB_NOSYNC`): fast bulk import. A process crash loses nothing; a machine or
        /// power failure may lose the latest commits (never the log's consistency). Call ``sync()`` at the end.
        case relaxedForBulkImport
    }

    /// How a store is opened.
    public enum AccessMode: Sendable, Hashable {
        /// Read and write; creates the store if the directory holds none.
        case readWrite
        /// Read only, alongside writers in other processes.
        case readOnly
        /// Read only, without LMDB's lock file: for a copy that no process writes to (an auditor's copy, a backup
        /// on read-only media). Nothing in the directory is created or changed.
        case readOnlySnapshot
    }

    /// Settings of a log.
    public struct Configuration: Sendable {
        /// The map size the store starts with, in bytes. The map is address space, not disk: the data file grows
        /// only as pages are used. A large start makes growth rare, and growth briefly waits for every transaction
        /// of the process to end.
        public var initialMapSize: Int = 8 << 30
        /// The largest map size growth may reach, in bytes.
        public var maxMapSize: Int = 1 << 40
        /// Whether the map grows by itself (doubling) when full. With growth off, a full map fails appends with
        /// ``EventLogError/Code/storageFull``.
        public var growsAutomatically: Bool = true
        /// Reader slots for concurrent read transactions across all processes.
        public var maxReaders: Int = 256
        /// Durable commits (default) or relaxed ones for bulk import.
        public var durability: Durability = .durable
        /// The largest payload plus metadata of one event, in bytes.
        public var maxEventBytes: Int = 1 << 20
        /// The longest stream id, in UTF-8 bytes (at most 400: LMDB keys are limited to 511 bytes).
        public var maxStreamIDBytes: Int = 200
        /// The longest idempotency key, in UTF-8 bytes (at most 400).
        public var maxIdempotencyKeyBytes: Int = 200
        /// The most events one group commit gathers; further appenders wait for the next commit.
        public var maxEventsPerCommit: Int = 20_000
        /// Where recorded-at times come from.
        public var clock: any EventClock = SystemClock()
        /// How often a waiting subscription re-reads the store to notice appends made by other processes.
        public var crossProcessPollInterval: Duration = .milliseconds(250)
        /// The logger for commit failures and store events; none by default.
        public var logger: Logger? = nil

        public init() {}
    }

    /// The store format this version writes and reads.
    public static let storeFormatVersion: UInt32 = 1

    struct Databases {
        let meta: Database
        let events: Database
        let streams: Database
        let idempotency: Database
    }

    struct Pending {
        let request: AppendRequest
        let eventCount: Int
        let continuation: CheckedContinuation<Result<AppendResult, EventLogError>, Never>
    }

    struct WriterState {
        var queue: [Pending] = []
        var draining = false
        var closed = false
    }

    package let environment: Environment
    let databases: Databases
    let observers = Mutex<[any CommitObserver]>([])
    /// The view generations this process's queries read (package API for `CaseLedgerProjections`).
    package let viewReaders = ViewReaders()
    /// The store's directory.
    public let path: String
    /// The settings the log was opened with.
    public let configuration: Configuration
    /// How the log was opened.
    public let accessMode: AccessMode
    let logger: Logger
    let writer = Mutex(WriterState())
    let writerQueue = DispatchQueue(label: "caseledger.log.group-commit")
    private let notifier: HeadNotifier

    private init(
        environment: Environment, databases: Databases, configuration: Configuration, accessMode: AccessMode,
        head: UInt64
    ) {
        self.environment = environment
        self.databases = databases
        self.path = environment.path
        self.configuration = configuration
        self.accessMode = accessMode
        self.logger =
            configuration.logger ?? Logger(label: "caseledger.log", factory: { _ in SwiftLogNoOpLogHandler() })
        self.notifier = HeadNotifier(head: head)
    }

    deinit {
        environment.close()
    }

    // MARK: Opening

    /// Opens the store in the directory `path`, creating it when the directory holds none (read-write only).
    ///
    /// Opening checks the store format recorded in the store and changes nothing in an existing store.
    ///
    /// - Throws: ``EventLogError`` — ``EventLogError/Code/incompatibleFormat`` for a store of an unknown or newer
    ///   format, ``EventLogError/Code/notAStore`` for a directory holding something else,
    ///   ``EventLogError/Code/alreadyOpen`` when this process has it open, or ``EventLogError/Code/storage``.
    public static func open(
        at path: String, mode: AccessMode = .readWrite, configuration: Configuration = .init()
    ) throws(EventLogError) -> LMDBEventLog {
        guard (1...400).contains(configuration.maxStreamIDBytes),
            (1...400).contains(configuration.maxIdempotencyKeyBytes),
            (1...(256 << 20)).contains(configuration.maxEventBytes), configuration.maxEventsPerCommit > 0,
            (1...100_000).contains(configuration.maxReaders), configuration.initialMapSize > 0,
            configuration.maxMapSize > 0
        else {
            throw EventLogError(
                code: .invalidRequest,
                message: "configuration out of range: maxStreamIDBytes and maxIdempotencyKeyBytes must be 1...400, "
                    + "maxEventBytes 1...256 MiB, maxReaders 1...100000, maxEventsPerCommit and map sizes positive")
        }
        var lmdb = Environment.Configuration()
        lmdb.mapSize = configuration.initialMapSize
        lmdb.maxMapSize = max(configuration.maxMapSize, configuration.initialMapSize)
        lmdb.growsAutomatically = configuration.growsAutomatically
        lmdb.maxReaders = configuration.maxReaders
        lmdb.maxDatabases = 128
        lmdb.readOnly = mode != .readWrite
        lmdb.withoutLocking = mode == .readOnlySnapshot
        lmdb.syncOnCommit = configuration.durability == .durable
        if mode != .readWrite {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path + "/data.mdb", isDirectory: &isDirectory),
                !isDirectory.boolValue
            else {
                throw EventLogError(
                    code: .notAStore, message: "no store at \(path) (no data.mdb); check the path")
            }
        }
        let environment: Environment
        do {
            environment = try Environment.open(path: path, configuration: lmdb)
        } catch {
            throw Self.translate(error, context: "opening \(path)")
        }
        do {
            let (databases, head) = try openDatabases(environment, mode: mode)
            return LMDBEventLog(
                environment: environment, databases: databases, configuration: configuration, accessMode: mode,
                head: head.position)
        } catch {
            environment.close()
            throw error
        }
    }

    private static func openDatabases(_ environment: Environment, mode: AccessMode) throws(EventLogError)
        -> (Databases, LogHead)
    {
        // First look without writing anything: an existing store is checked, never changed, by opening.
        let existing: (Databases, LogHead)?
        do {
            existing = try environment.read { txn in try existingStore(txn) }
        } catch {
            throw translate(error, context: "reading the store's format")
        }
        if let existing { return existing }

        // No meta database: an empty environment becomes a new store; anything else is not ours. Another process
        // may have created the store since the first look, so this snapshot looks for it again.
        let isEmpty: Bool
        do {
            let found = try environment.read { txn -> ((Databases, LogHead)?, Bool) in
                if let store = try existingStore(txn) { return (store, false) }
                let empty = try txn.withCursor(try txn.openMainDatabase()) { cursor in
                    try cursor.move(.first) { _, _ in true } == nil
                }
                return (nil, empty)
            }
            if let store = found.0 { return store }
            isEmpty = found.1
        } catch {
            throw translate(error, context: "inspecting the store")
        }
        guard isEmpty else {
            throw EventLogError(
                code: .notAStore,
                message: "\(environment.path) holds an LMDB environment that is not a CaseLedger store; "
                    + "choose another directory")
        }
        guard mode == .readWrite else {
            throw EventLogError(
                code: .notAStore,
                message: "\(environment.path) holds no CaseLedger store yet; open it read-write to "
                    + "create one")
        }
        do {
            let created = try environment.write { txn -> Bool in
                // Another process may have created the store since we looked: then write nothing here.
                if try txn.openExistingDatabase(named: "meta") != nil { return false }
                let databases = Databases(
                    meta: try txn.openDatabase(named: "meta", create: true),
                    events: try txn.openDatabase(named: "events", create: true),
                    streams: try txn.openDatabase(named: "streams", create: true),
                    idempotency: try txn.openDatabase(named: "idempotency", create: true))
                try txn.put(
                    databases.meta, key: Array("format".utf8),
                    value: withUnsafeBytes(of: storeFormatVersion.bigEndian) { Array($0) }, options: .noOverwrite)
                try txn.put(databases.meta, key: Array("head".utf8), value: encodeHead(.empty), options: .noOverwrite)
                return true
            }
            _ = created
        } catch {
            throw translate(error, context: "creating the store")
        }
        // Open it as an existing store, whoever created it, with all of its checks.
        do {
            if let existing = try environment.read({ txn in try existingStore(txn) }) { return existing }
        } catch {
            throw translate(error, context: "reading the store's format")
        }
        throw EventLogError(code: .corrupted, message: "the store was created but its meta database is missing")
    }

    /// The store's databases and head when the environment holds a CaseLedger store of this format; `nil` when it
    /// holds no `meta` database at all.
    private static func existingStore(_ txn: borrowing ReadTransaction) throws -> (Databases, LogHead)? {
        guard let meta = try txn.openExistingDatabase(named: "meta") else { return nil }
        guard let format = try txn.value(meta, key: Array("format".utf8)), format.count == 4 else {
            throw EventLogError(
                code: .notAStore, message: "the store's meta database has no format record")
        }
        let version = format.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard version == storeFormatVersion else {
            throw EventLogError(
                code: .incompatibleFormat,
                message: "the store has format version \(version); this CaseLedger reads version "
                    + "\(storeFormatVersion) only. Use a CaseLedger release that supports format \(version); "
                    + "the store was left unchanged")
        }
        func table(_ name: String) throws -> Database {
            guard let database = try txn.openExistingDatabase(named: name) else {
                throw EventLogError(
                    code: .corrupted,
                    message: "the store has a format record but no '\(name)' table: it is damaged; run verify on a "
                        + "copy and restore it from a backup")
            }
            return database
        }
        let databases = Databases(
            meta: meta, events: try table("events"), streams: try table("streams"),
            idempotency: try table("idempotency"))
        return (databases, try readHead(txn, databases))
    }

    /// Closes the log: pending appends finish first; later calls fail with ``EventLogError/Code/closed``.
    public func close() {
        writer.withLock { $0.closed = true }
        // The drain loop in flight, if any, finishes every queued append. Not from inside a transaction closure:
        // the drain might need to grow the map, which waits for this thread's transaction to end.
        if !environment.isInTransactionOnCurrentThread { writerQueue.sync {} }
        notifier.close()
        environment.close()
    }

    /// Flushes relaxed commits to disk (a no-op cost for durable logs).
    public func sync() throws(EventLogError) {
        do { try environment.sync() } catch { throw Self.translate(error, context: "sync") }
    }

    // MARK: Append

    public func append(_ request: AppendRequest) async throws(EventLogError) -> AppendResult {
        try validate(request)
        guard accessMode == .readWrite else {
            throw EventLogError(code: .readOnly, message: "the log was opened read-only; open it read-write to append")
        }
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<AppendResult, EventLogError>, Never>) in
            let pending = Pending(request: request, eventCount: request.eventCount, continuation: continuation)
            // The drain is scheduled under the lock, so `close()` (which marks the log closed under the same lock
            // and then waits for the writer queue) always waits for every append it did not refuse.
            let accepted = writer.withLock { state -> Bool in
                if state.closed { return false }
                state.queue.append(pending)
                if !state.draining {
                    state.draining = true
                    writerQueue.async { self.drain() }
                }
                return true
            }
            if !accepted { continuation.resume(returning: .failure(Self.closedError)) }
        }
        return try result.get()
    }

    static let closedError = EventLogError(code: .closed, message: "the log is closed; open it again")

    private func validate(_ request: AppendRequest) throws(EventLogError) {
        guard !request.streams.isEmpty else {
            throw EventLogError(code: .invalidRequest, message: "the request names no stream; add events to append")
        }
        if let key = request.idempotencyKey {
            let count = key.utf8.count
            guard count > 0, count <= configuration.maxIdempotencyKeyBytes else {
                throw EventLogError(
                    code: .invalidIdempotencyKey,
                    message: "idempotency key has \(count) bytes; use 1 to \(configuration.maxIdempotencyKeyBytes)")
            }
        }
        var seen = Set<[UInt8]>()  // by bytes: canonically equal ids with other bytes are other streams
        var hasEvents = false
        for stream in request.streams {
            let id = stream.streamID
            let bytes = id.utf8.count
            guard bytes > 0 else {
                throw EventLogError(code: .invalidStreamID, message: "stream id is empty; give every case an id")
            }
            guard bytes <= configuration.maxStreamIDBytes else {
                throw EventLogError(
                    code: .invalidStreamID,
                    message: "stream id has \(bytes) bytes; the limit is \(configuration.maxStreamIDBytes)",
                    streamID: String(id.prefix(40)) + "…")
            }
            guard !id.utf8.contains(0) else {
                throw EventLogError(
                    code: .invalidStreamID, message: "stream id contains a NUL character", streamID: id)
            }
            guard seen.insert(Array(id.utf8)).inserted else {
                throw EventLogError(
                    code: .invalidRequest, message: "stream appears twice in one request; merge its events",
                    streamID: id)
            }
            if stream.events.isEmpty, case .any = stream.expectedVersion {
                throw EventLogError(
                    code: .invalidRequest,
                    message: "a stream without events is only checked against its expected version; name one "
                        + "(not .any), or add events", streamID: id)
            }
            if case .exact(let version) = stream.expectedVersion {
                guard version >= 0 else {
                    throw EventLogError(
                        code: .invalidExpectedVersion,
                        message: "expected version \(version) is negative; use .noStream or a version ≥ 0",
                        streamID: id)
                }
                guard UInt64(version) <= UInt64(Int64.max) - UInt64(stream.events.count) else {
                    throw EventLogError(
                        code: .invalidExpectedVersion,
                        message: "expected version \(version) leaves no room for \(stream.events.count) more events",
                        streamID: id)
                }
            }
            hasEvents = hasEvents || !stream.events.isEmpty
            for event in stream.events {
                let size = event.payload.count + event.metadata.count
                guard size <= configuration.maxEventBytes else {
                    throw EventLogError(
                        code: .eventTooLarge,
                        message: "event \(event.type) has \(size) bytes of payload and metadata; the limit is "
                            + "\(configuration.maxEventBytes) (Configuration.maxEventBytes)", streamID: id)
                }
                // Checked without building a collection: this runs for every event of every append.
                try Self.checkField("event type", event.type, allowEmpty: false, streamID: id)
                try Self.checkField("actor user id", event.actor.userID, allowEmpty: true, streamID: id)
                try Self.checkField("actor role", event.actor.role, allowEmpty: true, streamID: id)
                try Self.checkField("actor unit", event.actor.unit, allowEmpty: true, streamID: id)
            }
        }
        guard hasEvents else {
            throw EventLogError(
                code: .invalidRequest,
                message: "the request appends no event (its streams are only checked); add events")
        }
    }

    @inline(__always)
    private static func checkField(_ name: StaticString, _ value: String, allowEmpty: Bool, streamID: String)
        throws(EventLogError)
    {
        let count = value.utf8.count
        guard count <= 1024, allowEmpty || count > 0 else {
            throw EventLogError(
                code: .invalidRequest,
                message: "\(name) has \(count) bytes; use \(allowEmpty ? 0 : 1) to 1024 bytes", streamID: streamID)
        }
    }

    /// The writer loop: takes every queued append (up to the per-commit cap), commits them together, resumes each
    /// caller with its own result, and repeats until the queue is empty.
    private func drain() {
        while true {
            let batch = writer.withLock { state -> [Pending] in
                guard !state.queue.isEmpty else {
                    state.draining = false
                    return []
                }
                var taken = 0
                var events = 0
                for pending in state.queue {
                    if taken > 0 && events + pending.eventCount > configuration.maxEventsPerCommit { break }
                    taken += 1
                    events += pending.eventCount
                }
                let batch = Array(state.queue.prefix(taken))
                state.queue.removeFirst(taken)
                return batch
            }
            if batch.isEmpty { return }
            let results = commit(batch.map(\.request))
            for (index, pending) in batch.enumerated() {
                // One result per request; a missing one would leave its caller waiting for ever.
                let result =
                    results.indices.contains(index)
                    ? results[index]
                    : .failure(EventLogError(code: .storage, message: "the commit returned no result for this append"))
                pending.continuation.resume(returning: result)
            }
        }
    }

    private func commit(_ requests: [AppendRequest]) -> [Result<AppendResult, EventLogError>] {
        do {
            let (results, head) = try environment.write { txn in
                let (results, head, before) = try BatchWriter(databases: databases, clock: configuration.clock)
                    .write(requests, in: txn)
                if head > before { try runObservers(positions: (before + 1)...head, in: txn) }
                return (results, head)
            }
            notifier.advance(to: head)
            return results
        } catch {
            let failure = Self.translate(error, context: "committing \(requests.count) appends")
            if requests.count > 1 && failure.code != .closed {
                // One request may be what failed the batch (too big for the space left, say): commit each alone so
                // every other caller still gets its own outcome.
                logger.warning(
                    "group commit failed; committing its appends one by one",
                    metadata: ["requests": "\(requests.count)", "error": "\(failure)"])
                return requests.flatMap { commit([$0]) }
            }
            logger.error("append failed", metadata: ["error": "\(failure)"])
            // Every request of the batch gets the failure: a closed store fails them all at once.
            return Array(repeating: .failure(failure), count: requests.count)
        }
    }

    // MARK: Reads

    public func head() throws(EventLogError) -> LogHead {
        try reading("reading the head") { txn in try Self.readHead(txn, databases) }
    }

    public func appendResult(forIdempotencyKey key: String) throws(EventLogError) -> AppendResult? {
        let databases = self.databases
        return try reading("looking up an idempotency key") { txn in
            try BatchWriter.lookUpStoredResult(forKey: key, txn, databases)?.0
        }
    }

    public func version(ofStream streamID: String) throws(EventLogError) -> UInt64 {
        try reading("reading stream \(streamID)") { txn in try Self.currentVersion(of: streamID, txn, databases) }
    }

    public func read(stream streamID: String, from version: UInt64, direction: ReadDirection, limit: Int)
        throws(EventLogError) -> [RecordedEvent]
    {
        guard limit > 0, !streamID.isEmpty else { return [] }
        let prefix = Array(streamID.utf8) + [0]
        return try reading("reading stream \(streamID)") { txn in
            var positions: [UInt64] = []
            positions.reserveCapacity(min(limit, 4096))
            try txn.withCursor(databases.streams) { cursor in
                let start = Keys.stream(streamID, version: version)
                let belongs = { (key: UnsafeRawBufferPointer) -> Bool in
                    key.count == prefix.count + 8 && key.starts(with: prefix)
                }
                let value = { (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> UInt64? in
                    belongs(key) ? Keys.decodePosition(value) : nil
                }
                var current: UInt64?
                switch direction {
                case .forwards:
                    current = try cursor.move(atOrAfter: start, value) ?? nil
                case .backwards:
                    let exact = try cursor.move(atOrAfter: start) { key, _ in key.elementsEqual(start) }
                    if exact == true {
                        current = try cursor.move(.current, value) ?? nil
                    } else if exact == nil {
                        current = try cursor.move(.last, value) ?? nil
                    } else {
                        current = try cursor.move(.previous, value) ?? nil
                    }
                }
                while let position = current, positions.count < limit {
                    positions.append(position)
                    current = try cursor.move(direction == .forwards ? .next : .previous, value) ?? nil
                }
            }
            return try positions.map { position in try Self.event(at: position, txn, databases) }
        }
    }

    public func read(from position: UInt64, direction: ReadDirection, limit: Int) throws(EventLogError)
        -> [RecordedEvent]
    {
        guard limit > 0 else { return [] }
        return try reading("reading the log") { txn in
            var events: [RecordedEvent] = []
            events.reserveCapacity(min(limit, 4096))
            try txn.withCursor(databases.events) { cursor in
                let decode = { (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws -> RecordedEvent in
                    try Self.decode(value, key: key)
                }
                var current: RecordedEvent?
                let start = Keys.position(position)
                switch direction {
                case .forwards:
                    // The hot path of scans and subscriptions: one non-generic cursor walk copying every record into
                    // one buffer, then decoding each record as a slice of it.
                    // Buffers are kept under 64 KiB so they come from the allocator's free lists rather than
                    // fresh, page-faulting mappings.
                    let chunkSize = 64 << 10
                    var chunk: [UInt8] = []
                    var pending: [(key: UInt64, start: Int, end: Int)] = []
                    func flush() throws(EventLogError) {
                        for span in pending {
                            events.append(try Self.decode(chunk[span.start..<span.end], position: span.key))
                        }
                        pending.removeAll(keepingCapacity: true)
                    }
                    try start.withUnsafeBytes { startKey in
                        try cursor.walk(from: .atOrAfter, key: startKey, then: .next) { key, value in
                            if chunk.count + value.count > chunk.capacity {
                                try flush()
                                chunk = []
                                chunk.reserveCapacity(max(chunkSize, value.count))
                            }
                            let start = chunk.count
                            Self.prefetch(value, upTo: value.count)
                            chunk.append(contentsOf: value)
                            pending.append((Keys.decodePosition(key) ?? 0, start, chunk.count))
                            return events.count + pending.count < limit
                        }
                    }
                    try flush()
                    return
                case .backwards:
                    if let found = try cursor.move(atOrAfter: start, decode) {
                        current = found.position == position ? found : try cursor.move(.previous, decode)
                    } else {
                        current = try cursor.move(.last, decode)
                    }
                }
                while let event = current {
                    events.append(event)
                    if events.count == limit { break }
                    current = try cursor.move(direction == .forwards ? .next : .previous, decode)
                }
            }
            return events
        }
    }

    public func firstPosition(recordedAtOrAfter time: Timestamp) throws(EventLogError) -> UInt64? {
        try reading("searching by time") { txn in
            let head = try Self.readHead(txn, databases)
            guard head.position > 0, head.recordedAt >= time else { return nil }
            // recordedAt never decreases along positions: binary search on the records' time field.
            var low: UInt64 = 1
            var high = head.position
            while low < high {
                let middle = low + (high - low) / 2
                if try Self.recordedAt(of: middle, txn, databases) < time { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    public func waitForAppend(after position: UInt64) async {
        let interval = configuration.crossProcessPollInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.notifier.wait(after: position) }
            group.addTask { try? await Task.sleep(for: interval) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Runs `body` in a read transaction and maps every error to ``EventLogError``.
    func reading<R>(_ context: @autoclosure () -> String, _ body: (borrowing ReadTransaction) throws -> R)
        throws(EventLogError) -> R
    {
        do {
            return try environment.read(body)
        } catch {
            throw Self.translate(error, context: context())
        }
    }

    // MARK: Maintenance

    /// Writes a consistent, compacted copy of the store into `directory` (created if missing, must be empty)
    /// while appends go on, then verifies the copy.
    ///
    /// - Returns: the verification report of the copy.
    @discardableResult
    public func backup(to directory: String) throws(EventLogError) -> VerificationReport {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EventLogError(code: .storage, message: "cannot create \(directory): \(error)")
        }
        // A directory that cannot be listed is not known to be empty: refused, so the clean-up below can never remove
        // a file that was there before.
        let contents: [String]
        do {
            contents = try manager.contentsOfDirectory(atPath: directory)
        } catch {
            throw EventLogError(code: .storage, message: "cannot list \(directory) to check that it is empty: \(error)")
        }
        guard contents.isEmpty else {
            throw EventLogError(
                code: .invalidRequest, message: "backup directory \(directory) is not empty; choose an empty one")
        }
        let dataFile = directory + "/data.mdb"
        do {
            try environment.copy(to: directory, compact: true)
        } catch {
            // A half-written copy (a full disk, say) must not be mistaken for a backup later.
            try? manager.removeItem(atPath: dataFile)
            throw Self.translate(error, context: "backing up to \(directory)")
        }
        // LMDB does not document that its copy is flushed: make the backup durable before calling it one.
        guard Self.flushToDisk(dataFile), Self.flushToDisk(directory) else {
            try? manager.removeItem(atPath: dataFile)
            throw EventLogError(
                code: .storage, message: "could not flush the backup in \(directory) to disk (errno \(errno))")
        }
        let report: VerificationReport
        do {
            let copy = try LMDBEventLog.open(at: directory, mode: .readOnlySnapshot)
            defer { copy.close() }
            report = try copy.verify()
        } catch {
            try? manager.moveItem(atPath: dataFile, toPath: dataFile + ".unverified")
            throw error
        }
        if let failure = report.failure {
            try? manager.moveItem(atPath: dataFile, toPath: dataFile + ".unverified")
            throw EventLogError(
                code: .corrupted,
                message: "the backup does not verify: \(failure); it was kept as data.mdb.unverified",
                position: failure.position)
        }
        return report
    }

    /// `fsync` of a file or directory; `false` when it cannot be opened or flushed.
    private static func flushToDisk(_ path: String) -> Bool {
        let descriptor = Foundation.open(path, O_RDONLY)
        guard descriptor >= 0 else { return false }
        defer { _ = Foundation.close(descriptor) }
        return fsync(descriptor) == 0
    }

    /// Facts about the store file: map size and pages in use.
    public struct StorageInfo: Sendable, Hashable {
        /// The current map size (the most the data file can grow to before the map grows), in bytes.
        public var mapSize: Int
        /// Bytes of the data file in use (last page number × page size).
        public var usedBytes: Int
        /// Read transactions open across all processes.
        public var readersInUse: Int
    }

    /// Map size, bytes in use and reader slots.
    public func storageInfo() throws(EventLogError) -> StorageInfo {
        do {
            let info = try environment.info()
            return StorageInfo(
                mapSize: info.mapSize, usedBytes: (info.lastPageNumber + 1) * environment.pageSize,
                readersInUse: info.readersInUse)
        } catch {
            throw Self.translate(error, context: "reading storage info")
        }
    }

    // MARK: Helpers shared by reads, writes and verification

    static func readHead(_ txn: borrowing some ReadableTransaction & ~Copyable, _ databases: Databases) throws
        -> LogHead
    {
        guard let bytes = try txn.value(databases.meta, key: Array("head".utf8)), let head = decodeHead(bytes) else {
            throw EventLogError(code: .corrupted, message: "the store's head record is missing or malformed")
        }
        return head
    }

    static func encodeHead(_ head: LogHead) -> [UInt8] {
        var bytes = Keys.position(head.position)
        bytes += head.chainHash.bytes
        withUnsafeBytes(of: head.recordedAt.microsecondsSinceEpoch.bigEndian) { bytes += $0 }
        return bytes
    }

    static func decodeHead(_ bytes: [UInt8]) -> LogHead? {
        guard bytes.count == 48 else { return nil }
        return bytes.withUnsafeBytes { raw in
            LogHead(
                position: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                chainHash: ChainHash(UnsafeRawBufferPointer(rebasing: raw[8..<40])),
                recordedAt: Timestamp(
                    microsecondsSinceEpoch: Int64(bigEndian: raw.loadUnaligned(fromByteOffset: 40, as: Int64.self))))
        }
    }

    static func currentVersion(
        of streamID: String, _ txn: borrowing some ReadableTransaction & ~Copyable, _ databases: Databases
    ) throws -> UInt64 {
        let prefix = Array(streamID.utf8) + [0]
        let last = Keys.stream(streamID, version: .max)
        return try txn.withCursor(databases.streams) { cursor in
            let version = { (key: UnsafeRawBufferPointer, _: UnsafeRawBufferPointer) -> UInt64 in
                guard key.count == prefix.count + 8, key.starts(with: prefix) else { return 0 }
                return UInt64(bigEndian: key.loadUnaligned(fromByteOffset: prefix.count, as: UInt64.self))
            }
            // The entry just before the first key after this stream's last possible key.
            if let exact = try cursor.move(atOrAfter: last, version), exact > 0 { return exact }
            if try cursor.move(atOrAfter: last, { _, _ in true }) != nil {
                return try cursor.move(.previous, version) ?? 0
            }
            return try cursor.move(.last, version) ?? 0
        }
    }

    static func event(
        at position: UInt64, _ txn: borrowing some ReadableTransaction & ~Copyable, _ databases: Databases
    )
        throws -> RecordedEvent
    {
        let key = Keys.position(position)
        return try key.withUnsafeBytes { key in
            try txn.withValue(databases.events, key: key) { value in
                guard let value else {
                    throw EventLogError(
                        code: .corrupted, message: "the stream index names position \(position), which is missing",
                        position: position)
                }
                return try decode(value, key: key)
            }
        }
    }

    static func recordedAt(
        of position: UInt64, _ txn: borrowing some ReadableTransaction & ~Copyable,
        _ databases: Databases
    ) throws -> Timestamp {
        try Keys.position(position).withUnsafeBytes { key in
            try txn.withValue(databases.events, key: key) { value in
                guard let value, value.count >= 32 else {
                    throw EventLogError(
                        code: .corrupted, message: "record \(position) is missing or truncated", position: position)
                }
                return Timestamp(
                    microsecondsSinceEpoch: Int64(bigEndian: value.loadUnaligned(fromByteOffset: 24, as: Int64.self)))
            }
        }
    }

    static func decode(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) throws -> RecordedEvent {
        try decode(Array(value)[...], position: Keys.decodePosition(key) ?? 0)
    }

    /// Decodes a record already copied out of the map, stored under the key `position`.
    static func decode(_ record: ArraySlice<UInt8>, position: UInt64) throws(EventLogError) -> RecordedEvent {
        let event: RecordedEvent
        do {
            event = try RecordCodec.decode(record)
        } catch {
            throw EventLogError(
                code: .corrupted, message: "record at position \(position) does not decode: \(error.reason)",
                position: position)
        }
        guard event.position == position else {
            throw EventLogError(
                code: .corrupted, message: "record under key \(position) says position \(event.position)",
                position: position)
        }
        return event
    }

    /// Maps errors of the LMDB layer (and passes log errors through) so no LMDB type reaches the caller.
    static func translate(_ error: any Error, context: String) -> EventLogError {
        if let error = error as? EventLogError { return error }
        guard let error = error as? LMDBError else {
            return EventLogError(code: .storage, message: "\(context): \(error)")
        }
        let text = "\(context): \(error.message)"
        switch error.code {
        case .mapFull: return EventLogError(code: .storageFull, message: text)
        case .diskFull: return EventLogError(code: .diskFull, message: text)
        case .closed: return EventLogError(code: .closed, message: "the log is closed; open it again")
        case .alreadyOpen: return EventLogError(code: .alreadyOpen, message: text)
        case .invalidFile: return EventLogError(code: .notAStore, message: text)
        case .versionMismatch: return EventLogError(code: .incompatibleFormat, message: text)
        case .accessDenied: return EventLogError(code: .readOnly, message: text)
        case .noSuchFile: return EventLogError(code: .notAStore, message: text)
        case .corrupted, .pageNotFound, .panic: return EventLogError(code: .corrupted, message: text)
        case .transactionFull:
            return EventLogError(
                code: .transactionTooLarge, message: "\(text); write less in one transaction (fewer events per append)")
        default: return EventLogError(code: .storage, message: text)
        }
    }
}
