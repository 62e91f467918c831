internal import CCaseLedgerLMDB
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open LMDB environment: one directory holding `data.mdb` and `lock.mdb`.
///
/// Transactions are closure-scoped and synchronous: ``read(_:)`` and ``write(_:)`` begin a transaction, hand it to
/// the closure, and commit when the closure returns (abort when it throws). Readers run alongside the one writer,
/// across threads and across processes (LMDB's MVCC).
///
/// - Important: LMDB's rules, which this type enforces where it can:
///   - A path is open at most once per process (a second ``open(path:configuration:)`` fails with
///     ``LMDBError/Code/alreadyOpen``): LMDB loses its locks when a second handle on the same file is closed.
///   - A transaction is used only inside its closure, on the thread that runs it. The closures are never `async`.
///   - Bytes handed out without copying (`withValue`, cursors) are valid only until the transaction ends.
///   - Do not begin a transaction inside another transaction's closure on the same environment: the map-resize lock
///     is not recursive.
///   - A `write` closure may run more than once: when LMDB reports the map full, the transaction is aborted, the map
///     grows and the closure runs again. It must therefore compute its writes from its inputs only.
package final class Environment: Sendable {
    /// How an environment is opened.
    package struct Configuration: Sendable {
        /// The initial map size in bytes (rounded up to a multiple of the page size).
        package var mapSize: Int = 64 << 20
        /// The largest map size growth may reach.
        package var maxMapSize: Int = 1 << 40
        /// Whether the map grows by itself (doubling, up to ``maxMapSize``) when LMDB reports it full.
        package var growsAutomatically: Bool = true
        /// The number of named databases the environment may hold.
        package var maxDatabases: Int = 16
        /// Reader slots: the number of read transactions that may be open at once across all processes.
        package var maxReaders: Int = 256
        /// Open without write access. Nothing in the directory is created or changed but the lock file.
        package var readOnly: Bool = false
        /// Use no lock file at all (`MDB_NOLOCK`): only for a read-only copy that no process writes to.
        package var withoutLocking: Bool = false
        /// Flush to disk on every commit (`false` sets `MDB_NOSYNC`: a crash of the machine may lose the last
        /// commits; a crash of the process loses nothing).
        package var syncOnCommit: Bool = true
        /// Unix permissions of files the environment creates.
        package var fileMode: UInt32 = 0o640

        package init() {}
    }

    /// `@unchecked Sendable`: LMDB's `MDB_env` is safe to share between threads (its documentation says so for
    /// every call this layer makes outside transactions); the pointer is never reassigned.
    private struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private struct State {
        var isClosed = false
        var closeRequested = false
        /// Why the environment can no longer be used, when resizing the map failed after LMDB had unmapped it.
        var unusable: String?
        var mapSize: Int
    }

    private static let openPaths = Mutex<Set<String>>([])

    private let handle: Handle
    private let resizeLock = ResizeLock()
    private let state: Mutex<State>
    /// The canonical path of the environment directory.
    package let path: String
    /// The configuration it was opened with (map size as requested at open).
    package let configuration: Configuration
    /// The system page size; map sizes are multiples of it.
    package let pageSize: Int

    private init(handle: Handle, path: String, configuration: Configuration, mapSize: Int, pageSize: Int) {
        self.handle = handle
        self.path = path
        self.configuration = configuration
        self.state = Mutex(State(mapSize: mapSize))
        self.pageSize = pageSize
    }

    deinit {
        close()
    }

    /// Opens (and, unless read-only, creates) the environment in the directory at `path`.
    ///
    /// - Throws: ``LMDBError`` with ``LMDBError/Code/alreadyOpen`` if this process has the path open already,
    ///   ``LMDBError/Code/noSuchFile`` for a missing read-only store, ``LMDBError/Code/invalidFile`` for a file that
    ///   is not an LMDB environment, or the code LMDB returned.
    package static func open(path: String, configuration: Configuration = .init()) throws(LMDBError) -> Environment {
        if !configuration.readOnly {
            if mkdir(path, 0o750) != 0 && errno != EEXIST {
                throw LMDBError(rc: errno, operation: "mkdir(\(path))")
            }
        }
        guard let resolved = realpath(path, nil) else {
            throw LMDBError(rc: errno, operation: "open(\(path))")
        }
        let canonical = String(cString: resolved)
        free(resolved)

        let inserted = openPaths.withLock { $0.insert(canonical).inserted }
        guard inserted else {
            throw LMDBError(
                code: .alreadyOpen, rawValue: 0, operation: "open(\(canonical))",
                message: "this process has the environment open already; share that instance instead")
        }
        do {
            return try openRegistered(canonical: canonical, configuration: configuration)
        } catch {
            _ = openPaths.withLock { $0.remove(canonical) }
            throw error
        }
    }

    private static func openRegistered(canonical: String, configuration: Configuration) throws(LMDBError)
        -> Environment
    {
        var pointer: OpaquePointer?
        try check(mdb_env_create(&pointer), "mdb_env_create").get()
        guard let env = pointer else {
            throw LMDBError(code: .other, rawValue: 0, operation: "mdb_env_create", message: "no environment")
        }
        let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
        let mapSize = roundUp(max(configuration.mapSize, pageSize * 16), to: pageSize)
        var flags = UInt32(MDB_NOTLS)
        if configuration.readOnly { flags |= UInt32(MDB_RDONLY) }
        if configuration.withoutLocking { flags |= UInt32(MDB_NOLOCK) }
        if !configuration.syncOnCommit { flags |= UInt32(MDB_NOSYNC) }
        let opened = check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            .flatMap { check(mdb_env_set_maxdbs(env, MDB_dbi(configuration.maxDatabases)), "mdb_env_set_maxdbs") }
            .flatMap {
                check(mdb_env_set_maxreaders(env, UInt32(configuration.maxReaders)), "mdb_env_set_maxreaders")
            }
            .flatMap {
                check(
                    mdb_env_open(env, canonical, flags, mdb_mode_t(configuration.fileMode)),
                    "mdb_env_open(\(canonical))")
            }
        if case .failure(let error) = opened {
            mdb_env_close(env)  // LMDB requires closing a handle whose open failed.
            throw error
        }
        // A larger map may have been set by another process: adopt the size recorded in the file.
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        let environment = Environment(
            handle: Handle(pointer: env), path: canonical, configuration: configuration,
            mapSize: max(mapSize, Int(info.me_mapsize)), pageSize: pageSize)
        // Clear reader slots left by processes that died.
        if !configuration.withoutLocking {
            var dead: Int32 = 0
            mdb_reader_check(env, &dead)
        }
        return environment
    }

    /// Closes the environment, waiting for transactions of this process to end. Further use fails with
    /// ``LMDBError/Code/closed``. Closing twice is harmless.
    package func close() {
        if resizeLock.isHeldByCurrentThread {
            // Called from inside a transaction closure on this thread: taking the lock exclusively would wait for
            // ourselves. Refuse new transactions now; the outermost transaction of this thread closes on its way out.
            state.withLock { $0.closeRequested = true }
            return
        }
        resizeLock.withExclusive {
            let wasOpen = state.withLock { state -> Bool in
                defer { state.isClosed = true }
                return !state.isClosed
            }
            if wasOpen {
                mdb_env_close(handle.pointer)
                _ = Self.openPaths.withLock { $0.remove(path) }
            }
        }
    }

    /// Whether the calling thread is inside a transaction closure of this environment.
    package var isInTransactionOnCurrentThread: Bool { resizeLock.isHeldByCurrentThread }

    /// Whether ``close()`` has run.
    package var isClosed: Bool { state.withLock { $0.isClosed || $0.closeRequested } }

    /// The current map size in bytes.
    package var mapSize: Int { state.withLock { $0.mapSize } }

    // MARK: Transactions

    /// Runs `body` in a read-only transaction (a consistent snapshot) and returns its result.
    package func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        var readersFullRetried = false
        while true {
            var beginCode: Int32 = 0
            let outcome: Result<R, any Error>? = try withTransactionAccess {
                () throws(LMDBError) -> Result<R, any Error>? in
                try ensureOpen("read")
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle.pointer, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED || rc == MDB_READERS_FULL {
                    beginCode = rc
                    return nil
                }
                try check(rc, "mdb_txn_begin(read)").get()
                guard let txn else { throw LMDBError(rc: EINVAL, operation: "mdb_txn_begin(read)") }
                do {
                    let value = try body(ReadTransaction(TransactionHandle(txn)))
                    // Committing a read-only transaction keeps the database handles it opened; aborting would
                    // close them. It writes nothing.
                    let rc = mdb_txn_commit(txn)
                    if rc != 0 { return .failure(LMDBError(rc: rc, operation: "mdb_txn_commit(read)")) }
                    return .success(value)
                } catch {
                    mdb_txn_abort(txn)
                    return .failure(error)
                }
            }
            if let outcome { return try outcome.get() }
            if beginCode == MDB_READERS_FULL {
                // Clear the slots of dead processes and try once more; full twice in a row is a real shortage.
                guard !readersFullRetried else {
                    throw LMDBError(rc: MDB_READERS_FULL, operation: "mdb_txn_begin(read)")
                }
                readersFullRetried = true
            }
            try recoverFromBeginFailure(beginCode)
        }
    }

    /// Runs `body` in the write transaction and commits when it returns; aborts when it throws.
    ///
    /// When the map is full and growth is on, the transaction is aborted, the map grows and `body` runs again.
    package func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        while true {
            let outcome: Result<R, any Error>? = try withTransactionAccess {
                () throws(LMDBError) -> Result<R, any Error>? in
                try ensureOpen("write")
                guard !configuration.readOnly else {
                    throw LMDBError(
                        code: .accessDenied, rawValue: EACCES, operation: "write",
                        message: "the environment was opened read-only; open it for writing to change it")
                }
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle.pointer, nil, 0, &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try check(rc, "mdb_txn_begin(write)").get()
                guard let txn else { throw LMDBError(rc: EINVAL, operation: "mdb_txn_begin(write)") }
                let value: R
                do {
                    value = try body(WriteTransaction(TransactionHandle(txn)))
                } catch {
                    mdb_txn_abort(txn)
                    return .failure(error)
                }
                let commit = mdb_txn_commit(txn)  // frees the transaction whatever it returns
                if commit != 0 { return .failure(LMDBError(rc: commit, operation: "mdb_txn_commit")) }
                return .success(value)
            }
            switch outcome {
            case nil:
                try recoverFromBeginFailure(MDB_MAP_RESIZED)
            case .failure(let error as LMDBError) where error.code == .mapFull && configuration.growsAutomatically:
                try grow(after: error)
            case .some(let result):
                return try result.get()
            }
        }
    }

    private func ensureOpen(_ operation: String) throws(LMDBError) {
        let (closed, unusable) = state.withLock { ($0.isClosed || $0.closeRequested, $0.unusable) }
        if closed { throw LMDBError.closed(operation) }
        if let unusable {
            throw LMDBError(code: .other, rawValue: 0, operation: operation, message: unusable)
        }
    }

    /// For tests, by the environment's canonical path: the size its growths ask LMDB for instead of the doubled one
    /// (a size no process can map makes the resize fail the way an address-space limit does).
    package static let growthSizeForTesting = Mutex<[String: Int]>([:])

    /// Resizes the map (`0`: adopts another process's size). Must run under the exclusive lock. If LMDB fails to
    /// map the file again, it has already unmapped it and left its meta pointers dangling, so any later transaction
    /// would crash the process: the environment is marked unusable, and every later use fails with a typed error
    /// until it is closed and opened again.
    private func resizeMap(to size: Int, _ operation: String) throws(LMDBError) {
        let rc = mdb_env_set_mapsize(handle.pointer, size)
        guard rc != 0 else { return }
        let error = LMDBError(rc: rc, operation: operation)
        let reason =
            "resizing the memory map failed (\(error.message.isEmpty ? "code \(rc)" : error.message)) after LMDB "
            + "had unmapped the store; close it and open it again (an address-space limit such as `ulimit -v`, or a "
            + "maxMapSize too large for it, can cause this)"
        state.withLock { $0.unusable = reason }
        throw LMDBError(code: error.code, rawValue: rc, operation: operation, message: reason)
    }

    /// Runs a transaction under the shared lock; afterwards, on this thread's outermost transaction, carries out a
    /// `close()` that was requested from inside a transaction closure.
    private func withTransactionAccess<R>(_ body: () throws(LMDBError) -> R) throws(LMDBError) -> R {
        let outermost = !resizeLock.isHeldByCurrentThread
        defer {
            if outermost && state.withLock({ $0.closeRequested && !$0.isClosed }) { close() }
        }
        return try resizeLock.withShared(body)
    }

    /// Another process grew the map (`MDB_MAP_RESIZED`), or the reader table is full: adopt the new size and clear
    /// stale reader slots, then let the caller retry.
    private func recoverFromBeginFailure(_ code: Int32) throws(LMDBError) {
        guard code == MDB_READERS_FULL || !resizeLock.isHeldByCurrentThread else {
            // Adopting a new map size needs every transaction of this process to end, this thread's included.
            throw LMDBError(
                code: LMDBError.code(for: code), rawValue: code, operation: "mdb_txn_begin (nested)",
                message: "cannot adopt the map another process grew while "
                    + "this thread has another transaction open; do not begin transactions inside transactions")
        }
        if code == MDB_READERS_FULL {
            // Clearing dead processes' slots needs no pause of this process's transactions (and must not wait
            // for them: they may be what holds the slots).
            try resizeLock.withShared { () throws(LMDBError) in
                try ensureOpen("reader_check")
                if !configuration.withoutLocking {
                    var dead: Int32 = 0
                    mdb_reader_check(handle.pointer, &dead)
                }
            }
            return
        }
        try resizeLock.withExclusive { () throws(LMDBError) in
            try ensureOpen("resize")
            if !configuration.withoutLocking {
                var dead: Int32 = 0
                mdb_reader_check(handle.pointer, &dead)
            }
            if code == MDB_MAP_RESIZED {
                try resizeMap(to: 0, "mdb_env_set_mapsize(adopt)")
                var info = MDB_envinfo()
                mdb_env_info(handle.pointer, &info)
                state.withLock { $0.mapSize = Int(info.me_mapsize) }
            }
        }
    }

    private func grow(after error: LMDBError) throws(LMDBError) {
        guard !resizeLock.isHeldByCurrentThread else {
            throw LMDBError(
                code: .mapFull, rawValue: error.rawValue, operation: error.operation,
                message: "the map is full and cannot grow while this thread has another transaction open; raise "
                    + "maxMapSize, or do not write inside a read")
        }
        try resizeLock.withExclusive { () throws(LMDBError) in
            try ensureOpen("grow")
            let current = state.withLock { $0.mapSize }
            guard current < configuration.maxMapSize else { throw error }
            let doubled = current.multipliedReportingOverflow(by: 2)
            var next = doubled.overflow ? configuration.maxMapSize : min(doubled.partialValue, configuration.maxMapSize)
            next = Self.roundDown(next, to: pageSize)
            if let override = Self.growthSizeForTesting.withLock({ $0[path] }) { next = override }
            guard next > current else { throw error }
            try resizeMap(to: next, "mdb_env_set_mapsize(\(next))")
            state.withLock { $0.mapSize = next }
        }
    }

    // MARK: Databases

    /// Opens the named database, creating it when `create` is set (in its own write transaction).
    ///
    /// - Throws: ``LMDBError/Code/notFound`` when it does not exist and `create` is false.
    package func database(named name: String, create: Bool) throws -> Database {
        if create && !configuration.readOnly {
            return try write { txn in try txn.openDatabase(named: name, create: true) }
        }
        // Opening takes turns with every other transaction that opens tables (see ``readOpeningTables(_:)``).
        if !configuration.readOnly { return try write { txn in try txn.openDatabase(named: name, create: false) } }
        return try readOpeningTables { txn in try txn.openDatabase(named: name, create: false) }
    }

    /// Serialises the read transactions that open tables. LMDB allows one transaction at a time in a process to open
    /// tables, until it ends: write transactions take turns anyway, and a read-only environment (which has none)
    /// opens its tables in read transactions under this lock.
    private let openingLock = NSLock()

    /// Runs `body` in a read transaction that may open tables, one such transaction at a time in this process.
    package func readOpeningTables<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        openingLock.lock()
        defer { openingLock.unlock() }
        return try read(body)
    }

    /// Closes the handles of tables another process dropped, to free their slots (``Configuration/maxDatabases``):
    /// a table dropped elsewhere stays open in this process until its handle is closed. Use it only for handles
    /// nothing in this process will use again (a slot may be given to the next table opened).
    ///
    /// It runs in a write transaction, so it takes turns with everything that opens tables (which a writable
    /// environment does in write transactions only) and waits for no reader. A handle is closed only when its table
    /// is no longer in the store (one still there, whose drop another process deferred, is left) and its slot still
    /// holds that name (a table dropped in this process has had its slot freed already, perhaps for another table):
    /// opening an absent name only finds a slot that holds it, and never takes a new one. Every handle is checked
    /// before any is closed, so a failing check closes none. Returns the handles closed, and those already closed
    /// (their table is gone and no slot holds their name: closed by another runtime of this process, or dropped
    /// here), which the caller can forget too; a read-only environment closes none.
    package func closeDroppedDatabases(_ databases: [Database]) throws -> (closed: [Database], gone: [Database]) {
        guard !configuration.readOnly, !databases.isEmpty else { return ([], []) }
        return try write { txn -> (closed: [Database], gone: [Database]) in
            let main = try txn.openMainDatabase()
            var closing: [Database] = []
            var gone: [Database] = []
            for database in databases where try txn.value(main, key: Array(database.name.utf8)) == nil {
                if let open = try txn.openExistingDatabase(named: database.name) {
                    if open.dbi == database.dbi { closing.append(database) }
                } else {
                    gone.append(database)
                }
            }
            for database in closing { mdb_dbi_close(handle.pointer, database.dbi) }
            return (closing, gone)
        }
    }

    // MARK: Maintenance

    /// Writes a consistent copy of the environment to the (existing, empty) directory `destination`, while
    /// writers go on. With `compact`, free pages are left out and the copy is renumbered (`MDB_CP_COMPACT`).
    package func copy(to destination: String, compact: Bool = true) throws(LMDBError) {
        try resizeLock.withShared { () throws(LMDBError) in
            try ensureOpen("copy")
            try check(
                mdb_env_copy2(handle.pointer, destination, compact ? UInt32(MDB_CP_COMPACT) : 0),
                "mdb_env_copy2(\(destination))"
            ).get()
        }
    }

    /// Flushes the data buffers to disk: useful after bulk writes with ``Configuration/syncOnCommit`` off.
    package func sync() throws(LMDBError) {
        try resizeLock.withShared { () throws(LMDBError) in
            try ensureOpen("sync")
            try check(mdb_env_sync(handle.pointer, 1), "mdb_env_sync").get()
        }
    }

    /// Clears the reader slots of processes that no longer exist; returns how many were cleared.
    @discardableResult
    package func clearStaleReaders() throws(LMDBError) -> Int {
        try resizeLock.withShared { () throws(LMDBError) -> Int in
            try ensureOpen("reader_check")
            guard !configuration.withoutLocking else { return 0 }
            var dead: Int32 = 0
            try check(mdb_reader_check(handle.pointer, &dead), "mdb_reader_check").get()
            return Int(dead)
        }
    }

    /// Facts about the environment.
    package struct Info: Sendable {
        package var mapSize: Int
        package var lastPageNumber: Int
        package var lastTransactionID: Int
        package var maxReaders: Int
        package var readersInUse: Int
    }

    /// Map size, pages used and reader slots, as LMDB reports them.
    package func info() throws(LMDBError) -> Info {
        try resizeLock.withShared { () throws(LMDBError) -> Info in
            try ensureOpen("info")
            var info = MDB_envinfo()
            try check(mdb_env_info(handle.pointer, &info), "mdb_env_info").get()
            return Info(
                mapSize: Int(info.me_mapsize), lastPageNumber: Int(info.me_last_pgno),
                lastTransactionID: Int(info.me_last_txnid), maxReaders: Int(info.me_maxreaders),
                readersInUse: Int(info.me_numreaders))
        }
    }

    /// Whether commits are flushed to disk, read back from LMDB's own flags (`MDB_NOSYNC` clear).
    package var syncsOnCommit: Bool {
        (try? resizeLock.withShared { () throws(LMDBError) -> Bool in
            try ensureOpen("flags")
            var flags: UInt32 = 0
            mdb_env_get_flags(handle.pointer, &flags)
            return flags & UInt32(MDB_NOSYNC) == 0
        }) ?? false
    }

    /// The largest key LMDB accepts in this environment.
    package var maxKeySize: Int {
        (try? resizeLock.withShared { () throws(LMDBError) -> Int in
            try ensureOpen("maxkeysize")
            return Int(mdb_env_get_maxkeysize(handle.pointer))
        }) ?? 511
    }

    /// `value` rounded up to a multiple of `multiple` (down, for a value so large that rounding up overflows).
    static func roundUp(_ value: Int, to multiple: Int) -> Int {
        let (sum, overflow) = value.addingReportingOverflow(multiple - 1)
        return overflow ? roundDown(value, to: multiple) : sum / multiple * multiple
    }

    static func roundDown(_ value: Int, to multiple: Int) -> Int { value / multiple * multiple }
}
