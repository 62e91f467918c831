/// The one error type of the event log: what was wrong and what to do about it.
///
/// `Code` wraps a private enum so new codes do not break callers. Match with
/// `catch let error where error.code == .wrongExpectedVersion`.
public struct EventLogError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure. Compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum _Code: String, Hashable, Sendable {
            case wrongExpectedVersion, invalidStreamID, invalidExpectedVersion, invalidRequest, eventTooLarge
            case invalidIdempotencyKey, idempotencyKeyReused, closed, storageFull, diskFull, incompatibleFormat
            case notAStore, alreadyOpen, readOnly, corrupted, storage, transactionTooLarge
        }
        fileprivate let _code: _Code

        /// A stream was not at the version the append expected. Nothing was written.
        public static let wrongExpectedVersion = Code(_code: .wrongExpectedVersion)
        /// A stream id is empty, too long or holds a NUL character.
        public static let invalidStreamID = Code(_code: .invalidStreamID)
        /// An expected version is negative or cannot be reached.
        public static let invalidExpectedVersion = Code(_code: .invalidExpectedVersion)
        /// The request itself is malformed: no events, a stream twice, an over-long type name or actor field.
        public static let invalidRequest = Code(_code: .invalidRequest)
        /// An event's payload and metadata exceed the configured size limit.
        public static let eventTooLarge = Code(_code: .eventTooLarge)
        /// An idempotency key is empty or too long.
        public static let invalidIdempotencyKey = Code(_code: .invalidIdempotencyKey)
        /// The idempotency key is stored for a different request (other streams or event count).
        public static let idempotencyKeyReused = Code(_code: .idempotencyKeyReused)
        /// The log was closed.
        public static let closed = Code(_code: .closed)
        /// The store reached its maximum size (map full and growth off or at its cap).
        public static let storageFull = Code(_code: .storageFull)
        /// The disk has no space left.
        public static let diskFull = Code(_code: .diskFull)
        /// The store was written in a format this version cannot read (unknown or newer).
        public static let incompatibleFormat = Code(_code: .incompatibleFormat)
        /// The path holds something that is not a CaseLedger store.
        public static let notAStore = Code(_code: .notAStore)
        /// This process has the store open already.
        public static let alreadyOpen = Code(_code: .alreadyOpen)
        /// The log was opened read-only.
        public static let readOnly = Code(_code: .readOnly)
        /// Stored data does not decode or does not match its index.
        public static let corrupted = Code(_code: .corrupted)
        /// Any other failure of the storage engine; the message carries its text.
        public static let storage = Code(_code: .storage)
        /// One write transaction touched more pages than the store allows in one (LMDB's `MDB_TXN_FULL`). Nothing
        /// was written; write less at a time (fewer events per append). A projection's catch-up halves its chunk by
        /// itself and stops the view at an event that does not fit even alone.
        public static let transactionTooLarge = Code(_code: .transactionTooLarge)

        public var description: String { _code.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What was wrong and what to do about it.
    public var message: String
    /// The stream concerned, when there is one.
    public var streamID: String?
    /// The log position concerned, when there is one.
    public var position: UInt64?

    public init(code: Code, message: String, streamID: String? = nil, position: UInt64? = nil) {
        self.code = code
        self.message = message
        self.streamID = streamID
        self.position = position
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let streamID { text += " [stream \(streamID)]" }
        if let position { text += " [position \(position)]" }
        return text
    }
}
