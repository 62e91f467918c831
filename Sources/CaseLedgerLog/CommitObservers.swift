package import CaseLedgerLMDB
import Logging
import Synchronization

/// Code that runs inside an append's write transaction, after the commit's records are written: the basis of
/// inline projections, whose views are then updated atomically with the events (a caller reads its own writes, and
/// a crash loses both or neither).
///
/// Each observer runs in a nested transaction: when it throws, only its own writes are discarded, the append still
/// commits, and the observer is responsible for recording that it stopped (it must not advance past the position it
/// failed at). A full map is the exception: it is rethrown so the whole commit is retried after the map grows.
package protocol CommitObserver: AnyObject, Sendable {
    /// A name for logs.
    var name: String { get }

    /// Called once per committed batch, with the positions it wrote, inside the batch's write transaction.
    func didWrite(positions: ClosedRange<UInt64>, log: LMDBEventLog, in txn: borrowing WriteTransaction) throws
}

/// Queries in flight per view generation (`name.generation`) in this process, and the generations a swap retired:
/// shared by every projection runtime on one log, since LMDB's table handles belong to the process and a table one
/// runtime drops is gone for all of them.
package final class ViewReaders: Sendable {
    package let state = Mutex<(active: [String: Int], retired: Set<String>)>(([:], []))
    package init() {}
}

extension LMDBEventLog {
    /// Adds an observer that runs inside every later commit (package API for `CaseLedgerProjections`).
    package func addCommitObserver(_ observer: any CommitObserver) {
        observers.withLock { $0.append(observer) }
    }

    /// Removes an observer by identity.
    package func removeCommitObserver(_ observer: any CommitObserver) {
        observers.withLock { list in list.removeAll { $0 === observer } }
    }

    /// Opens (or creates) a named database in the log's environment for a view's data.
    package func database(named name: String) throws(EventLogError) -> Database {
        do {
            return try environment.database(named: name, create: accessMode == .readWrite)
        } catch {
            throw Self.translate(error, context: "opening database \(name)")
        }
    }

    /// Closes the handles of tables another process dropped (a retired view generation's), freeing their slots; see
    /// `Environment.closeDroppedDatabases(_:)`. Returns the handles closed, and those already closed.
    package func closeDroppedDatabases(
        _ databases: [Database]
    ) throws(EventLogError) -> (closed: [Database], gone: [Database]) {
        do {
            return try environment.closeDroppedDatabases(databases)
        } catch {
            throw Self.translate(error, context: "closing the handles of dropped tables")
        }
    }

    /// Runs `body` in a transaction in which it may open existing tables: a write transaction on a writable log (they
    /// take turns, and LMDB allows one transaction at a time in a process to open tables), a read transaction under
    /// a lock on a read-only one. Errors `body` throws come out unchanged.
    package func openingTables<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        do {
            if accessMode == .readWrite {
                return try environment.write { txn in try body(ReadTransaction(readingWithin: txn)) }
            }
            return try environment.readOpeningTables { txn in try body(txn) }
        } catch let error as LMDBError {
            throw Self.translate(error, context: "opening tables")
        }
    }

    /// Runs `body` in a write transaction of the log's environment (a view's own writes and its checkpoint), which
    /// serialises with appends. Errors `body` throws come out unchanged; LMDB's become ``EventLogError``s.
    package func writeViews<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        do {
            return try environment.write(body)
        } catch let error as LMDBError {
            throw Self.translate(error, context: "writing views")
        }
    }

    /// Runs `body` in a read transaction of the log's environment. Errors `body` throws come out unchanged.
    package func readViews<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        do {
            return try environment.read(body)
        } catch let error as LMDBError {
            throw Self.translate(error, context: "reading views")
        }
    }

    /// The log's head as `txn` sees it (no second transaction).
    /// Whether the calling thread is inside one of this log's transaction closures (then work that waits for other
    /// threads' transactions, such as growing the map, cannot run on it).
    package var isInTransactionOnCurrentThread: Bool { environment.isInTransactionOnCurrentThread }

    /// The largest key the store accepts in any table (511 bytes in Debian's liblmdb).
    package var maxKeySize: Int { environment.maxKeySize }

    package func head(in txn: borrowing some ReadableTransaction & ~Copyable) throws -> LogHead {
        try Self.readHead(txn, databases)
    }

    /// Visits the events at `positions` in `txn` (a commit's own, or any snapshot) without copying them.
    package func forEachEvent(
        positions: ClosedRange<UInt64>, in txn: borrowing some ReadableTransaction & ~Copyable,
        _ body: (borrowing EventView) throws -> Void
    ) throws {
        try txn.withCursor(databases.events) { cursor in
            try Keys.position(positions.lowerBound).withUnsafeBytes { startKey in
                try cursor.walk(from: .atOrAfter, key: startKey, then: .next) { key, value in
                    let position = Keys.decodePosition(key) ?? 0
                    guard position <= positions.upperBound else { return false }
                    let view: EventView
                    do throws(RecordCodec.DecodeFailure) {
                        view = try EventView(bytes: value)
                    } catch {
                        throw EventLogError(
                            code: .corrupted,
                            message: "record at position \(position) does not decode: \(error.reason)",
                            position: position)
                    }
                    try body(view)
                    return true
                }
            }
        }
    }

    /// LMDB failures that concern the environment or the parent transaction rather than the observer's own input.
    static func failsTheCommit(_ error: LMDBError) -> Bool {
        switch error.code {
        case .mapFull, .transactionFull, .diskFull, .corrupted, .panic, .badTransaction, .pageNotFound, .closed:
            return true
        default:
            return false
        }
    }

    /// Runs every observer on a commit's positions, each in its own nested transaction.
    func runObservers(positions: ClosedRange<UInt64>, in txn: borrowing WriteTransaction) throws {
        let current = observers.withLock { $0 }
        for observer in current {
            do {
                try txn.nested { child in try observer.didWrite(positions: positions, log: self, in: child) }
            } catch let error as LMDBError where Self.failsTheCommit(error) {
                // The store's trouble, not the observer's: the whole commit fails (or, for a full map, is retried
                // after the map grows), so nothing is committed without its inline views.
                throw error
            } catch {
                logger.error(
                    "commit observer failed; its writes for this commit are discarded, the append commits",
                    metadata: [
                        "observer": "\(observer.name)", "positions": "\(positions)", "error": "\(error)",
                    ])
            }
        }
    }
}
