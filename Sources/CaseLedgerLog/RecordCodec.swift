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
    static func encode(_ fields: Fields, previousHash: ChainHash, into out: UnsafeMutableRawBufferPointer) -> ChainHash
    {
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
        hash.withUnsafeBytes { writer.raw($0) }
        precondition(writer.offset == out.count, "record size mismatch")  // internal invariant of size(…)
        return hash
    }

    /// SHA-256 over the previous chain hash and a record's body.
    static func chainHash(previous: ChainHash, body: UnsafeRawBufferPointer) -> ChainHash {
        var hasher = SHA256()
        previous.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: body)
        return hasher.finalize().withUnsafeBytes { ChainHash($0) }
    }

    /// Why a record failed to decode.
    struct DecodeFailure: Error {
        var reason: String
    }

    /// Where the variable fields of a record are: their lengths, from which their offsets follow (the fields are
    /// consecutive, each behind its length prefix). Compact, so a batch of events stays small.
    struct FieldOffsets: Sendable, Hashable {
        var flags: UInt8
        var lengths: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16)
        var metadataLength: UInt32
        var payloadLength: UInt32

        static func == (lhs: FieldOffsets, rhs: FieldOffsets) -> Bool {
            lhs.flags == rhs.flags && lhs.lengths == rhs.lengths && lhs.metadataLength == rhs.metadataLength
                && lhs.payloadLength == rhs.payloadLength
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(flags)
            hasher.combine(payloadLength)
        }

        /// The range of string field `index` (0 stream id … 5 idempotency key), without allocating.
        @inline(__always) private func stringRange(_ index: Int) -> Range<Int> {
            withUnsafeBytes(of: lengths) { raw in
                var start = RecordCodec.fixedHeaderSize + 2
                for field in 0..<index { start += Int(raw.load(fromByteOffset: 2 * field, as: UInt16.self)) + 2 }
                return start..<(start + Int(raw.load(fromByteOffset: 2 * index, as: UInt16.self)))
            }
        }
        var streamID: Range<Int> {
            let start = RecordCodec.fixedHeaderSize + 2
            return start..<(start + Int(lengths.0))
        }
        var type: Range<Int> {
            let start = streamID.upperBound + 2
            return start..<(start + Int(lengths.1))
        }
        var userID: Range<Int> { stringRange(2) }
        var role: Range<Int> { stringRange(3) }
        var unit: Range<Int> { stringRange(4) }
        var idempotencyKey: Range<Int> { stringRange(5) }
        var metadata: Range<Int> {
            let start = idempotencyKey.upperBound + 4
            return start..<(start + Int(metadataLength))
        }
        var payload: Range<Int> {
            let start = metadata.upperBound + 4
            return start..<(start + Int(payloadLength))
        }
    }

    /// Checks a record's layout (version, flags, every length against the record, UTF-8 of every string) and
    /// returns it with one copy of its bytes.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeFailure) -> RecordedEvent {
        try decode(Array(bytes)[...])
    }

    /// Checks a record held in `storage` (a copy already made, e.g. one slice of a batch's buffer).
    ///
    /// Parsing a copy rather than the memory map matters for speed: the copy streams through the map with the
    /// hardware prefetcher, while parsing in place would chase each length field across cache lines one miss at a
    /// time.
    static func decode(_ storage: ArraySlice<UInt8>) throws(DecodeFailure) -> RecordedEvent {
        let parsed = storage.withUnsafeBytes { raw in Result { () throws(DecodeFailure) in try parse(raw) } }
        let (offsets, position, streamVersion, recordedAt) = try parsed.get()
        return RecordedEvent(
            storedBytes: storage, position: position, streamVersion: streamVersion, recordedAt: recordedAt,
            fields: offsets)
    }

    /// The checks of ``decode(_:)`` without the copy.
    @inline(__always)
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(DecodeFailure)
        -> (FieldOffsets, position: UInt64, streamVersion: UInt64, recordedAt: Timestamp)
    {
        if let parsed = parseFast(bytes) { return parsed }
        return try parseChecked(bytes)
    }

    /// The common case in one straight pass: every check of ``parseChecked(_:)``, with the strings checked as one
    /// ASCII run. Returns `nil` when anything is unusual (non-ASCII text included); the caller then runs the
    /// detailed checks, which either accept the record or say what is wrong with it.
    @inline(__always)
    static func parseFast(_ bytes: UnsafeRawBufferPointer)
        -> (FieldOffsets, position: UInt64, streamVersion: UInt64, recordedAt: Timestamp)?
    {
        let count = bytes.count
        guard count >= fixedHeaderSize + 6 * 2 + 8 + hashSize, count <= Int(UInt32.max),
            bytes[0] == layoutVersion
        else { return nil }
        let flags = bytes[1]
        guard flags & ~(flagCorrelation | flagCausation | flagIdempotencyKey) == 0, bytes[2] == 0, bytes[3] == 0
        else { return nil }
        @inline(__always) func u16(_ offset: Int) -> Int {
            Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        }
        @inline(__always) func u32(_ offset: Int) -> Int {
            Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        let limit = count - hashSize
        var offset = fixedHeaderSize
        var lengths: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0)
        var ascii = true
        for field in 0..<6 {
            guard offset + 2 <= limit else { return nil }
            let length = u16(offset)
            offset += 2
            guard offset + length <= limit else { return nil }
            // ASCII check of this string, a word at a time.
            var index = offset
            let end = offset + length
            while index + 8 <= end {
                if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                    ascii = false
                }
                index += 8
            }
            while index < end {
                if bytes[index] >= 0x80 { ascii = false }
                index += 1
            }
            withUnsafeMutableBytes(of: &lengths) {
                $0.storeBytes(of: UInt16(length), toByteOffset: 2 * field, as: UInt16.self)
            }
            offset = end
        }
        guard ascii, lengths.0 > 0, flags & flagIdempotencyKey != 0 || lengths.5 == 0, offset + 4 <= limit else {
            return nil
        }
        let metadata = u32(offset)
        offset += 4
        guard metadata <= limit - offset else { return nil }
        offset += metadata
        guard offset + 4 <= limit else { return nil }
        let payload = u32(offset)
        offset += 4
        guard payload == limit - offset else { return nil }
        let fields = FieldOffsets(
            flags: flags, lengths: lengths, metadataLength: UInt32(metadata), payloadLength: UInt32(payload))
        let position = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let version = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let time = Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: Int64.self))
        return (fields, position, version, Timestamp(microsecondsSinceEpoch: time))
    }

    /// Field by field, with a reason for the first thing that is wrong.
    static func parseChecked(_ bytes: UnsafeRawBufferPointer) throws(DecodeFailure)
        -> (FieldOffsets, position: UInt64, streamVersion: UInt64, recordedAt: Timestamp)
    {
        guard bytes.count >= fixedHeaderSize + 6 * 2 + 8 + hashSize else {
            throw DecodeFailure(reason: "record of \(bytes.count) bytes is shorter than the smallest record")
        }
        guard bytes.count <= Int(UInt32.max) else { throw DecodeFailure(reason: "record too large") }
        var reader = ByteReader(bytes)
        let version = reader.u8()
        guard version == layoutVersion else {
            throw DecodeFailure(reason: "unknown record layout version \(version)")
        }
        let flags = reader.u8()
        guard flags & ~(flagCorrelation | flagCausation | flagIdempotencyKey) == 0, reader.u16() == 0 else {
            throw DecodeFailure(reason: "unknown flags or reserved bits set")
        }
        reader.offset = 8
        let position = reader.u64()
        let streamVersion = reader.u64()
        let recordedAt = Timestamp(microsecondsSinceEpoch: Int64(bitPattern: reader.u64()))
        reader.offset = fixedHeaderSize
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
        guard streamID > 0 else { throw DecodeFailure(reason: "empty stream id") }
        guard flags & flagIdempotencyKey != 0 || idempotencyKey == 0 else {
            throw DecodeFailure(reason: "idempotency key bytes without the idempotency flag")
        }
        let offsets = FieldOffsets(
            flags: flags, lengths: (streamID, type, userID, role, unit, idempotencyKey), metadataLength: metadata,
            payloadLength: payload)
        return (offsets, position, streamVersion, recordedAt)
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
    mutating func string16(limit: Int, field: String) throws(RecordCodec.DecodeFailure) -> UInt16 {
        guard offset + 2 <= limit else { throw .init(reason: "\(field) length runs past the record") }
        let count = Int(u16())
        guard offset + count <= limit else { throw .init(reason: "\(field) runs past the record") }
        defer { offset += count }
        guard isValidUTF8(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])) else {
            throw .init(reason: "\(field) is not valid UTF-8")
        }
        return UInt16(count)
    }

    mutating func bytes32(limit: Int, field: String) throws(RecordCodec.DecodeFailure) -> UInt32 {
        guard offset + 4 <= limit else { throw .init(reason: "\(field) length runs past the record") }
        let count = Int(u32())
        guard count <= limit - offset else { throw .init(reason: "\(field) runs past the record") }
        defer { offset += count }
        return UInt32(count)
    }
}

/// UTF-8 validity, with a fast path for ASCII (ids, type names and codes almost always are).
@inline(__always)
func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var index = 0
    let count = bytes.count
    while index + 8 <= count {
        if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
        index += 8
    }
    while index < count && bytes[index] < 0x80 { index += 1 }
    if index == count { return true }
    return String(validating: UnsafeRawBufferPointer(rebasing: bytes[index...]), as: UTF8.self) != nil
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
