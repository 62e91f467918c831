import CaseLedgerLog
import CaseLedgerWorkflow
import Foundation

/// One page of a query's results and the cursor to the next page (`nil` at the end). Cursors are stable: they name
/// the last row returned, so rows added or removed elsewhere do not shift a page.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: String?
}

enum Bytes {
    static func u64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    /// An instant as 8 bytes that sort like the instants (sign bit flipped).
    static func instant(_ instant: Instant) -> [UInt8] {
        u64(UInt64(bitPattern: instant.microsecondsSinceEpoch) ^ (1 << 63))
    }

    static func appendInstant(_ instant: Instant, to out: inout [UInt8]) {
        withUnsafeBytes(of: (UInt64(bitPattern: instant.microsecondsSinceEpoch) ^ (1 << 63)).bigEndian) {
            out.append(contentsOf: $0)
        }
    }

    static func instant(from bytes: ArraySlice<UInt8>) -> Instant {
        let raw = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Instant(microsecondsSinceEpoch: Int64(bitPattern: raw ^ (1 << 63)))
    }

    static func str8(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8.prefix(255))
        return [UInt8(utf8.count)] + utf8
    }

    static func appendStr8(_ text: String, to out: inout [UInt8]) {
        let count = min(text.utf8.count, 255)
        out.append(UInt8(count))
        out.append(contentsOf: text.utf8.prefix(count))
    }

    /// Where the length-prefixed string at `offset` ends when it holds exactly what `str8(prefix + text)` writes;
    /// `nil` when it holds something else. Compares in place, without building either string's bytes.
    static func str8End(_ bytes: [UInt8], _ offset: Int, matching text: String, prefix: StaticString = "") -> Int? {
        // `withUTF8Buffer` serves both kinds of static string (`utf8Start` traps on one made from a single scalar).
        prefix.withUTF8Buffer { prefixBytes -> Int? in
            let length = min(prefixBytes.count + text.utf8.count, 255)
            guard offset < bytes.count, Int(bytes[offset]) == length, offset + 1 + length <= bytes.count else {
                return nil
            }
            var index = offset + 1
            let end = index + length
            for byte in prefixBytes where index < end {
                guard bytes[index] == byte else { return nil }
                index += 1
            }
            for byte in text.utf8 where index < end {
                guard bytes[index] == byte else { return nil }
                index += 1
            }
            return end
        }
    }

    /// Reads a length-prefixed string at `offset`, advancing it.
    static func readStr8(_ bytes: [UInt8], _ offset: inout Int) -> String {
        guard offset < bytes.count else { return "" }
        let length = Int(bytes[offset])
        let end = min(bytes.count, offset + 1 + length)
        defer { offset = end }
        return String(decoding: bytes[(offset + 1)..<end], as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func unhex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < chars.count {
            guard let byte = UInt8(String(decoding: chars[index..<(index + 2)], as: UTF8.self), radix: 16) else {
                return nil
            }
            out.append(byte)
            index += 2
        }
        return out
    }

    /// The key a page's `next` cursor names, or `nil` for no cursor. Throws for text that is not a cursor a page
    /// returned (odd length, or not hexadecimal): starting from the first page instead would make a caller's paging
    /// loop go round for ever.
    static func cursor(_ text: String?) throws(ProjectionError) -> [UInt8]? {
        guard let text else { return nil }
        guard let key = unhex(text), !key.isEmpty else {
            throw ProjectionError(
                .invalidKey,
                "the cursor '\(text.prefix(80))' is not one a page returned; pass a page's `next` unchanged")
        }
        return key
    }

    /// The later of two keys in byte order (a cursor never starts a page before its query's range).
    static func later(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { a.lexicographicallyPrecedes(b) ? b : a }

    /// The first key after every key that starts with `prefix` (the prefix plus one, as a big-endian number), or
    /// `nil` when there is none (all bytes 0xFF).
    static func successor(_ prefix: [UInt8]) -> [UInt8]? {
        var next = prefix
        while let last = next.last {
            if last < 0xFF {
                next[next.count - 1] = last + 1
                return next
            }
            next.removeLast()
        }
        return nil
    }

    /// The key just after `key` in order: where a page after `key` starts.
    static func after(_ key: [UInt8]) -> [UInt8] { key + [0] }
}

extension DivisionCode {
    /// The digits that identify this division and everything in it (4 for a city, 6 a county, 9 a township, 12 a
    /// village).
    var prefix: [UInt8] {
        let length: Int
        switch level {
        case .city: length = 4
        case .county: length = 6
        case .township: length = 9
        case .village: length = 12
        }
        return Array(digits.utf8.prefix(length))
    }
}

extension EventView {
    /// The workflow header of a case event, or `nil` for other events (and for a case event without a readable one).
    var workflowHeader: RecordHeader? {
        guard isCaseEvent else { return nil }
        return withMetadata { RecordHeader(buffer: $0) }
    }

    /// The event belongs to a case stream (`case-<id>`).
    var isCaseEvent: Bool { withStreamIDBytes { $0.starts(with: "case-".utf8) } }

    /// The workflow header of a case event, `nil` for events of other streams.
    ///
    /// - Throws: ``ProjectionError`` `unreadableEvent` for a case event whose metadata holds no header this version
    ///   reads (written by another writer, or a newer header format): the view stops there instead of skipping it.
    func checkedWorkflowHeader() throws(ProjectionError) -> RecordHeader? {
        guard isCaseEvent else { return nil }
        guard let header = withMetadata({ RecordHeader(buffer: $0) }) else { throw Self.unreadable(position) }
        return header
    }

    static func unreadable(_ position: UInt64) -> ProjectionError {
        ProjectionError(
            .unreadableEvent,
            "the case event at position \(position) has no record header this version reads (written by another "
                + "writer or a newer CaseLedger); add an upcaster that supplies it, or upgrade",
            position: position)
    }

    /// The case id's UTF-8 bytes (the stream id after `case-`), without making a `String`.
    var caseIDBytes: [UInt8] { withStreamIDBytes { Array($0.dropFirst(5)) } }

    /// Decodes the JSON payload: only for the rare events whose details are not in the header.
    ///
    /// - Throws: ``ProjectionError`` `unreadableEvent` when the event (after the runtime's upcasters) is not in the
    ///   schema version this release reads, which JSON decoding alone would not notice; decoding errors otherwise.
    func workflowRecord() throws -> WorkflowRecord {
        let current = CaseEvent.currentSchemaVersion(ofType: type)
        guard schemaVersion == current else {
            throw ProjectionError(
                .unreadableEvent,
                "the case event at position \(position) (\(type)) is in schema version \(schemaVersion), not "
                    + "version \(current), which this release reads: upgrade if a newer CaseLedger wrote it, or "
                    + "give the runtime the upcasters that carry it to version \(current)",
                position: position)
        }
        return try withPayload { try JSONDecoder().decode(WorkflowRecord.self, from: Data($0)) }
    }
}
