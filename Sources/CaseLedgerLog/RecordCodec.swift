import Crypto
import Foundation

/// The binary layout of a stored event record, version 1. `Docs/StorageFormat.md` describes it byte by byte.
///
/// All integers are big-endian. The record ends with its chain hash: SHA-256 over the previous record's chain hash
/// (32 zero bytes before position 1) followed by every byte of this record before the hash.
enum RecordCodec {
    static let layoutVersion: UInt8 = 1
    static let fixedHeaderSize = 80
    static let hashSize = 32
    static let flagCorrelation: UInt8 = 1 << 0
    static let flagCausation: UInt8 = 1 << 1
    static let flagIdempotencyKey: UInt8 = 1 << 2

    /// The fields of one record to encode: the event plus what the log assigns.
    struct Fields {
        var position: UInt64
        var streamID: String
        var streamVersion: UInt64
        var recordedAt: Timestamp
        var idempotencyKey: String?
        var event: NewEvent
    }

    /// The encoded size of a record with these fields.
    static func size(streamID: String, idempotencyKey: String?, event: NewEvent) -> Int {
        fixedHeaderSize + 6 * 2 + streamID.utf8.count + event.type.utf8.count + event.actor.userID.utf8.count
            + event.actor.role.utf8.count + event.actor.unit.utf8.count + (idempotencyKey?.utf8.count ?? 0)
            + 4 + event.metadata.count + 4 + event.payload.count + hashSize
    }

    /// Writes the record into `out` (exactly ``size(streamID:idempotencyKey:event:)`` bytes) and returns its chain
    /// hash, which is also its last 32 bytes.
    static func encode(_ fields: Fields, previousHash: [UInt8], into out: UnsafeMutableRawBufferPointer) -> [UInt8] {
        var writer = ByteWriter(out)
        var flags: UInt8 = 0
        if fields.event.correlationID != nil { flags |= flagCorrelation }
        if fields.event.causationID != nil { flags |= flagCausation }
        if fields.idempotencyKey != nil { flags |= flagIdempotencyKey }
        writer.u8(layoutVersion)
        writer.u8(flags)
        writer.u16(0)
        writer.u32(fields.event.schemaVersion)
        writer.u64(fields.position)
        writer.u64(fields.streamVersion)
        writer.u64(UInt64(bitPattern: fields.recordedAt.microsecondsSinceEpoch))
        writer.uuid(fields.event.id)
        writer.uuid(fields.event.correlationID)
        writer.uuid(fields.event.causationID)
        writer.string16(fields.streamID)
        writer.string16(fields.event.type)
        writer.string16(fields.event.actor.userID)
        writer.string16(fields.event.actor.role)
        writer.string16(fields.event.actor.unit)
        writer.string16(fields.idempotencyKey ?? "")
        writer.bytes32(fields.event.metadata)
        writer.bytes32(fields.event.payload)
        let bodyEnd = writer.offset
        let hash = chainHash(previous: previousHash, body: UnsafeRawBufferPointer(rebasing: out[0..<bodyEnd]))
        writer.raw(hash)
        precondition(writer.offset == out.count, "record size mismatch")  // internal invariant of size(…)
        return hash
    }

    /// SHA-256 over the previous chain hash and a record's body.
    static func chainHash(previous: [UInt8], body: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        previous.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: body)
        return Array(hasher.finalize())
    }

    /// Why a record failed to decode.
    struct DecodeFailure: Error {
        var reason: String
    }

    /// Decodes a record, checking every length against the buffer and every string for valid UTF-8.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeFailure) -> RecordedEvent {
        var reader = ByteReader(bytes)
        guard bytes.count >= fixedHeaderSize + 6 * 2 + 8 + hashSize else {
            throw DecodeFailure(reason: "record of \(bytes.count) bytes is shorter than the smallest record")
        }
        let version = reader.u8()
        guard version == layoutVersion else {
            throw DecodeFailure(reason: "unknown record layout version \(version)")
        }
        let flags = reader.u8()
        guard flags & ~(flagCorrelation | flagCausation | flagIdempotencyKey) == 0, reader.u16() == 0 else {
            throw DecodeFailure(reason: "unknown flags or reserved bits set")
        }
        let schemaVersion = reader.u32()
        let position = reader.u64()
        let streamVersion = reader.u64()
        let recordedAt = Timestamp(microsecondsSinceEpoch: Int64(bitPattern: reader.u64()))
        let id = reader.uuid()
        let correlation = reader.uuid()
        let causation = reader.uuid()
        let limit = bytes.count - hashSize
        let streamID = try reader.string16(limit: limit, field: "stream id")
        let type = try reader.string16(limit: limit, field: "event type")
        let userID = try reader.string16(limit: limit, field: "actor user id")
        let role = try reader.string16(limit: limit, field: "actor role")
        let unit = try reader.string16(limit: limit, field: "actor unit")
        let idempotencyKey = try reader.string16(limit: limit, field: "idempotency key")
        let metadata = try reader.bytes32(limit: limit, field: "metadata")
        let payload = try reader.bytes32(limit: limit, field: "payload")
        guard reader.offset == limit else {
            throw DecodeFailure(reason: "\(limit - reader.offset) unexpected bytes before the chain hash")
        }
        let hash = Array(UnsafeRawBufferPointer(rebasing: bytes[limit...]))
        let event = NewEvent(
            id: id, type: type, schemaVersion: schemaVersion,
            actor: EventActor(userID: userID, role: role, unit: unit),
            correlationID: flags & flagCorrelation != 0 ? correlation : nil,
            causationID: flags & flagCausation != 0 ? causation : nil, metadata: metadata, payload: payload)
        return RecordedEvent(
            position: position, streamID: streamID, streamVersion: streamVersion, recordedAt: recordedAt,
            idempotencyKey: flags & flagIdempotencyKey != 0 ? idempotencyKey : nil, chainHash: hash, event: event)
    }

    /// The stored chain hash of a record (its last 32 bytes), without decoding the rest.
    static func storedHash(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard bytes.count >= hashSize else { return nil }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - hashSize)...]))
    }
}

