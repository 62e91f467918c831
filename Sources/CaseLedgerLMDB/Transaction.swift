internal import CCaseLedgerLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A named database inside an environment (LMDB's `MDB_dbi`). Handles stay valid until the environment closes.
package struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
    /// The name it was opened with.
    package let name: String
    /// LMDB's handle number: unique among the environment's open databases.
    package var handle: UInt32 { UInt32(dbi) }
}

/// The raw transaction pointer; not Sendable, so it cannot leave the thread that runs the transaction closure.
package struct TransactionHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    /// The largest key the transaction's environment accepts (511 bytes in Debian's liblmdb).
    package var maxKeySize: Int { Int(mdb_env_get_maxkeysize(mdb_txn_env(pointer))) }

    /// The transaction's id: for a write transaction, the id it commits as (an aborted one's id is used again by the
    /// next); for a read transaction, the id of the snapshot it reads.
    package var id: UInt64 { UInt64(mdb_txn_id(pointer)) }
}

@available(*, unavailable)
extension TransactionHandle: Sendable {}

/// Operations both kinds of transaction offer: a write transaction can read.
package protocol ReadableTransaction: ~Copyable {
    var handle: TransactionHandle { get }
}

/// A read-only snapshot. Valid only inside the closure given to ``Environment/read(_:)``.
package struct ReadTransaction: ReadableTransaction, ~Copyable {
    package let handle: TransactionHandle
    init(_ handle: TransactionHandle) { self.handle = handle }

    /// Another view of the same snapshot, for a reader wrapper that must not outlive the transaction's closure.
    package init(sameAs other: borrowing ReadTransaction) { self.handle = other.handle }

    /// A reading view of a write transaction (it sees the transaction's own writes), for code written against read
    /// transactions. It must not outlive the write transaction's closure.
    package init(readingWithin other: borrowing WriteTransaction) { self.handle = other.handle }
}

/// The environment's one write transaction. Valid only inside the closure given to ``Environment/write(_:)``.
package struct WriteTransaction: ReadableTransaction, ~Copyable {
    package let handle: TransactionHandle
    init(_ handle: TransactionHandle) { self.handle = handle }

    /// Another view of the same transaction, for code that stores the handle for the transaction's duration (a
    /// view writer handed to a projection). It must not outlive the transaction's closure.
    package init(sameAs other: borrowing WriteTransaction) { self.handle = other.handle }

    /// The write transaction behind `handle`, for a wrapper that keeps only the handle because it also wraps read
    /// snapshots. The caller must know `handle` came from a live write transaction (``handle`` of one) on this
    /// thread; LMDB rejects writes through a read-only handle with `EACCES`.
    package init(writableHandle handle: TransactionHandle) { self.handle = handle }
}

/// Either kind of transaction, seen through its handle: what a wrapper that serves reads for both keeps. Valid only
/// while the transaction it came from is.
package struct TransactionReader: ReadableTransaction, ~Copyable {
    package let handle: TransactionHandle
    package init(_ handle: TransactionHandle) { self.handle = handle }
}

@available(*, unavailable)
extension ReadTransaction: Sendable {}

@available(*, unavailable)
extension WriteTransaction: Sendable {}

@inline(__always)
func withMDBValue<R>(_ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    var value = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    return try body(&value)
}

@inline(__always)
func buffer(_ value: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
}

