import Foundation

extension ProjectionRuntime.State {
    /// The binary layout of a `views.meta` row (format 2), read and written by every inline commit, so it is fixed
    /// width and cheap: format byte `0x02`, version (Int64), generation (Int64), checkpoint (UInt64), failed-at
    /// (UInt64, 0 when none), all big-endian, then the failure's UTF-8 text. Rows of format 1 (JSON, written before
    /// 0.1) are still read.
    static let binaryFormat: UInt8 = 2

    var stored: [UInt8] {
        var out: [UInt8] = [Self.binaryFormat]
        out.reserveCapacity(33 + (failure?.utf8.count ?? 0))
        func append(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) } }
        append(UInt64(bitPattern: Int64(version)))
        append(UInt64(bitPattern: Int64(generation)))
        append(checkpoint)
        append(failedAt ?? 0)
        if let failure { out.append(contentsOf: failure.utf8) }
        return out
    }

    init(stored bytes: [UInt8]) throws {
        if bytes.first == UInt8(ascii: "{") {
            self = try JSONDecoder().decode(Self.self, from: Data(bytes))
            return
        }
        guard bytes.count >= 33, bytes[0] == Self.binaryFormat else {
            throw ProjectionError(
                .storage,
                "a views.meta row has format \(bytes.first.map(String.init) ?? "none") and \(bytes.count) bytes; this "
                    + "version reads formats 1 and 2: open the store with the CaseLedger version that wrote it")
        }
        func read(_ offset: Int) -> UInt64 { bytes[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        let failedAt = read(25)
        self.init(
            version: Int(Int64(bitPattern: read(1))), generation: Int(Int64(bitPattern: read(9))), checkpoint: read(17),
            failedAt: failedAt == 0 ? nil : failedAt,
            failure: failedAt == 0 ? nil : String(decoding: bytes[33...], as: UTF8.self))
    }
}
