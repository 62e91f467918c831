import CaseLedgerLog
import Foundation
import Testing
import _CaseLedgerTestSupport

/// A third party can decode and verify a store from `mdb_dump` output alone: Debian's `mdb_dump` (lmdb-utils)
/// dumps the store and `scripts/decode-mdb-dump.py`, written from `Docs/StorageFormat.md` without CaseLedger's
/// code, decodes and verifies it.
@Suite struct ThirdPartyDecodingTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> (Int32, Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let output = Pipe()
        process.standardOutput = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    struct DecoderReport: Decodable {
        struct Failure: Decodable {
            var position: UInt64
            var kind: String
        }
        var ok: Bool
        var events: UInt64
        var head_position: UInt64
        var head_hash: String
        var failure: Failure?
    }

    @Test func mdbDumpOutputDecodesAndVerifiesWithoutCaseLedger() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            for index in 0..<40 {
                _ = try await log.append(
                    to: "case-\(index % 4)",
                    events: [Fixtures.event(payload: #"{"note":"\#(index) \\ \"quoted\" 调解"}"#)],
                    idempotencyKey: "k-\(index)")
            }
            let head = try log.head()
            log.close()

            let (dumpStatus, dump) = try Self.run("mdb_dump", ["-a", path])
            try #require(
                dumpStatus == 0, "mdb_dump (Debian lmdb-utils) must be installed; the README set-up installs it")
            let script = Self.packageRoot + "/scripts/decode-mdb-dump.py"
            let (status, output) = try Self.run("python3", [script, "--json", "-"], input: dump)
            let report = try JSONDecoder().decode(DecoderReport.self, from: output)
            #expect(status == 0)
            #expect(report.ok)
            #expect(report.events == 40)
            #expect(report.head_position == head.position)
            #expect(report.head_hash == head.chainHash.hex)

            // The same damage CaseLedger's verify finds, the independent decoder finds at the same position.
            #expect(try flipByte(in: path + "/data.mdb", inside: Array("\"note\":\"17 ".utf8), at: 3) >= 1)
            let (_, damagedDump) = try Self.run("mdb_dump", ["-a", path])
            let (damagedStatus, damagedOutput) = try Self.run("python3", [script, "--json", "-"], input: damagedDump)
            let damaged = try JSONDecoder().decode(DecoderReport.self, from: damagedOutput)
            #expect(damagedStatus == 1)
            #expect(damaged.failure?.position == 18)
            #expect(damaged.failure?.kind == "chain hash")
            let reopened = try LMDBEventLog.open(at: path, mode: .readOnly)
            defer { reopened.close() }
            #expect(try reopened.verify().failure?.position == 18)
        }
    }
}
