/// An append-only, hash-chained event log: the storage contract of CaseLedger.
///
/// The protocol names no storage engine. ``LMDBEventLog`` implements it on an embedded LMDB store; a server-backed
/// log (PostgreSQL, say) can implement the same requirements for deployments that outgrow one machine. The
/// asynchronous sequences, time-range reads and subscriptions are built in an extension on the batched reads, so an
/// implementation provides only the requirements below.
///
/// Every implementation keeps these invariants:
/// - positions start at 1 and rise by exactly 1 per event, with no gap, across the whole log;
/// - each stream's versions start at 1 and rise by exactly 1 per event of the stream;
/// - an append is atomic across all its streams, and a failed append writes nothing;
/// - `recordedAt` never decreases along positions;
/// - each record's chain hash is SHA-256 over the previous record's chain hash and the record's bytes.
public protocol EventLog: Sendable {
    /// Appends the request's events atomically and returns once they are stored as durably as the log is
    /// configured to store them.
    ///
    /// - Throws: ``EventLogError`` — ``EventLogError/Code/wrongExpectedVersion`` when a stream is not at the
    ///   expected version, a validation code for bad input, ``EventLogError/Code/storageFull`` or
    ///   ``EventLogError/Code/diskFull`` when nothing more fits. In every case nothing of the request was written.
    func append(_ request: AppendRequest) async throws(EventLogError) -> AppendResult

    /// The last event's position and chain hash.
    func head() throws(EventLogError) -> LogHead

    /// What the append stored under an idempotency key wrote (with `wasDuplicate` set), or `nil` when the key is
    /// not stored. Lets a caller that re-derives its request (a workflow command decided again) answer a retry
    /// with the first result.
    func appendResult(forIdempotencyKey key: String) throws(EventLogError) -> AppendResult?

    /// The current version of a stream: `0` when it has no events.
    func version(ofStream streamID: String) throws(EventLogError) -> UInt64

    /// Up to `limit` events of one stream: forwards from version `version` (inclusive) or backwards from it
    /// (inclusive; pass `UInt64.max` to start at the stream's end).
    func read(stream streamID: String, from version: UInt64, direction: ReadDirection, limit: Int)
        throws(EventLogError) -> [RecordedEvent]

    /// Up to `limit` events of the whole log: forwards from `position` (inclusive) or backwards from it.
    func read(from position: UInt64, direction: ReadDirection, limit: Int) throws(EventLogError) -> [RecordedEvent]

    /// The position of the first event recorded at or after `time`, or `nil` when there is none.
    func firstPosition(recordedAtOrAfter time: Timestamp) throws(EventLogError) -> UInt64?

    /// Returns when the log's head may have moved past `position`, or the task is cancelled. It may return
    /// early (callers re-read the log); it never keeps an appender waiting.
    func waitForAppend(after position: UInt64) async

    /// Visits events from `position` on, in order, without copying them, until `body` returns `false`, `limit`
    /// events were visited, or the log ends; returns the number visited. A default built on
    /// ``read(from:direction:limit:)`` exists; stores that can view records in place override it.
    @discardableResult
    func forEachEvent(from position: UInt64, limit: Int, _ body: (borrowing EventView) -> Bool)
        throws(EventLogError) -> Int

    /// Walks the whole log and reports the first position where the hash chain, the position or version sequence,
    /// the stream index, the time order or decoding fails.
    func verify() throws(EventLogError) -> VerificationReport
}

extension EventLog {
    /// Appends events to one stream.
    public func append(
        to streamID: String, expectedVersion: ExpectedVersion = .any, events: [NewEvent],
        idempotencyKey: String? = nil
    ) async throws(EventLogError) -> AppendResult {
        try await append(
            AppendRequest(
                streamID: streamID, expectedVersion: expectedVersion, events: events, idempotencyKey: idempotencyKey))
    }

    /// Up to `limit` events recorded in `range`, starting after position `after`.
    public func read(recordedIn range: Range<Timestamp>, after: UInt64 = 0, limit: Int) throws(EventLogError)
        -> [RecordedEvent]
    {
        guard limit > 0, after < .max, let first = try firstPosition(recordedAtOrAfter: range.lowerBound) else {
            return []
        }
        let events = try read(from: max(first, after + 1), direction: .forwards, limit: limit)
        if let end = events.firstIndex(where: { $0.recordedAt >= range.upperBound }) {
            return Array(events[..<end])
        }
        return events
    }

    /// A stream's events as an asynchronous sequence, read in batches of `batchSize` (memory stays bounded).
    public func events(
        inStream streamID: String, from version: UInt64 = 1, direction: ReadDirection = .forwards,
        batchSize: Int = 512
    ) -> EventSequence {
        EventSequence { (last: RecordedEvent?) throws(EventLogError) -> [RecordedEvent] in
            let start: UInt64
            if let last {
                switch direction {
                case .forwards:
                    guard last.streamVersion < .max else { return [] }
                    start = last.streamVersion + 1
                case .backwards:
                    guard last.streamVersion > 1 else { return [] }
                    start = last.streamVersion - 1
                }
            } else {
                start = version
            }
            return try read(stream: streamID, from: start, direction: direction, limit: batchSize)
        }
    }

    /// The whole log from `position` as an asynchronous sequence that ends at the head; memory stays bounded.
    public func events(from position: UInt64 = 1, batchSize: Int = 1024) -> EventSequence {
        EventSequence { (last: RecordedEvent?) throws(EventLogError) -> [RecordedEvent] in
            if let last, last.position == .max { return [] }
            return try read(from: last.map { $0.position + 1 } ?? position, direction: .forwards, limit: batchSize)
        }
    }

