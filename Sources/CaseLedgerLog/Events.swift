public import Foundation

/// A point in time with microsecond precision, as the log stores it (microseconds since 1970-01-01T00:00:00Z).
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch (negative before it).
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// The timestamp of `date`, truncated to whole microseconds (clamped to the range an `Int64` of microseconds
    /// holds, about ±292,000 years).
    public init(_ date: Date) {
        let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        if microseconds.isNaN {
            self.microsecondsSinceEpoch = 0
        } else if microseconds >= 9.2e18 {
            self.microsecondsSinceEpoch = .max
        } else if microseconds <= -9.2e18 {
            self.microsecondsSinceEpoch = .min
        } else {
            self.microsecondsSinceEpoch = Int64(microseconds)
        }
    }

    /// The same instant as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(microsecondsSinceEpoch) / 1_000_000) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    public var description: String { date.formatted(.iso8601) }
}

/// Where the log takes the time it records: inject a fixed or manual clock in tests and simulations.
public protocol EventClock: Sendable {
    /// The current time.
    func now() -> Timestamp
}

/// The system's wall clock.
public struct SystemClock: EventClock {
    public init() {}
    public func now() -> Timestamp { Timestamp(Date()) }
}

/// Who caused an event: the user, their role and the organisation unit (jurisdiction code) they acted for.
public struct EventActor: Sendable, Hashable, Codable {
    /// The user's id in the deploying system.
    public var userID: String
    /// The role the user acted in, e.g. `mediator`, `legal-aid-reviewer`, `system`.
    public var role: String
    /// The organisation unit or jurisdiction code the user acted for (e.g. a 12-digit division code).
    public var unit: String

    public init(userID: String, role: String, unit: String) {
        self.userID = userID
        self.role = role
        self.unit = unit
    }

    /// The actor for events the system records by itself (deadline clocks, imports).
    public static let system = EventActor(userID: "system", role: "system", unit: "")
}

/// An event to append: everything but the fields the log assigns (position, stream version, time, hash).
public struct NewEvent: Sendable, Hashable {
    /// A unique id for the event (random by default).
    public var id: UUID
    /// The event type's name, e.g. `MediationRequested`.
    public var type: String
    /// The version of the type's payload schema, so old shapes can be upcast when read.
    public var schemaVersion: UInt32
    /// Who caused it.
    public var actor: EventActor
    /// The id that ties together everything one business operation caused.
    public var correlationID: UUID?
    /// The id of the event or command that directly caused this one.
    public var causationID: UUID?
    /// Free-form metadata bytes (e.g. JSON); opaque to the log.
    public var metadata: [UInt8]
    /// The payload bytes; opaque to the log (it may be ciphertext, see the storage format).
    public var payload: [UInt8]

    public init(
        id: UUID = .randomV4(), type: String, schemaVersion: UInt32 = 1, actor: EventActor,
        correlationID: UUID? = nil, causationID: UUID? = nil, metadata: [UInt8] = [], payload: [UInt8]
    ) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.actor = actor
        self.correlationID = correlationID
        self.causationID = causationID
        self.metadata = metadata
        self.payload = payload
    }
}

/// A SHA-256 chain hash: 32 bytes, stored without allocation.
public struct ChainHash: Sendable, Hashable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// The hash before position 1: 32 zero bytes.
    public static let zero = ChainHash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// The hash with these 32 bytes; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        self.words = words
    }

    init(_ raw: UnsafeRawBufferPointer) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(32))) }
        self.words = words
    }

    /// The 32 bytes, in order.
    public var bytes: [UInt8] { Swift.withUnsafeBytes(of: words) { Array($0) } }

    /// Calls `body` with the 32 bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// Lower-case hexadecimal, 64 characters.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 64) { out in
            Swift.withUnsafeBytes(of: words) { raw in
                for (index, byte) in raw.enumerated() {
                    out[2 * index] = digits[Int(byte >> 4)]
                    out[2 * index + 1] = digits[Int(byte & 0x0f)]
                }
            }
            return 64
        }
    }

    public var description: String { hex }

    public static func == (lhs: ChainHash, rhs: ChainHash) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2
            && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// An event as the log stores it: a validated view over one copy of the stored record's bytes.
