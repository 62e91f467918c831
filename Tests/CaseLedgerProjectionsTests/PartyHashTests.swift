import Crypto
import Testing

@testable import CaseLedgerProjections

/// The repeat-disputes view keys parties by HMAC-SHA256 under the deployment key; its own HMAC (`PartyHash`) must give
/// exactly the codes of the standard construction, or views built before and after it would not match.
@Suite struct PartyHashTests {
    private static func code(_ hash: PartyHash, _ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0xEE]
        message.withUnsafeBytes { hash.authenticate($0, into: &out) }
        // What was in the buffer stays; the code is appended.
        #expect(out.first == 0xEE)
        return Array(out.dropFirst())
    }

    private static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    /// RFC 4231's HMAC-SHA256 test cases 2, 3 and 6 (a key shorter than a block, one of 20 bytes, one longer than a
    /// block, which is hashed first).
    @Test func rfc4231Vectors() {
        let cases: [(key: [UInt8], data: [UInt8], code: String)] = [
            (
                Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
            ),
            (
                [UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
            ),
            (
                [UInt8](repeating: 0xAA, count: 131),
                Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
            ),
        ]
        for (key, data, code) in cases {
            #expect(Self.code(PartyHash(key: key), data) == Self.hex(code))
        }
    }

    /// Keys around the block size and messages of every length up to three blocks give swift-crypto's codes, and one
    /// `PartyHash` gives the same code however often it is used.
    @Test func sameCodesAsSwiftCrypto() {
        var generator = SystemRandomNumberGenerator()
        for keyLength in [16, 32, 63, 64, 65, 200] {
            let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let hash = PartyHash(key: key)
            for length in 0...192 {
                let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
                #expect(Self.code(hash, message) == expected, "key \(keyLength) bytes, message \(length) bytes")
                #expect(Self.code(hash, message) == expected)
            }
        }
    }

    /// The projection hashes a reference as the standard HMAC of its UTF-8 bytes under the party key.
    @Test func theViewKeysPartiesByTheHMACOfTheirReference() throws {
        let key = Array("a deployment secret, 32 bytes...".utf8)
        let projection = try RepeatDisputesProjection(partyKey: key)
        let reference = "身份证 110101199003074514"
        let expected = Array(
            HMAC<SHA256>.authenticationCode(for: Array(reference.utf8), using: SymmetricKey(data: key)))
        #expect(projection.hash(reference) == expected)
    }
}
