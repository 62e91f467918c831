internal import CaseLedgerLMDB
import Foundation
import Synchronization

/// A stored event viewed in place, without copying: for scans and projection rebuilds that read millions of events.
///
/// A view is handed to the closure of ``EventLog/forEachEvent(from:limit:_:)`` as a `borrowing` parameter of a
/// non-copyable type, so it cannot outlive the call: its bytes may live in the store's memory map, which is only
/// valid while the read lasts. Its layout was checked before the call (version, flags, lengths, UTF-8). Accessors
/// that return `String`, `[UInt8]` or ``RecordedEvent`` copy; the `with…` accessors and ``typeIs(_:)`` do not.
public struct EventView: ~Copyable {
    let bytes: UnsafeRawBufferPointer
    let fields: RecordCodec.FieldOffsets
    /// The position in the whole log.
    public let position: UInt64
    /// The version within the stream.
    public let streamVersion: UInt64
    /// When the log recorded the event.
    public let recordedAt: Timestamp

    init(bytes: UnsafeRawBufferPointer) throws(RecordCodec.DecodeFailure) {
        let (fields, position, streamVersion, recordedAt) = try RecordCodec.parse(bytes)
        self.bytes = bytes
        self.fields = fields
        self.position = position
        self.streamVersion = streamVersion
        self.recordedAt = recordedAt
    }

    private func field(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// The stream id (a copy).
    public var streamID: String { String(decoding: field(fields.streamID), as: UTF8.self) }
    /// The event type's name (a copy).
    public var type: String { String(decoding: field(fields.type), as: UTF8.self) }
    /// Whether the event's type is `name`, compared without copying.
    public func typeIs(_ name: String) -> Bool {
        let type = field(fields.type)
        var name = name
        return name.withUTF8 { utf8 in
            guard utf8.count == type.count else { return false }
            guard let mine = type.baseAddress, let theirs = utf8.baseAddress else { return true }  // both empty
            return memcmp(mine, theirs, utf8.count) == 0
        }
    }
    /// The schema version of the payload.
    public var schemaVersion: UInt32 { UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
    /// The stream id's UTF-8 bytes, valid only inside `body`.
    public func withStreamIDBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(field(fields.streamID))
    }
    /// The payload bytes, valid only inside `body`.
    public func withPayload<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(field(fields.payload))
    }
    /// The metadata bytes, valid only inside `body`.
    public func withMetadata<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(field(fields.metadata))
    }
    /// The stream id, type and metadata bytes at once, valid only inside `body`: for scans that read all three of
    /// every event.
    package func withStreamTypeAndMetadata<R>(
        _ body: (_ stream: UnsafeRawBufferPointer, _ type: UnsafeRawBufferPointer, _ metadata: UnsafeRawBufferPointer)
            throws -> R
    ) rethrows -> R {
        try body(field(fields.streamID), field(fields.type), field(fields.metadata))
    }
    /// The payload (a copy).
    public var payload: [UInt8] { Array(field(fields.payload)) }
    /// The chain hash.
    public var chainHash: ChainHash { ChainHash(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - 32)...])) }
    /// The whole event as a value that may be kept (a copy).
    public var recordedEvent: RecordedEvent {
        RecordedEvent(
            storedBytes: Array(bytes)[...], position: position, streamVersion: streamVersion, recordedAt: recordedAt,
            fields: fields)
    }
}

@available(*, unavailable)
extension EventView: Sendable {}

extension RecordedEvent {
    /// Views this event's bytes as an ``EventView``.
    func withView<R>(_ body: (borrowing EventView) throws -> R) throws -> R {
        try storedBytes.withUnsafeBytes { raw in
            do {
                return try body(try EventView(bytes: raw))
            } catch let failure as RecordCodec.DecodeFailure {
                throw EventLogError(code: .corrupted, message: failure.reason, position: position)
            }
        }
    }
}

