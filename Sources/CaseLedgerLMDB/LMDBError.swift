internal import CCaseLedgerLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one error type of the LMDB layer: LMDB's return code, the operation that failed, LMDB's own text and a
/// sentence on what to do about it.
///
/// `Code` wraps a private enum so that new codes can be added without breaking callers; match a code with
/// `catch let error as LMDBError where error.code == .mapFull` or with the `~=` pattern (`case LMDBError.Code.mapFull`).
package struct LMDBError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure. Compare with the static members.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum _Code: Hashable, Sendable {
            case notFound, keyExists, mapFull, mapResized, readersFull, dbsFull, transactionFull, cursorFull
            case pageFull, invalidFile, versionMismatch, corrupted, panic, badTransaction, badValueSize, badDatabase
            case incompatible, pageNotFound, tlsFull, diskFull, accessDenied, noSuchFile, alreadyOpen, closed
            case busy, other
        }
        fileprivate let _code: _Code

        package static let notFound = Code(_code: .notFound)
        package static let keyExists = Code(_code: .keyExists)
        package static let mapFull = Code(_code: .mapFull)
        package static let mapResized = Code(_code: .mapResized)
        package static let readersFull = Code(_code: .readersFull)
        package static let databasesFull = Code(_code: .dbsFull)
        package static let transactionFull = Code(_code: .transactionFull)
        package static let cursorFull = Code(_code: .cursorFull)
        package static let pageFull = Code(_code: .pageFull)
        package static let invalidFile = Code(_code: .invalidFile)
        package static let versionMismatch = Code(_code: .versionMismatch)
        package static let corrupted = Code(_code: .corrupted)
        package static let panic = Code(_code: .panic)
        package static let badTransaction = Code(_code: .badTransaction)
        package static let badValueSize = Code(_code: .badValueSize)
        package static let badDatabase = Code(_code: .badDatabase)
        package static let incompatible = Code(_code: .incompatible)
        package static let pageNotFound = Code(_code: .pageNotFound)
        package static let tlsFull = Code(_code: .tlsFull)
        package static let diskFull = Code(_code: .diskFull)
        package static let accessDenied = Code(_code: .accessDenied)
        package static let noSuchFile = Code(_code: .noSuchFile)
        /// The same environment path is already open in this process (LMDB forbids opening it twice).
        package static let alreadyOpen = Code(_code: .alreadyOpen)
        /// The environment was closed before this call.
        package static let closed = Code(_code: .closed)
        package static let busy = Code(_code: .busy)
        package static let other = Code(_code: .other)

        package var description: String { "\(_code)" }

        package static func ~= (code: Code, error: any Error) -> Bool {
            (error as? LMDBError)?.code == code
        }
    }

    /// The kind of failure.
    package var code: Code
    /// LMDB's (or the system's) numeric return code, `0` for errors raised by this layer itself.
    package var rawValue: Int32
    /// The operation that failed, e.g. `mdb_put(events)`.
    package var operation: String
    /// What went wrong and what to do about it.
    package var message: String

    package init(code: Code, rawValue: Int32, operation: String, message: String) {
        self.code = code
        self.rawValue = rawValue
        self.operation = operation
        self.message = message
    }

    package var description: String { "LMDB \(operation) failed (\(rawValue)): \(message)" }

    /// Builds the error for a non-zero LMDB return code.
    package init(rc: Int32, operation: String) {
        let code = Self.code(for: rc)
        let text = mdb_strerror(rc).map { String(cString: $0) } ?? "unknown error \(rc)"
        self.init(code: code, rawValue: rc, operation: operation, message: text + Self.advice(for: code))
    }

    static func code(for rc: Int32) -> Code {
        switch rc {
        case MDB_NOTFOUND: return .notFound
        case MDB_KEYEXIST: return .keyExists
        case MDB_MAP_FULL: return .mapFull
        case MDB_MAP_RESIZED: return .mapResized
        case MDB_READERS_FULL: return .readersFull
        case MDB_DBS_FULL: return .databasesFull
        case MDB_TXN_FULL: return .transactionFull
        case MDB_CURSOR_FULL: return .cursorFull
        case MDB_PAGE_FULL: return .pageFull
        case MDB_INVALID: return .invalidFile
        case MDB_VERSION_MISMATCH: return .versionMismatch
        case MDB_CORRUPTED: return .corrupted
        case MDB_PANIC: return .panic
        case MDB_BAD_TXN: return .badTransaction
        case MDB_BAD_VALSIZE: return .badValueSize
        case MDB_BAD_DBI: return .badDatabase
        case MDB_INCOMPATIBLE: return .incompatible
        case MDB_PAGE_NOTFOUND: return .pageNotFound
        case MDB_TLS_FULL: return .tlsFull
        case ENOSPC: return .diskFull
        case EACCES, EROFS, EPERM: return .accessDenied
        case ENOENT: return .noSuchFile
        case EBUSY, EAGAIN: return .busy
        default: return .other
        }
    }

    static func advice(for code: Code) -> String {
        switch code {
        case .mapFull: return "; the store reached its maximum map size: raise maxMapSize (or enable growth)"
        case .readersFull: return "; all reader slots are taken: raise maxReaders or close idle readers"
        case .databasesFull: return "; raise maxDatabases"
        case .diskFull: return "; the disk is full: free space, then retry"
        case .accessDenied: return "; check the permissions of the store directory, or open it read-only"
        case .invalidFile: return "; the path does not hold an LMDB environment"
        case .versionMismatch: return "; the store was written by an incompatible LMDB version"
        case .corrupted, .pageNotFound, .panic: return "; the store is damaged: restore it from a backup"
        case .badValueSize: return "; a key is empty or longer than LMDB's maximum key size"
        default: return ""
        }
    }

    static func closed(_ operation: String) -> LMDBError {
        LMDBError(
            code: .closed, rawValue: 0, operation: operation,
            message: "the environment is closed; open it again before using it")
    }
}

/// Turns an LMDB return code into a `Result` (the inner layer of every C call).
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) -> Result<Void, LMDBError> {
    rc == 0 ? .success(()) : .failure(LMDBError(rc: rc, operation: operation()))
}
