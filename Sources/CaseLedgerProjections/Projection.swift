import CaseLedgerLMDB
public import CaseLedgerLog
import CaseLedgerWorkflow
import Foundation

/// A view kept from the log: it sees every event in global order, exactly once, and keeps its rows in its own
/// tables inside the log's store.
///
/// `apply` must be deterministic: the same events give the same rows, which is what lets a rebuild replace a view
/// and the consistency check compare one.
public protocol Projection: Sendable {
    /// A stable name; tables are stored as `v.<name>.<generation>.<table>`.
    var name: String { get }
    /// The view's version: a runtime that finds rows of another version rebuilds them.
    var version: Int { get }
    /// The tables the view writes.
    var tables: [String] { get }
    /// Applies one event to the view.
    ///
    /// - Throws: any error: the projection stops at this event (its checkpoint stays before it) and reports it.
    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws
}

/// A projection's tables within the transaction that applies an event: valid only inside `apply`.
public struct ViewTransaction: ~Copyable {
    /// The transaction: the write transaction of an append, catch-up or flush, or a read snapshot in which a rebuild
    /// computes a chunk (then every write goes to ``buffer``).
    let handle: TransactionHandle
    let writable: Bool
    let databases: [String: Database]
    /// During a rebuild, rows are read and written here and reach LMDB once per chunk, in key order.
    let buffer: RowBuffer?
    /// The event's decoded payload, shared by the views that apply one event.
    let memo: RecordMemo?

    init(
        _ txn: borrowing WriteTransaction, databases: [String: Database], buffer: RowBuffer? = nil,
        memo: RecordMemo? = nil
    ) {
        self.handle = txn.handle
        self.writable = true
        self.databases = databases
        self.buffer = buffer
        self.memo = memo
    }

    /// A view over a read snapshot: reads come from the snapshot and the buffer, writes go to the buffer only.
    init(snapshot txn: borrowing ReadTransaction, databases: [String: Database], buffer: RowBuffer, memo: RecordMemo) {
        self.handle = txn.handle
        self.writable = false
        self.databases = databases
        self.buffer = buffer
        self.memo = memo
    }

    private var reader: TransactionReader { TransactionReader(handle) }

    /// The LMDB transaction's id (for tests that must tell one transaction from the next).
    package var transactionID: UInt64 { handle.id }

    /// The write transaction, for writes that bypass the buffer (only views built on one have none).
    private func writer() throws(ProjectionError) -> WriteTransaction {
        guard writable else {
            throw ProjectionError(.storage, "a view computed in a read snapshot cannot write without its row buffer")
        }
        return WriteTransaction(writableHandle: handle)
    }

    /// The event's case id as bytes (its stream id after `case-`), made once for all the views that apply it.
    func caseKey(_ event: borrowing EventView) -> [UInt8] {
        guard let memo else { return event.caseIDBytes }
        if memo.keyPosition == event.position, let key = memo.caseKey { return key }
        let key = event.caseIDBytes
        memo.keyPosition = event.position
        memo.caseKey = key
        return key
    }

    /// The event's JSON payload decoded, once for all the views that apply it.
    func workflowRecord(_ event: borrowing EventView) throws -> WorkflowRecord {
        if let memo, memo.position == event.position, let record = memo.record { return record }
        let record = try event.workflowRecord()
        memo?.position = event.position
        memo?.record = record
        return record
    }

    func table(_ name: String) throws(ProjectionError) -> Database {
        guard let database = databases[name] else {
            throw ProjectionError(.unknownTable, "table '\(name)' is not one of the projection's tables")
        }
        return database
    }

    /// Refuses a key the store cannot hold (empty, or over LMDB's key limit) as the projection's own error at the
    /// event it applies: LMDB would refuse it only when the row is written, at the end of a chunk, where no event is
    /// to blame and every projection's catch-up would stop with it.
    private func check(_ key: [UInt8], in table: String) throws(ProjectionError) {
        let limit = handle.maxKeySize
        guard key.isEmpty || key.count > limit else { return }
        throw ProjectionError(
            .invalidKey,
            "a key of \(key.count) bytes for table '\(table)': the store holds keys of 1 to \(limit) bytes; "
                + "shorten it (hash a long part, as the repeat-disputes view does with party references)")
    }

    /// The value stored under `key` in `table`, or `nil`.
    public func value(in table: String, key: [UInt8]) throws -> [UInt8]? {
        let database = try self.table(table)
        try check(key, in: table)
        guard let buffer else { return try reader.value(database, key: key) }
        return try buffer.value(database, key: key, reader)
    }

    /// Stores `value` under `key` in `table`.
    public func put(in table: String, key: [UInt8], value: [UInt8]) throws {
        let database = try self.table(table)
        try check(key, in: table)
        guard let buffer else { return try writer().put(database, key: key, value: value) }
        buffer.set(database, key: key, value: value)
    }