extension ReadableTransaction where Self: ~Copyable {
    /// Opens a named database in this transaction.
    package func openDatabase(named name: String, create: Bool) throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        let flags = create ? UInt32(MDB_CREATE) : 0
        try check(mdb_dbi_open(handle.pointer, name, flags, &dbi), "mdb_dbi_open(\(name))").get()
        return Database(dbi: dbi, name: name)
    }

    /// Opens a named database if it exists; `nil` when it does not.
    package func openExistingDatabase(named name: String) throws(LMDBError) -> Database? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(handle.pointer, name, 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_dbi_open(\(name))").get()
        return Database(dbi: dbi, name: name)
    }

    /// Opens LMDB's unnamed main database, which lists the named ones.
    package func openMainDatabase() throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        try check(mdb_dbi_open(handle.pointer, nil, 0, &dbi), "mdb_dbi_open(main)").get()
        return Database(dbi: dbi, name: "(main)")
    }

    /// Looks `key` up and hands the stored bytes to `body` without copying; `nil` when the key is absent.
    ///
    /// The buffer points into the memory map: it is valid only until the transaction ends and must not escape
    /// `body`.
    package func withValue<R>(
        _ database: Database, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        var data = MDB_val()
        let rc = withMDBValue(key) { mdb_get(handle.pointer, database.dbi, &$0, &data) }
        if rc == MDB_NOTFOUND { return try body(nil) }
        try check(rc, "mdb_get(\(database.name))").get()
        return try body(buffer(data))
    }

    /// A copy of the value stored under `key`, or `nil`.
    package func value(_ database: Database, key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { key in
            try withValue(database, key: key) { $0.map { Array($0) } }
        }
    }

    /// The number of entries in `database`.
    package func count(_ database: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle.pointer, database.dbi, &stat), "mdb_stat(\(database.name))").get()
        return Int(stat.ms_entries)
    }

    /// Runs `body` with a cursor over `database`; the cursor is closed when `body` returns.
    package func withCursor<R>(_ database: Database, _ body: (borrowing Cursor) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle.pointer, database.dbi, &cursor), "mdb_cursor_open(\(database.name))").get()
        guard let cursor else { throw LMDBError(rc: EINVAL, operation: "mdb_cursor_open(\(database.name))") }
        defer { mdb_cursor_close(cursor) }
        return try body(Cursor(pointer: cursor, database: database))
    }
}

/// Options for ``WriteTransaction/put(_:key:value:options:)``.
package struct PutOptions: OptionSet, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with ``LMDBError/Code/keyExists`` instead of replacing an existing value.
    package static let noOverwrite = PutOptions(rawValue: UInt32(MDB_NOOVERWRITE))
    /// The key sorts after every key in the database: LMDB appends without a search (fails with `keyExists`
    /// otherwise).
    package static let append = PutOptions(rawValue: UInt32(MDB_APPEND))
}

extension WriteTransaction {
    /// Stores `value` under `key`.
    package func put(
        _ database: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, options: PutOptions = []
    ) throws(LMDBError) {
        var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = withMDBValue(key) { mdb_put(handle.pointer, database.dbi, &$0, &data, options.rawValue) }
        try check(rc, "mdb_put(\(database.name))").get()
    }

    /// Stores `value` under `key`.
    package func put(_ database: Database, key: [UInt8], value: [UInt8], options: PutOptions = []) throws(LMDBError) {
        let rc = key.withUnsafeBytes { key in
            value.withUnsafeBytes { value in
                var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
                return withMDBValue(key) { mdb_put(handle.pointer, database.dbi, &$0, &data, options.rawValue) }
            }
        }
        try check(rc, "mdb_put(\(database.name))").get()
    }

    /// Reserves `size` bytes under `key` and lets `fill` write them in place (`MDB_RESERVE`), saving a copy.
    /// `fill` must write every byte.
    package func reserve(
        _ database: Database, key: UnsafeRawBufferPointer, size: Int, options: PutOptions = [],
        _ fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        var data = MDB_val(mv_size: size, mv_data: nil)
        let rc = withMDBValue(key) {
            mdb_put(handle.pointer, database.dbi, &$0, &data, options.rawValue | UInt32(MDB_RESERVE))
        }
        try check(rc, "mdb_put(\(database.name), reserve)").get()
        try fill(UnsafeMutableRawBufferPointer(start: data.mv_data, count: size))
    }

