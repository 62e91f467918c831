import CaseLedgerLMDB
public import CaseLedgerLog
import CaseLedgerWorkflow

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
    let txn: WriteTransaction
    let databases: [String: Database]

    init(_ txn: borrowing WriteTransaction, databases: [String: Database]) {
        self.txn = WriteTransaction(sameAs: txn)
        self.databases = databases
    }

    func table(_ name: String) throws(ProjectionError) -> Database {
        guard let database = databases[name] else {
            throw ProjectionError(.unknownTable, "table '\(name)' is not one of the projection's tables")
        }
        return database
    }

    /// The value stored under `key` in `table`, or `nil`.
    public func value(in table: String, key: [UInt8]) throws -> [UInt8]? {
        try txn.value(try self.table(table), key: key)
    }

    /// Stores `value` under `key` in `table`.
    public func put(in table: String, key: [UInt8], value: [UInt8]) throws {
        try txn.put(try self.table(table), key: key, value: value)
    }

    /// Deletes `key` from `table`.
    public func delete(in table: String, key: [UInt8]) throws {
        try txn.delete(try self.table(table), key: key)
    }

    /// Visits the rows of `table` with keys at or after `from`, in key order, until `body` returns `false`. Do not
    /// write to `table` inside `body`; collect first.
    public func forEach(in table: String, from: [UInt8] = [], _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        try ViewReader.walk(txn, try self.table(table), from: from, body)
    }
}

@available(*, unavailable)
extension ViewTransaction: Sendable {}

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
        /// The projection threw at an event; ``ProjectionError/position`` names it.
        public static let failed = Code(name: "failed")
        /// Two projections share a name.
        public static let duplicateName = Code(name: "duplicateName")
        /// The store failed.
        public static let storage = Code(name: "storage")
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
    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws
}