extension EventLog {
    /// Visits every event from `position` on: ``forEachEvent(from:limit:_:)`` without a limit.
    @discardableResult
    public func forEachEvent(from position: UInt64, _ body: (borrowing EventView) -> Bool) throws(EventLogError)
        -> Int
    {
        try forEachEvent(from: position, limit: .max, body)
    }

    /// Visits events from `position` on, in order, without copying them, until `body` returns `false`, `limit`
    /// events were visited, or the log ends. Returns the number of events visited.
    ///
    /// This default reads in batches through ``read(from:direction:limit:)``; ``LMDBEventLog`` views the records
    /// in its memory map directly.
    @discardableResult
    public func forEachEvent(from position: UInt64, limit: Int, _ body: (borrowing EventView) -> Bool)
        throws(EventLogError) -> Int
    {
        var next = position
        var visited = 0
        while visited < limit {
            let batch = try read(from: next, direction: .forwards, limit: min(1024, limit - visited))
            guard let last = batch.last else { break }
            for event in batch {
                visited += 1
                let goOn: Bool
                do {
                    goOn = try event.withView(body)
                } catch {
                    throw LMDBEventLog.translate(error, context: "viewing position \(event.position)")
                }
                if !goOn { return visited }
            }
            guard last.position < .max else { break }
            next = last.position + 1
        }
        return visited
    }
}

extension LMDBEventLog {
    /// Visits events in place in the memory map: see ``EventLog/forEachEvent(from:limit:_:)``. Reads in chunks of
    /// at most 16,384 events per read transaction so a long scan never pins old pages for long.
    @discardableResult
    public func forEachEvent(from position: UInt64, limit: Int, _ body: (borrowing EventView) -> Bool)
        throws(EventLogError) -> Int
    {
        var next = max(position, 1)
        var visited = 0
        var stopped = false
        while visited < limit && !stopped {
            let chunkLimit = min(16_384, limit - visited)
            let seen = try reading("scanning the log") { txn -> Int in
                var seen = 0
                try txn.withCursor(databases.events) { cursor in
                    try Keys.position(next).withUnsafeBytes { startKey in
                        try cursor.walk(from: .atOrAfter, key: startKey, then: .next) { key, value in
                            let keyPosition = Keys.decodePosition(key) ?? 0
                            Self.prefetch(value)
                            let view: EventView
                            do throws(RecordCodec.DecodeFailure) {
                                view = try EventView(bytes: value)
                            } catch {
                                throw EventLogError(
                                    code: .corrupted,
                                    message: "record at position \(keyPosition) does not decode: \(error.reason)",
                                    position: keyPosition)
                            }
                            guard view.position == keyPosition else {
                                throw EventLogError(
                                    code: .corrupted,
                                    message: "record under key \(keyPosition) says position "
                                        + "\(view.position)", position: keyPosition)
                            }
                            seen += 1
                            // A record under the last possible key (only a damaged or planted store has one) ends the
                            // scan instead of overflowing the next position.
                            let (following, atEnd) = keyPosition.addingReportingOverflow(1)
                            next = following
                            if !body(view) || atEnd {
                                stopped = true
                                return false
                            }
                            return seen < chunkLimit
                        }
                    }
                }
                return seen
            }
            visited += seen
            if seen < chunkLimit { break }
        }
        return visited
    }

    /// Touches the cache lines of a record's header and strings (its first 256 bytes) with independent loads, so
    /// the misses overlap instead of each length field waiting for the one before it. The payload is not touched:
    /// a scan that does not read it does not pay for it.
    @inline(__always)
    static func prefetch(_ bytes: UnsafeRawBufferPointer, upTo limit: Int = 256) {
        var sink: UInt8 = 0
        var offset = 0
        let end = min(bytes.count, limit)
        while offset < end {
            sink &+= bytes[offset]
            offset += 64
        }
        // A relaxed store the optimiser cannot drop, so the loads above stay (a plain store on x86 and ARM).
        prefetchSink.store(sink, ordering: .relaxed)
    }

    private static let prefetchSink = Atomic<UInt8>(0)
}