    /// Deletes `key` from `table`.
    public func delete(in table: String, key: [UInt8]) throws {
        let database = try self.table(table)
        try check(key, in: table)
        guard let buffer else {
            _ = try writer().delete(database, key: key)
            return
        }
        buffer.set(database, key: key, value: nil)
    }

    /// Reads the row under `key` decoded, lets `body` change it (`nil`: no row), and stores it again when it
    /// changed. During a rebuild the decoded row is kept between events and encoded once per chunk, so `decode` must
    /// invert `encode` exactly (a view that caps what it stores must cap the value in `body` too), and `body` must not
    /// read the same table through the view.
    func update<T>(
        in table: String, key: [UInt8], decode: ([UInt8]) -> T?, encode: @escaping (T) -> [UInt8]?,
        _ body: (inout T?) throws -> Void
    ) throws {
        let database = try self.table(table)
        try check(key, in: table)
        if let buffer {
            try buffer.update(database, key: key, decode: decode, encode: encode, reader, body)
            return
        }
        let txn = try writer()
        let stored = try txn.value(database, key: key)
        var value = stored.flatMap(decode)
        try body(&value)
        let new = value.flatMap(encode)
        guard new != stored else { return }
        if let new {
            try txn.put(database, key: key, value: new)
        } else {
            _ = try txn.delete(database, key: key)
        }
    }

    /// Visits the rows of `table` with keys at or after `from`, in key order, until `body` returns `false`. Do not
    /// write to `table` inside `body`; collect first.
    public func forEach(in table: String, from: [UInt8] = [], _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        let database = try self.table(table)
        if let buffer {
            // The buffered rows must reach the table first; only a write transaction can take them.
            try buffer.flush(database, try writer())
        }
        try ViewReader.walk(reader, database, from: from, body)
    }
}

@available(*, unavailable)
extension ViewTransaction: Sendable {}

/// The last event's decoded payload.
final class RecordMemo {
    var position: UInt64 = 0
    var record: WorkflowRecord?
    var keyPosition: UInt64 = 0
    var caseKey: [UInt8]?
}

