import CaseLedgerLMDB
import CaseLedgerLog
import Crypto
import Foundation
import Testing
import _CaseLedgerTestSupport

@Suite struct VerificationTests {
    /// Writes 60 events into 6 streams, each payload naming its position (`MARK-000042-END`), then closes.
    private func writeStore(at path: String) async throws {
        let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
        defer { log.close() }
        for position in 1...60 {
            let payload = String(format: "{\"note\":\"MARK-%06d-END\"}", position)
            _ = try await log.append(to: "case-\(position % 6)", events: [Fixtures.event(payload: payload)])
        }
    }

    private func verify(_ path: String, mode: LMDBEventLog.AccessMode = .readOnlySnapshot) throws
        -> VerificationReport
    {
        let log = try LMDBEventLog.open(at: path, mode: mode)
        defer { log.close() }
        return try log.verify()
    }

    @Test func anIntactLogVerifies() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            let report = try verify(path, mode: .readWrite)
            #expect(report.isValid)
            #expect(report.eventsChecked == 60)
            #expect(report.streamsChecked == 6)
            #expect(report.head.position == 60)
        }
    }

    @Test(arguments: [7, 42, 60])
    func aFlippedPayloadByteOnDiskIsNamedByPosition(position: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            let marker = Array(String(format: "MARK-%06d-END", position).utf8)
            #expect(try flipByte(in: path + "/data.mdb", inside: marker, at: 2) >= 1)
            let report = try verify(path)
            let failure = try #require(report.failure)
            #expect(failure.position == UInt64(position))
            #expect(failure.kind == .chainHash)
            #expect(report.eventsChecked == UInt64(position - 1))
        }
    }

    @Test func aChangedStoredHashIsNamedByPosition() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            let hash = try {
                let log = try LMDBEventLog.open(at: path, mode: .readOnlySnapshot)
                defer { log.close() }
                return try log.read(from: 33, direction: .forwards, limit: 1)[0].chainHash.bytes
            }()
            // The hash of 33 is stored in record 33 and in nothing else but the head; flip it in the record.
            #expect(try flipByte(in: path + "/data.mdb", inside: hash, at: 5) >= 1)
            let failure = try #require(try verify(path).failure)
            #expect(failure.position == 33)
            #expect(failure.kind == .chainHash)
        }
    }

    @Test func aDamagedLengthFieldIsADecodingFailureWhenTheHashIsRecomputed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            // Rewrite record 20 with a bad stream-id length but a matching chain hash: only decoding can catch it.
            try rewriteRecord(path: path, position: 20) { bytes in
                bytes[80] = 0xff
                bytes[81] = 0xff
            }
            let failure = try #require(try verify(path).failure)
            #expect(failure.position == 20)
            #expect(failure.kind == .decoding)
        }
    }

    /// An idempotency entry that is damaged, or names records that do not carry its key, is an error: answering the
    /// retry as a duplicate would tell the caller its events are stored when they are not, and appending again
    /// would store them twice.
    @Test func aDamagedIdempotencyEntryIsAnErrorNotADuplicate() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            let keyed = Fixtures.event(payload: "{\"keyed\":1}")
            do {
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                let first = try await log.append(to: "case-k", events: [keyed], idempotencyKey: "k")
                #expect(first.positions == 61...61)
                #expect(try await log.append(to: "case-k", events: [keyed], idempotencyKey: "k").wasDuplicate)
            }
            func entry(_ change: (inout [UInt8]) -> Void) throws {
                try withRawStore(path) { env in
                    let idempotency = try env.database(named: "idempotency", create: false)
                    try env.write { txn in
                        var value = try #require(try txn.value(idempotency, key: Array("k".utf8)))
                        change(&value)
                        try txn.put(idempotency, key: Array("k".utf8), value: value)
                    }
                }
            }
            // Positions 60…60 (a record without the key), then an entry cut short.
            for change in [
                { (value: inout [UInt8]) in value.replaceSubrange(0..<16, with: be(60) + be(60)) },
                { (value: inout [UInt8]) in value.removeLast() },
            ] as [(inout [UInt8]) -> Void] {
                try entry(change)
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                let error = try await #require(throws: EventLogError.self) {
                    _ = try await log.append(to: "case-k", events: [keyed], idempotencyKey: "k")
                }
                #expect(error.code == .corrupted && error.message.contains("idempotency entry"), "\(error)")
                #expect(try log.head().position == 61)
            }
        }
    }

    /// A head put back behind the records (a restored meta page, a careless tool): appends would overwrite nothing
    /// but fail on keys already there; they say the store is damaged instead of a bare storage error.
    @Test func aHeadBehindTheRecordsMakesAppendsSayTheStoreIsDamaged() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            var earlierHead: [UInt8] = []
            for stream in ["case-1", "case-2"] {
                if stream == "case-2" {
                    try withRawStore(path) { env in
                        let meta = try env.database(named: "meta", create: false)
                        earlierHead = try env.read { txn in try #require(try txn.value(meta, key: Array("head".utf8))) }
                    }
                }
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                _ = try await log.append(to: stream, events: [Fixtures.event()])
            }
            try withRawStore(path) { env in
                let meta = try env.database(named: "meta", create: false)
                try env.write { txn in try txn.put(meta, key: Array("head".utf8), value: earlierHead) }
            }
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            defer { log.close() }
            let error = try await #require(throws: EventLogError.self) {
                _ = try await log.append(to: "case-3", events: [Fixtures.event()])
            }
            #expect(error.code == .corrupted && error.message.contains("position 2"), "\(error)")
        }
    }

    /// A store whose format record is there but one of its tables is not is damaged, and says so.
    @Test func aStoreMissingOneOfItsTablesIsCorrupted() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            try withRawStore(path) { env in
                let streams = try env.database(named: "streams", create: false)
                try env.write { txn in try txn.drop(streams) }
            }
            let error = try #require(throws: EventLogError.self) { try LMDBEventLog.open(at: path).close() }
            #expect(error.code == .corrupted && error.message.contains("'streams'"), "\(error)")
        }
    }

    @Test func aMissingOrWrongIndexEntryIsNamed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            // Event 14 is version 3 of case-2 (positions 2, 8, 14, …).
            try withRawStore(path) { env in
                let streams = try env.database(named: "streams", create: false)
                try env.write { txn in
                    try txn.put(streams, key: Array("case-2".utf8) + [0] + be(3), value: be(15))
                }
            }
            let failure = try #require(try verify(path).failure)
            #expect(failure.position == 14)
            #expect(failure.kind == .streamIndex)
        }
    }

    @Test func anExtraIndexEntryIsNamed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            try withRawStore(path) { env in
                let streams = try env.database(named: "streams", create: false)
                try env.write { txn in try txn.put(streams, key: Array("ghost".utf8) + [0] + be(1), value: be(5)) }
            }
            let failure = try #require(try verify(path).failure)
            #expect(failure.position == 5)
            #expect(failure.kind == .streamIndex)
        }
    }

    @Test func aGapInPositionsOrACutTailIsNamed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            try withRawStore(path) { env in
                let events = try env.database(named: "events", create: false)
                try env.write { txn in _ = try txn.delete(events, key: be(60)) }
            }
            var failure = try #require(try verify(path).failure)
            #expect(failure.position == 60)
            #expect(failure.kind == .head)

            try withRawStore(path) { env in
                let events = try env.database(named: "events", create: false)
                try env.write { txn in _ = try txn.delete(events, key: be(30)) }
            }
            failure = try #require(try verify(path).failure)
            #expect(failure.position == 30)
            #expect(failure.kind == .positionSequence)
        }
    }

    @Test(arguments: [1, 7, 60, 61])
    func anEntryBeforeTheFirstPositionOrBetweenTwoIsNamed(chunkSize: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            // A copy of record 1 under key 0 (its position field rewritten to 0 and its hash recomputed, so the record
            // itself is well formed): a read from position 0 would return it.
            try withRawStore(path) { env in
                let events = try env.database(named: "events", create: false)
                try env.write { txn in
                    guard var record = try txn.value(events, key: be(1)) else { return }
                    record.replaceSubrange(8..<16, with: be(0))
                    var hasher = SHA256()
                    hasher.update(data: [UInt8](repeating: 0, count: 32))
                    hasher.update(data: record.dropLast(32))
                    record.replaceSubrange((record.count - 32)..., with: Array(hasher.finalize()))
                    try txn.put(events, key: be(0), value: record)
                }
            }
            let log = try LMDBEventLog.open(at: path, mode: .readOnly)
            var failure = try #require(try log._verify(chunkSize: chunkSize).failure)
            #expect(failure.position == 1 && failure.kind == .positionSequence, "\(failure)")
            log.close()
            try withRawStore(path) { env in
                let events = try env.database(named: "events", create: false)
                try env.write { txn in
                    _ = try txn.delete(events, key: be(0))
                    // A key that sorts between positions 7 and 8, past the end of a 7-record chunk.
                    try txn.put(events, key: be(7) + [0], value: [1, 2, 3])
                }
            }
            let again = try LMDBEventLog.open(at: path, mode: .readOnly)
            defer { again.close() }
            failure = try #require(try again._verify(chunkSize: chunkSize).failure)
            #expect(failure.position == 8 && failure.kind == .positionSequence, "\(failure)")
        }
    }

    @Test func aRecordOfStreamVersionZeroIsNamedInsteadOfCrashingTheCheck() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            // Record 6 (the first of stream case-0) rewritten to version 0 with its hash recomputed, and indexed so.
            try rewriteRecord(path: path, position: 6) { record in record.replaceSubrange(16..<24, with: be(0)) }
            try withRawStore(path) { env in
                let streams = try env.database(named: "streams", create: false)
                try env.write { txn in try txn.put(streams, key: Array("case-0".utf8) + [0] + be(0), value: be(6)) }
            }
            let failure = try #require(try verify(path).failure)
            #expect(failure.position == 6 && failure.kind == .versionSequence, "\(failure)")
        }
    }

    @Test func verifyRunsOnAReadOnlyCopyAndChangesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            let copy = directory.appending("copy")
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: path + "/data.mdb", toPath: copy + "/data.mdb")
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: copy + "/data.mdb")
            let before = try fileBytes(copy + "/data.mdb")
            let report = try verify(copy, mode: .readOnlySnapshot)
            #expect(report.isValid)
            #expect(report.eventsChecked == 60)
            #expect(try fileBytes(copy + "/data.mdb") == before)
            #expect(!FileManager.default.fileExists(atPath: copy + "/lock.mdb"), "a snapshot open makes no lock file")
        }
    }

    @Test func erasingAPerSubjectKeyLeavesTheChainValid() async throws {
        // Personal data is encrypted per data subject before it is appended; the chain covers the ciphertext, so
        // erasing the subject's key (crypto-shredding) makes the data unreadable without touching the log.
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            let idNumber = "510124199001011234"
            let personal = Array(#"{"name":"张三","idNumber":"\#(idNumber)"}"#.utf8)
            var keys: [String: SymmetricKey] = ["subject-1": SymmetricKey(size: .bits256)]
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            let sealed = try AES.GCM.seal(personal, using: try #require(keys["subject-1"]))
            _ = try await log.append(
                to: "case-1",
                events: [
                    Fixtures.event(),
                    NewEvent(
                        type: "PartyRecorded", actor: Fixtures.mediator,
                        payload: Array(try #require(sealed.combined))),
                ])
            let stored = try log.read(stream: "case-1", from: 2, direction: .forwards, limit: 1)[0].payload
            let opened = try AES.GCM.open(AES.GCM.SealedBox(combined: stored), using: try #require(keys["subject-1"]))
            #expect(Array(opened) == personal, "with the key, the data reads back")
            let before = try log.verify()
            log.close()

            keys["subject-1"] = nil  // the erasure: the key store forgets the subject's key
            let data = try fileBytes(path + "/data.mdb")
            #expect(data.range(of: Data(idNumber.utf8)) == nil, "the personal data never reached the disk in clear")
            let reopened = try LMDBEventLog.open(at: path, mode: .readOnlySnapshot)
            defer { reopened.close() }
            let after = try reopened.verify()
            #expect(after.isValid)
            #expect(after.head == before.head, "the chain is unchanged by the erasure")
        }
    }

    @Test func aDeletedIndexEntryIsNamed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            // Event 21 is version 4 of case-3 (positions 3, 9, 15, 21, …).
            try withRawStore(path) { env in
                let streams = try env.database(named: "streams", create: false)
                try env.write { txn in _ = try txn.delete(streams, key: Array("case-3".utf8) + [0] + be(4)) }
            }
            let failure = try #require(try verify(path).failure)
            #expect(failure.position == 21)
            #expect(failure.kind == .streamIndex)
        }
    }

    @Test(arguments: [1, 7, 60, 61])
    func verificationInChunksJoinsUp(chunkSize: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            try await writeStore(at: path)
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            let intact = try log._verify(chunkSize: chunkSize)
            #expect(intact.isValid)
            #expect(intact.eventsChecked == 60)
            log.close()
            #expect(try flipByte(in: path + "/data.mdb", inside: Array("MARK-000042-END".utf8), at: 2) >= 1)
            let damaged = try LMDBEventLog.open(at: path, mode: .readOnly)
            defer { damaged.close() }
            #expect(try damaged._verify(chunkSize: chunkSize).failure?.position == 42)
        }
    }
}

func be(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

/// Opens the store's LMDB environment directly, as an attacker or a buggy tool would.
func withRawStore(_ path: String, _ body: (Environment) throws -> Void) throws {
    let env = try Environment.open(path: path)
    defer { env.close() }
    try body(env)
}

/// Rewrites one record in place and recomputes its own chain hash, so the record's hash matches its new bytes and
/// only checks after the hash (decoding) can notice the change.
func rewriteRecord(path: String, position: UInt64, _ change: (inout [UInt8]) -> Void) throws {
    try withRawStore(path) { env in
        let events = try env.database(named: "events", create: false)
        try env.write { txn in
            var previous = [UInt8](repeating: 0, count: 32)
            if position > 1, let before = try txn.value(events, key: be(position - 1)) {
                previous = Array(before.suffix(32))
            }
            guard var record = try txn.value(events, key: be(position)) else { return }
            change(&record)
            var hasher = SHA256()
            hasher.update(data: previous)
            hasher.update(data: record.dropLast(32))
            record.replaceSubrange((record.count - 32)..., with: Array(hasher.finalize()))
            try txn.put(events, key: be(position), value: record)
        }
    }
}