/// Big-endian writes into a buffer whose size was computed beforehand.
struct ByteWriter {
    let out: UnsafeMutableRawBufferPointer
    var offset = 0

    init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }

    @inline(__always) mutating func u8(_ value: UInt8) {
        out[offset] = value
        offset += 1
    }
    @inline(__always) mutating func u16(_ value: UInt16) {
        out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
        offset += 2
    }
    @inline(__always) mutating func u32(_ value: UInt32) {
        out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }
    @inline(__always) mutating func u64(_ value: UInt64) {
        out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
        offset += 8
    }
    mutating func uuid(_ value: UUID?) {
        if let value {
            withUnsafeBytes(of: value.uuid) { raw($0) }
        } else {
            for index in offset..<(offset + 16) { out[index] = 0 }
            offset += 16
        }
    }
    mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + bytes.count)]).copyMemory(from: bytes)
        offset += bytes.count
    }
    mutating func raw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw($0) }
    }
    mutating func string16(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            u16(UInt16(utf8.count))
            raw(UnsafeRawBufferPointer(utf8))
        }
    }
    mutating func bytes32(_ value: [UInt8]) {
        u32(UInt32(value.count))
        raw(value)
    }
}

/// Big-endian reads; the caller checks lengths of the fixed part, variable parts are checked here.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    @inline(__always) mutating func u8() -> UInt8 {
        defer { offset += 1 }
        return bytes[offset]
    }
    @inline(__always) mutating func u16() -> UInt16 {
        defer { offset += 2 }
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) mutating func u32() -> UInt32 {
        defer { offset += 4 }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) mutating func u64() -> UInt64 {
        defer { offset += 8 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inline(__always) mutating func uuid() -> UUID {
        defer { offset += 16 }
        return UUID(uuid: bytes.loadUnaligned(fromByteOffset: offset, as: uuid_t.self))
    }
    mutating func string16(limit: Int, field: String) throws(RecordCodec.DecodeFailure) -> String {
        guard offset + 2 <= limit else { throw .init(reason: "\(field) length runs past the record") }
        let count = Int(u16())
        guard offset + count <= limit else { throw .init(reason: "\(field) runs past the record") }
        defer { offset += count }
        guard count > 0 else { return "" }
        guard
            let string = String(
                validating: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]), as: UTF8.self)
        else { throw .init(reason: "\(field) is not valid UTF-8") }
        return string
    }
    mutating func bytes32(limit: Int, field: String) throws(RecordCodec.DecodeFailure) -> [UInt8] {
        guard offset + 4 <= limit else { throw .init(reason: "\(field) length runs past the record") }
        let count = Int(u32())
        guard count <= limit - offset else { throw .init(reason: "\(field) runs past the record") }
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
    }
}

/// Fixed-width big-endian keys, so that byte order equals numeric order.
enum Keys {
    static func position(_ position: UInt64) -> [UInt8] {
        withUnsafeBytes(of: position.bigEndian) { Array($0) }
    }

    static func decodePosition(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }

    /// `stream id (UTF-8) · 0x00 · version (u64)`: all of a stream's keys are adjacent and ordered by version.
    static func stream(_ streamID: String, version: UInt64) -> [UInt8] {
        var key = [UInt8]()
        key.reserveCapacity(streamID.utf8.count + 9)
        key.append(contentsOf: streamID.utf8)
        key.append(0)
        withUnsafeBytes(of: version.bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    /// Splits a stream index key into stream id and version.
    static func decodeStream(_ bytes: UnsafeRawBufferPointer) -> (streamID: String, version: UInt64)? {
        guard bytes.count >= 10, bytes[bytes.count - 9] == 0 else { return nil }
        let idBytes = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 9)])
        guard !idBytes.contains(0), let id = String(validating: idBytes, as: UTF8.self) else { return nil }
        let version = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
        return (id, version)
    }
}