/// Rows a rebuild reads and writes within one chunk of events: a write-back cache over a generation's tables. Each
/// row reaches LMDB once per chunk (in key order) however many events touch it, and a row read once is not read from
/// LMDB again. Its size is bounded by the rows one chunk touches.
final class RowBuffer {
    /// A row key hashed as one block of bytes (an array of bytes hashes byte by byte).
    struct Key: Hashable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
        static func == (a: Key, b: Key) -> Bool { a.bytes == b.bytes }
    }
    /// A row as a view keeps it decoded between events, encoded once when the buffer is flushed.
    final class Typed<T> {
        var value: T?
        let encode: (T) -> [UInt8]?
        init(_ value: T?, encode: @escaping (T) -> [UInt8]?) {
            self.value = value
            self.encode = encode
        }
    }
    final class Row {
        var bytes: [UInt8]?
        /// The row decoded (a `Typed`), when a view updates it through ``ViewTransaction/update(in:key:decode:encode:_:)``.
        var typed: AnyObject?
        var encode: (() -> [UInt8]?)?
        var dirty: Bool
        init(bytes: [UInt8]?, dirty: Bool) {
            self.bytes = bytes
            self.dirty = dirty
        }
        /// The row's current bytes.
        var current: [UInt8]? { encode?() ?? (typed == nil ? bytes : nil) }
    }
    /// Rows by database handle (LMDB's handles are small numbers, so an array indexes them without hashing).
    private var tables: [[Key: Row]] = []

    private func rows(_ database: Database) -> [Key: Row]? {
        let index = Int(database.handle)
        return index < tables.count ? tables[index] : nil
    }

    private func store(_ row: Row, _ id: Key, in database: Database) {
        let index = Int(database.handle)
        if index >= tables.count { tables += Array(repeating: [:], count: index + 1 - tables.count) }
        tables[index][id] = row
    }
    /// The rows the previous chunk of a rebuild changed, while that chunk is being written: they are read from it.
    let previous: ChunkRows?

    init(previous: ChunkRows? = nil) {
        self.previous = previous
    }

    private func row(
        _ database: Database, _ key: [UInt8], _ txn: borrowing some ReadableTransaction & ~Copyable
    ) throws -> Row {
        let id = Key(bytes: key)
        if let row = rows(database)?[id] { return row }
        // Unchanged since it was read: the previous chunk's write holds the same bytes, or LMDB already does.
        let bytes: [UInt8]?
        if let changed = previous?.change(database, id) {
            bytes = changed
        } else {
            bytes = try txn.value(database, key: key)
        }
        let row = Row(bytes: bytes, dirty: false)
        store(row, id, in: database)
        return row
    }

    func value(
        _ database: Database, key: [UInt8], _ txn: borrowing some ReadableTransaction & ~Copyable
    ) throws -> [UInt8]? {
        try row(database, key, txn).current
    }

    func set(_ database: Database, key: [UInt8], value: [UInt8]?) {
        let id = Key(bytes: key)
        if let row = rows(database)?[id] {
            // The row object is reused: a view that rewrites a row at every event allocates nothing for it.
            row.bytes = value
            row.typed = nil
            row.encode = nil
            row.dirty = true
            return
        }
        store(Row(bytes: value, dirty: true), id, in: database)
    }

    func update<T>(
        _ database: Database, key: [UInt8], decode: ([UInt8]) -> T?, encode: @escaping (T) -> [UInt8]?,
        _ txn: borrowing some ReadableTransaction & ~Copyable, _ body: (inout T?) throws -> Void
    ) throws {
        let row = try row(database, key, txn)
        let typed: Typed<T>
        if let kept = row.typed as? Typed<T> {
            typed = kept
        } else {
            typed = Typed(row.current.flatMap(decode), encode: encode)
            row.typed = typed
            row.encode = { typed.value.flatMap(typed.encode) }
        }
        try body(&typed.value)
        row.dirty = true
    }

    /// Writes one table's changed rows to LMDB in key order and forgets the table's rows.
    func flush(_ database: Database, _ txn: borrowing WriteTransaction) throws {
        guard let table = rows(database), !table.isEmpty else { return }
        tables[Int(database.handle)] = [:]
        try Self.write(table, database, txn)
    }

    private static func write(_ table: [Key: Row], _ database: Database, _ txn: borrowing WriteTransaction) throws {
        try write(changes(table), database, txn)
    }

    /// Puts or deletes (`nil`) each of `changes` in `database`.
    static func write(
        _ changes: some Collection<(key: [UInt8], value: [UInt8]?)>, _ database: Database,
        _ txn: borrowing WriteTransaction
    ) throws {
        for (key, value) in changes {
            if let value {
                try txn.put(database, key: key, value: value)
            } else {
                _ = try txn.delete(database, key: key)
            }
        }
    }

    /// A table's changed rows, encoded, in key order as LMDB compares keys (bytes as unsigned, a prefix first).
    private static func changes(_ table: [Key: Row]) -> [(key: [UInt8], value: [UInt8]?)] {
        var changed: [(key: [UInt8], value: [UInt8]?)] = []
        changed.reserveCapacity(table.count)
        for (key, row) in table where row.dirty { changed.append((key.bytes, row.current)) }
        changed.sort { a, b in
            a.key.withUnsafeBytes { x in
                b.key.withUnsafeBytes { y in
                    guard let xs = x.baseAddress, let ys = y.baseAddress else { return x.count < y.count }
                    let order = memcmp(xs, ys, min(x.count, y.count))
                    return order != 0 ? order < 0 : x.count < y.count
                }
            }
        }
        return changed
    }

    /// The rows this buffer changed, encoded and sorted for writing, as an immutable value other threads may read.
    /// Called once the chunk is computed, on the thread that computed it.
    func sealed() -> ChunkRows {
        var byKey: [[Key: [UInt8]?]] = []
        var ordered: [[(key: [UInt8], value: [UInt8]?)]] = []
        for table in tables {
            let changed = Self.changes(table)
            var index: [Key: [UInt8]?] = [:]
            index.reserveCapacity(changed.count)
            for (key, value) in changed { index[Key(bytes: key)] = .some(value) }
            byKey.append(index)
            ordered.append(changed)
        }
        return ChunkRows(byKey: byKey, ordered: ordered)
    }

    /// Writes every changed row to LMDB; `databases` are the tables the buffer may hold rows of.
    func flush(_ databases: some Sequence<Database>, _ txn: borrowing WriteTransaction) throws {
        for database in databases { try flush(database, txn) }
    }
}

/// The rows one chunk of a rebuild changed, encoded and in key order (`nil`: deleted). Immutable, so the writer thread
/// that writes them and the threads computing the next chunk (which read them instead of LMDB) share it without locks.
final class ChunkRows: Sendable {
    /// Per database handle: the changed rows by key, and the same rows in key order for writing.
    private let byKey: [[RowBuffer.Key: [UInt8]?]]
    private let ordered: [[(key: [UInt8], value: [UInt8]?)]]

    init(byKey: [[RowBuffer.Key: [UInt8]?]], ordered: [[(key: [UInt8], value: [UInt8]?)]]) {
        self.byKey = byKey
        self.ordered = ordered
    }

