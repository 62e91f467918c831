public import Foundation

/// A point in time with microsecond precision, as the log stores it (microseconds since 1970-01-01T00:00:00Z).
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch (negative before it).
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// The timestamp of `date`, truncated to whole microseconds.
    public init(_ date: Date) {
        self.microsecondsSinceEpoch = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
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
        id: UUID = UUID(), type: String, schemaVersion: UInt32 = 1, actor: EventActor,
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

/// An event as the log stores it.
public struct RecordedEvent: Sendable, Hashable {
    /// The position in the whole log: starts at 1 and rises by exactly 1 per event.
    public var position: UInt64
    /// The stream (case) the event belongs to.
    public var streamID: String
    /// The version within the stream: starts at 1 and rises by exactly 1 per event of the stream.
    public var streamVersion: UInt64
    /// When the log recorded the event (never earlier than the event before it).
    public var recordedAt: Timestamp
    /// The idempotency key of the append that wrote the event, if it had one.
    public var idempotencyKey: String?
    /// The chain hash: SHA-256 over the previous event's chain hash and this record's bytes.
    public var chainHash: [UInt8]
    /// The event's own fields, as appended.
    public var event: NewEvent

    public init(
        position: UInt64, streamID: String, streamVersion: UInt64, recordedAt: Timestamp, idempotencyKey: String?,
        chainHash: [UInt8], event: NewEvent
    ) {
        self.position = position
        self.streamID = streamID
        self.streamVersion = streamVersion
        self.recordedAt = recordedAt
        self.idempotencyKey = idempotencyKey
        self.chainHash = chainHash
        self.event = event
    }

    /// The event id.
    public var id: UUID { event.id }
    /// The event type's name.
    public var type: String { event.type }
    /// The payload bytes.
    public var payload: [UInt8] { event.payload }
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
    /// The events, in order (at least one).
    public var events: [NewEvent]

    public init(streamID: String, expectedVersion: ExpectedVersion, events: [NewEvent]) {
        self.streamID = streamID
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

/// One atomic append: events for one or more streams, all written or none.
public struct AppendRequest: Sendable, Hashable {
    /// The streams and their events; a stream appears at most once.
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
    /// Per stream of the request, in the request's order: the versions its events got.
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
    public var position: UInt64
    public var chainHash: [UInt8]
    public var recordedAt: Timestamp

    public static let empty = LogHead(
        position: 0, chainHash: [UInt8](repeating: 0, count: 32), recordedAt: Timestamp(microsecondsSinceEpoch: 0))
}

/// Which way a read goes.
public enum ReadDirection: Sendable, Hashable {
    case forwards, backwards
}