///
/// The record's layout is checked when it is read (version, flags, every length, UTF-8 of every string), and the
/// variable fields are materialised when accessed. A batched read copies all its records into one buffer, so
/// reading costs about one allocation per batch, not per event; `payload`, `metadata` and `storedBytes` are slices of
/// that buffer. Keeping one event alive keeps its batch's buffer alive: copy `payload` into an `Array` to keep it
/// long without the rest.
public struct RecordedEvent: Sendable, Hashable {
    /// The record exactly as stored (see `Docs/StorageFormat.md`), including the trailing chain hash.
    public let storedBytes: ArraySlice<UInt8>
    /// The position in the whole log: starts at 1 and rises by exactly 1 per event.
    public let position: UInt64
    /// The version within the stream: starts at 1 and rises by exactly 1 per event of the stream.
    public let streamVersion: UInt64
    /// When the log recorded the event (never earlier than the event before it).
    public let recordedAt: Timestamp
    let fields: RecordCodec.FieldOffsets

    init(
        storedBytes: ArraySlice<UInt8>, position: UInt64, streamVersion: UInt64, recordedAt: Timestamp,
        fields: RecordCodec.FieldOffsets
    ) {
        self.storedBytes = storedBytes
        self.position = position
        self.streamVersion = streamVersion
        self.recordedAt = recordedAt
        self.fields = fields
    }

    public static func == (lhs: RecordedEvent, rhs: RecordedEvent) -> Bool {
        lhs.position == rhs.position && lhs.storedBytes == rhs.storedBytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(position)
        hasher.combine(storedBytes)
    }

    private func string(_ range: Range<Int>) -> String {
        storedBytes.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self)
        }
    }

    private func slice(_ range: Range<Int>) -> ArraySlice<UInt8> {
        let base = storedBytes.startIndex
        return storedBytes[(base + range.lowerBound)..<(base + range.upperBound)]
    }

    private func uuid(at offset: Int) -> UUID {
        storedBytes.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(fromByteOffset: offset, as: uuid_t.self)) }
    }

    /// The stream (case) the event belongs to.
    public var streamID: String { string(fields.streamID) }
    /// The event type's name.
    public var type: String { string(fields.type) }
    /// The version of the type's payload schema.
    public var schemaVersion: UInt32 {
        storedBytes.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
    }
    /// The event id.
    public var id: UUID { uuid(at: 32) }
    /// The correlation id, if the event had one.
    public var correlationID: UUID? { fields.flags & RecordCodec.flagCorrelation != 0 ? uuid(at: 48) : nil }
    /// The causation id, if the event had one.
    public var causationID: UUID? { fields.flags & RecordCodec.flagCausation != 0 ? uuid(at: 64) : nil }
    /// Who caused it.
    public var actor: EventActor {
        EventActor(userID: string(fields.userID), role: string(fields.role), unit: string(fields.unit))
    }
    /// The idempotency key of the append that wrote the event, if it had one.
    public var idempotencyKey: String? {
        fields.flags & RecordCodec.flagIdempotencyKey != 0 ? string(fields.idempotencyKey) : nil
    }
    /// The metadata bytes (shares the record's storage).
    public var metadata: ArraySlice<UInt8> { slice(fields.metadata) }
    /// The payload bytes (shares the record's storage).
    public var payload: ArraySlice<UInt8> { slice(fields.payload) }
    /// The chain hash: SHA-256 over the previous event's chain hash and this record's other bytes.
    public var chainHash: ChainHash {
        storedBytes.withUnsafeBytes { ChainHash(UnsafeRawBufferPointer(rebasing: $0[($0.count - 32)...])) }
    }

    /// The event's own fields, as they were appended.
    public var event: NewEvent {
        NewEvent(
            id: id, type: type, schemaVersion: schemaVersion, actor: actor, correlationID: correlationID,
            causationID: causationID, metadata: Array(metadata), payload: Array(payload))
    }
}