    /// The row's bytes after the chunk when the chunk changed it (`.some(nil)`: it deleted the row); `nil` when the
    /// chunk did not change it.
    func change(_ database: Database, _ key: RowBuffer.Key) -> [UInt8]?? {
        let index = Int(database.handle)
        guard index < byKey.count else { return nil }
        return byKey[index][key]
    }

    /// Writes the changed rows of `databases` in key order.
    func write(_ databases: some Sequence<Database>, _ txn: borrowing WriteTransaction) throws {
        for database in databases { try write(database, rows: 0..<count(database), txn) }
    }

    /// How many rows of `database` the chunk changed.
    func count(_ database: Database) -> Int {
        let index = Int(database.handle)
        return index < ordered.count ? ordered[index].count : 0
    }

    /// Writes the changed rows of `database` at `rows` (positions in key order, within `0..<count(database)`).
    func write(_ database: Database, rows: Range<Int>, _ txn: borrowing WriteTransaction) throws {
        guard !rows.isEmpty else { return }
        try RowBuffer.write(ordered[Int(database.handle)][rows], database, txn)
    }
}

/// A read-only view of a projection's tables in one snapshot: valid only inside the closure that receives it.
public struct ViewReader: ~Copyable {
    let txn: ReadTransaction
    let databases: [String: Database]

    /// The value stored under `key` in `table`, or `nil`.
    public func value(in table: String, key: [UInt8]) throws -> [UInt8]? {
        guard let database = databases[table] else {
            throw ProjectionError(.unknownTable, "table '\(table)' is not one of the projection's tables")
        }
        return try txn.value(database, key: key)
    }

    /// Visits the rows of `table` with keys at or after `from` in key order, until `body` returns `false`.
    public func forEach(in table: String, from: [UInt8] = [], _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        guard let database = databases[table] else {
            throw ProjectionError(.unknownTable, "table '\(table)' is not one of the projection's tables")
        }
        try Self.walk(txn, database, from: from, body)
    }

    static func walk(
        _ txn: borrowing some ReadableTransaction & ~Copyable, _ database: Database, from: [UInt8],
        _ body: ([UInt8], [UInt8]) throws -> Bool
    ) throws {
        try txn.withCursor(database) { cursor in
            if from.isEmpty {
                try cursor.walk(from: .first, then: .next) { key, value in try body(Array(key), Array(value)) }
            } else {
                try from.withUnsafeBytes { start in
                    try cursor.walk(from: .atOrAfter, key: start, then: .next) { key, value in
                        try body(Array(key), Array(value))
                    }
                }
            }
        }
    }
}

@available(*, unavailable)
extension ViewReader: Sendable {}

/// What went wrong with a projection.
public struct ProjectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        /// The projection is not registered with the runtime.
        public static let unknownProjection = Code(name: "unknownProjection")
        /// A table the projection did not declare.
        public static let unknownTable = Code(name: "unknownTable")
        /// A key the store cannot hold: empty, or longer than LMDB's key limit (511 bytes in Debian's liblmdb); or a
        /// page cursor that is not one a page returned.
        public static let invalidKey = Code(name: "invalidKey")
        /// The projection threw at an event; ``ProjectionError/position`` names it.
        public static let failed = Code(name: "failed")
        /// Two projections share a name.
        public static let duplicateName = Code(name: "duplicateName")
        /// The store failed.
        public static let storage = Code(name: "storage")
        /// An event the projection must read is not in a shape this version reads (a case event without a record
        /// header, or with a newer one).
        public static let unreadableEvent = Code(name: "unreadableEvent")
        /// A rebuild, check or version switch of the projection is already running, in this process or another one on
        /// the same store (a view's maintenance is exclusive across processes); try again when it ends.
        public static let busy = Code(name: "busy")
        /// The store holds the projection at another version than the one this process registers (a process of
        /// another release switched it after this one opened the store): rebuild or check it with that release.
        public static let versionMismatch = Code(name: "versionMismatch")
        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// The projection, when one is concerned.
    public let projection: String?
    /// The position of the event it stopped at.
    public let position: UInt64?

    init(_ code: Code, _ message: String, projection: String? = nil, position: UInt64? = nil) {
        self.code = code
        self.message = message
        self.projection = projection
        self.position = position
    }

    public var description: String {
        var text = "ProjectionError.\(code)"
        if let projection { text += " [\(projection)]" }
        if let position { text += " at position \(position)" }
        return text + ": " + message
    }
}

/// A built-in view that takes the event's workflow header decoded once by the runtime for all views.
protocol HeaderAwareProjection: Projection {
    /// The view's share of a rebuild's work, relative to the other built-in views (measured with `perf` on the
    /// benchmark caseload): how a rebuild balances views across its threads.
    var rebuildCost: Int { get }
    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws
}