    /// The events recorded in `range` as an asynchronous sequence.
    public func events(recordedIn range: Range<Timestamp>, batchSize: Int = 1024) -> EventSequence {
        EventSequence { (last: RecordedEvent?) throws(EventLogError) -> [RecordedEvent] in
            try read(recordedIn: range, after: last?.position ?? 0, limit: batchSize)
        }
    }

    /// A catch-up subscription: every event from `position` on, in order, once each; after the last stored event
    /// it waits for new appends and goes on, until the consuming task is cancelled.
    public func subscribe(from position: UInt64 = 1, batchSize: Int = 1024) -> EventSubscription {
        EventSubscription(log: self, from: position, batchSize: batchSize)
    }
}

/// Events read lazily in batches: each batch is one short read, so memory stays bounded however long the log is.
public struct EventSequence: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent
    public typealias Failure = EventLogError

    let fetch: @Sendable (RecordedEvent?) throws(EventLogError) -> [RecordedEvent]

    init(fetch: @escaping @Sendable (RecordedEvent?) throws(EventLogError) -> [RecordedEvent]) {
        self.fetch = fetch
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let fetch: @Sendable (RecordedEvent?) throws(EventLogError) -> [RecordedEvent]
        var buffer: [RecordedEvent] = []
        var index = 0
        var last: RecordedEvent?
        var finished = false

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(EventLogError)
            -> RecordedEvent?
        {
            try nextEvent()
        }

        public mutating func next() async throws(EventLogError) -> RecordedEvent? {
            try nextEvent()
        }

        mutating func nextEvent() throws(EventLogError) -> RecordedEvent? {
            if index == buffer.count {
                guard !finished else { return nil }
                buffer = try fetch(last)
                index = 0
                if buffer.isEmpty {
                    finished = true
                    return nil
                }
            }
            let event = buffer[index]
            index += 1
            last = event
            return event
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(fetch: fetch) }

    /// Every remaining event in one array (for small sequences and tests).
    public func collect() async throws(EventLogError) -> [RecordedEvent] {
        var iterator = makeAsyncIterator()
        var all: [RecordedEvent] = []
        while let event = try iterator.nextEvent() { all.append(event) }
        return all
    }
}

/// A catch-up subscription that goes live: see ``EventLog/subscribe(from:batchSize:)``.
///
/// It always reads from the log itself, by position, so the switch from catch-up to live can neither skip nor
/// repeat an event, and a slow consumer only falls behind: appenders never wait for it.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent
    public typealias Failure = EventLogError

    let log: any EventLog
    let start: UInt64
    let batchSize: Int

    init(log: any EventLog, from position: UInt64, batchSize: Int) {
        self.log = log
        self.start = Swift.max(position, 1)
        self.batchSize = Swift.max(batchSize, 1)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let log: any EventLog
        let batchSize: Int
        var nextPosition: UInt64
        var buffer: [RecordedEvent] = []
        var index = 0
        /// An event at the last possible position was returned (only a damaged or planted store has one): no
        /// position follows it.
        var exhausted = false

        /// The next event; `nil` only when the task is cancelled (or after an event at the last possible position).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(EventLogError)
            -> RecordedEvent?
        {
            try await nextEvent(isolation: actor)
        }

        public mutating func next() async throws(EventLogError) -> RecordedEvent? {
            try await nextEvent(isolation: nil)
        }

        mutating func nextEvent(isolation actor: isolated (any Actor)?) async throws(EventLogError)
            -> RecordedEvent?
        {
            while index == buffer.count {
                if Task.isCancelled || exhausted { return nil }
                buffer = try log.read(from: nextPosition, direction: .forwards, limit: batchSize)
                index = 0
                if buffer.isEmpty {
                    await log.waitForAppend(after: nextPosition - 1)
                }
            }
            let event = buffer[index]
            index += 1
            if event.position == .max {
                exhausted = true
                buffer = []
                index = 0
            } else {
                nextPosition = event.position + 1
            }
            return event
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(log: log, batchSize: batchSize, nextPosition: start)
    }
}

/// The outcome of ``EventLog/verify()``.
public struct VerificationReport: Sendable, Hashable {
    /// The number of events walked.
    public var eventsChecked: UInt64
    /// The number of streams the stream index holds.
    public var streamsChecked: UInt64
    /// The head recorded in the store.
    public var head: LogHead
    /// The first failure, or `nil` when everything holds.
    public var failure: VerificationFailure?

    /// `true` when the chain, sequences, index, time order and decoding all hold.
    public var isValid: Bool { failure == nil }
}

/// The first thing ``EventLog/verify()`` found wrong.
public struct VerificationFailure: Sendable, Hashable, Error, CustomStringConvertible {
    /// What failed.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        /// A record's stored chain hash differs from the recomputed one (its bytes or its hash were changed).
        public static let chainHash = Kind(rawValue: "chain hash")
        /// Positions are not 1, 2, 3, … (a gap, a repeat, or a record whose position field is not its key).
        public static let positionSequence = Kind(rawValue: "position sequence")
        /// A stream's versions are not 1, 2, 3, … in log order.
        public static let versionSequence = Kind(rawValue: "version sequence")
        /// The stream index is missing an event, points to the wrong position, or has extra entries.
        public static let streamIndex = Kind(rawValue: "stream index")
        /// A record does not decode.
        public static let decoding = Kind(rawValue: "decoding")
        /// A record's time is earlier than its predecessor's.
        public static let timeOrder = Kind(rawValue: "time order")
        /// The recorded head does not match the last record (events were cut off the end).
        public static let head = Kind(rawValue: "head")
        public var description: String { rawValue }
    }

    /// The first position at which the failure shows.
    public var position: UInt64
    /// What failed.
    public var kind: Kind
    /// Details, for a person.
    public var message: String

    public var description: String { "position \(position): \(kind) failed: \(message)" }
}