/// What the writer expects a stream's version to be; the append fails with
/// ``EventLogError/Code/wrongExpectedVersion`` otherwise, and writes nothing.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// Append whatever the stream's version.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must exist (any version).
    case streamExists
    /// The stream's current version must be exactly this (`0` means the stream does not exist).
    case exact(Int64)

    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "no stream"
        case .streamExists: return "stream exists"
        case .exact(let version): return "version \(version)"
        }
    }
}

/// The events of one stream within an append.
public struct StreamAppend: Sendable, Hashable {
    /// The stream (case) id: 1 to ``LMDBEventLog/Configuration/maxStreamIDBytes`` bytes of UTF-8, no NUL.
    public var streamID: String
    /// The version the stream must be at.
    public var expectedVersion: ExpectedVersion
    /// The events, in order. Empty for a stream the request only checks: the request is written only if that stream
    /// is at `expectedVersion` (which must not be `.any`) when it commits, and nothing is appended to it. A decision
    /// that read another stream without changing it (a lock found free) names it so.
    public var events: [NewEvent]

    public init(streamID: String, expectedVersion: ExpectedVersion, events: [NewEvent]) {
        self.streamID = streamID
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

/// One atomic append: events for one or more streams, all written or none.
public struct AppendRequest: Sendable, Hashable {
    /// The streams and their events; a stream appears at most once, and at least one stream has events.
    public var streams: [StreamAppend]
    /// When set, a repeated request with the same key writes nothing and returns the first request's result, for
    /// as long as the log exists.
    public var idempotencyKey: String?

    public init(streams: [StreamAppend], idempotencyKey: String? = nil) {
        self.streams = streams
        self.idempotencyKey = idempotencyKey
    }

    /// An append to one stream.
    public init(
        streamID: String, expectedVersion: ExpectedVersion = .any, events: [NewEvent], idempotencyKey: String? = nil
    ) {
        self.init(
            streams: [StreamAppend(streamID: streamID, expectedVersion: expectedVersion, events: events)],
            idempotencyKey: idempotencyKey)
    }

    var eventCount: Int { streams.reduce(0) { $0 + $1.events.count } }
}

/// What an append wrote (or, for a repeated idempotency key, what the first append wrote).
public struct AppendResult: Sendable, Hashable {
    /// Per stream of the request that received events, in the request's order: the versions its events got
    /// (streams the request only checked are not listed).
    public struct StreamResult: Sendable, Hashable {
        public var streamID: String
        public var firstVersion: UInt64
        public var lastVersion: UInt64

        public init(streamID: String, firstVersion: UInt64, lastVersion: UInt64) {
            self.streamID = streamID
            self.firstVersion = firstVersion
            self.lastVersion = lastVersion
        }
    }

    /// The global positions of the events, in the request's order (they are consecutive).
    public var positions: ClosedRange<UInt64>
    /// The versions per stream.
    public var streams: [StreamResult]
    /// `true` when the idempotency key was already stored and nothing was written.
    public var wasDuplicate: Bool

    public init(positions: ClosedRange<UInt64>, streams: [StreamResult], wasDuplicate: Bool) {
        self.positions = positions
        self.streams = streams
        self.wasDuplicate = wasDuplicate
    }
}

/// The last event of the log: its position and chain hash. An empty log has position 0 and a zero hash.
public struct LogHead: Sendable, Hashable {
    /// The last event's position; `0` for an empty log.
    public var position: UInt64
    /// The last event's chain hash; ``ChainHash/zero`` for an empty log.
    public var chainHash: ChainHash
    /// The last event's recorded-at time.
    public var recordedAt: Timestamp

    public init(position: UInt64, chainHash: ChainHash, recordedAt: Timestamp) {
        self.position = position
        self.chainHash = chainHash
        self.recordedAt = recordedAt
    }

    public static let empty = LogHead(position: 0, chainHash: .zero, recordedAt: Timestamp(microsecondsSinceEpoch: 0))
}

/// Which way a read goes.
public enum ReadDirection: Sendable, Hashable {
    case forwards, backwards
}
