import Foundation

/// Rewrites events of one type from an older payload schema to the next, on read: stores keep what was written,
/// and readers (the workflow, projections) only ever see the current shape.
public struct Upcaster: Sendable {
    /// The event type it applies to.
    public var type: String
    /// The schema version it reads; it produces `fromVersion + 1`.
    public var fromVersion: UInt32
    /// The rewrite of metadata and payload.
    public var transform:
        @Sendable (_ metadata: [UInt8], _ payload: [UInt8]) throws -> (metadata: [UInt8], payload: [UInt8])

    public init(
        type: String, fromVersion: UInt32,
        transform:
            @escaping @Sendable (_ metadata: [UInt8], _ payload: [UInt8]) throws -> (
                metadata: [UInt8], payload: [UInt8]
            )
    ) {
        self.type = type
        self.fromVersion = fromVersion
        self.transform = transform
    }
}

/// The upcasters of a deployment, applied in version order until an event reaches the newest schema.
public struct UpcasterChain: Sendable {
    private let byKey: [String: Upcaster]

    /// - Parameter upcasters: at most one per type and version.
    public init(_ upcasters: [Upcaster] = []) {
        var byKey: [String: Upcaster] = [:]
        for upcaster in upcasters { byKey["\(upcaster.type)\u{0}\(upcaster.fromVersion)"] = upcaster }
        self.byKey = byKey
    }

    public var isEmpty: Bool { byKey.isEmpty }

    /// The event's metadata and payload in the newest schema there is an upcaster chain for, or `nil` when no
    /// upcaster applies (the event is current).
    ///
    /// - Throws: what an upcaster throws; ``EventLogError`` `invalidRequest` for an upcaster from `UInt32.max`.
    public func upcast(type: String, schemaVersion: UInt32, metadata: [UInt8], payload: [UInt8]) throws
        -> (schemaVersion: UInt32, metadata: [UInt8], payload: [UInt8])?
    {
        var version = schemaVersion
        var current = (metadata: metadata, payload: payload)
        var changed = false
        while let upcaster = byKey["\(type)\u{0}\(version)"] {
            guard version < .max else {
                throw EventLogError(
                    code: .invalidRequest,
                    message: "an upcaster of '\(type)' reads schema version \(version), after which there is no "
                        + "version to produce; remove it")
            }
            current = try upcaster.transform(current.metadata, current.payload)
            version += 1
            changed = true
        }
        return changed ? (version, current.metadata, current.payload) : nil
    }

    /// Runs `body` with the event in its current schema: the stored record itself when it is current (no copy), or
    /// an upcast copy (same position, stream, version, time, id and actor; new schema version, metadata, payload).
    public func withCurrent<R>(_ event: borrowing EventView, _ body: (borrowing EventView) throws -> R) throws -> R {
        guard !byKey.isEmpty,
            let upcast = try upcast(
                type: event.type, schemaVersion: event.schemaVersion, metadata: event.withMetadata { Array($0) },
                payload: event.payload)
        else { return try body(event) }
        let recorded = event.recordedEvent
        var new = recorded.event
        new.schemaVersion = upcast.schemaVersion
        new.metadata = upcast.metadata
        new.payload = upcast.payload
        let fields = RecordCodec.Fields(
            position: recorded.position, streamID: recorded.streamID, streamVersion: recorded.streamVersion,
            recordedAt: recorded.recordedAt, idempotencyKey: recorded.idempotencyKey, event: new)
        let size = RecordCodec.size(streamID: fields.streamID, idempotencyKey: fields.idempotencyKey, event: new)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        _ = RecordCodec.encode(fields, previousHash: .zero, into: buffer)
        let view: EventView
        do {
            view = try EventView(bytes: UnsafeRawBufferPointer(buffer))
        } catch {
            throw EventLogError(
                code: .corrupted,
                message: "the upcast event at position \(recorded.position) does not encode: \(error.reason)",
                position: recorded.position)
        }
        return try body(view)
    }
}