    /// Runs `body` in a nested write transaction. Its writes become part of this transaction when `body` returns
    /// and are discarded (this transaction's own writes kept) when `body` throws; either way this transaction goes
    /// on. Readers see nothing of either until this transaction commits.
    ///
    /// Used to isolate a part of a commit that may fail on its own (an inline projection) from the rest of it.
    package func nested<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        var child: OpaquePointer?
        try check(mdb_txn_begin(mdb_txn_env(handle.pointer), handle.pointer, 0, &child), "mdb_txn_begin(nested)")
            .get()
        guard let child else { throw LMDBError(rc: EINVAL, operation: "mdb_txn_begin(nested)") }
        let value: R
        do {
            value = try body(WriteTransaction(TransactionHandle(child)))
        } catch {
            mdb_txn_abort(child)
            throw error
        }
        try check(mdb_txn_commit(child), "mdb_txn_commit(nested)").get()
        return value
    }

    /// Deletes every entry of a database, keeping the database and its handle (`mdb_drop` without delete).
    package func empty(_ database: Database) throws(LMDBError) {
        try check(mdb_drop(handle.pointer, database.dbi, 0), "mdb_drop(\(database.name), empty)").get()
    }

    /// Deletes a named database and its contents (`mdb_drop`); its handle must not be used afterwards.
    ///
    /// LMDB closes the handle at once, even if this transaction then aborts: in a closure that may run again (a
    /// write that grows the map reruns it), use ``drop(named:)``.
    package func drop(_ database: Database) throws(LMDBError) {
        try check(mdb_drop(handle.pointer, database.dbi, 1), "mdb_drop(\(database.name))").get()
    }

    /// Deletes the database named `name` and its contents when it exists, through a handle opened in this
    /// transaction, so a closure that runs again after an aborted attempt finds the database by name again. Returns
    /// whether it existed.
    @discardableResult
    package func drop(named name: String) throws(LMDBError) -> Bool {
        guard let database = try openExistingDatabase(named: name) else { return false }
        try drop(database)
        return true
    }

    /// Deletes `key`; returns whether it was there.
    @discardableResult
    package func delete(_ database: Database, key: [UInt8]) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { key in
            withMDBValue(key) { mdb_del(handle.pointer, database.dbi, &$0, nil) }
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del(\(database.name))").get()
        return true
    }
}

/// Where a cursor moves.
package enum CursorMove: Sendable {
    case first, last, next, previous, current
    /// The first entry whose key is greater than or equal to the given key.
    case atOrAfter
    /// The entry with exactly the given key.
    case exactly

    var op: MDB_cursor_op {
        switch self {
        case .first: return MDB_FIRST
        case .last: return MDB_LAST
        case .next: return MDB_NEXT
        case .previous: return MDB_PREV
        case .current: return MDB_GET_CURRENT
        case .atOrAfter: return MDB_SET_RANGE
        case .exactly: return MDB_SET_KEY
        }
    }
}

/// A cursor over one database, valid only inside the closure given to `withCursor`.
package struct Cursor: ~Copyable {
    let pointer: OpaquePointer
    let database: Database

    /// Moves the cursor and hands the key and value at its new place to `body` without copying; returns `nil` when
    /// there is no such entry. The buffers are valid only until the transaction ends.
    @inline(__always)
    package func move<R>(
        _ move: CursorMove, key: UnsafeRawBufferPointer? = nil,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        var k = MDB_val()
        var v = MDB_val()
        if let key {
            k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        }
        let rc = mdb_cursor_get(pointer, &k, &v, move.op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get(\(database.name))").get()
        return try body(buffer(k), buffer(v))
    }

    /// Walks entries: positions the cursor with `start` (and `key`), then moves with `step`, calling `body` with
    /// each key and value until `body` returns `false` or there are no more entries. Not generic, so the walk
    /// compiles to a plain loop; the buffers are valid only until the transaction ends.
    package func walk(
        from start: CursorMove, key: UnsafeRawBufferPointer? = nil, then step: CursorMove,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var k = MDB_val()
        var v = MDB_val()
        if let key {
            k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        }
        var op = start.op
        while true {
            let rc = mdb_cursor_get(pointer, &k, &v, op)
            if rc == MDB_NOTFOUND { return }
            try check(rc, "mdb_cursor_get(\(database.name))").get()
            guard try body(buffer(k), buffer(v)) else { return }
            op = step.op
        }
    }

    /// Moves to the first entry whose key is at or after `key`.
    package func move<R>(
        atOrAfter key: [UInt8], _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        try key.withUnsafeBytes { try move(.atOrAfter, key: $0, body) }
    }
}

@available(*, unavailable)
extension Cursor: Sendable {}
