import CaseLedgerLMDB
import CaseLedgerLog
import Foundation
import Synchronization
import Testing
import _CaseLedgerTestSupport

@Suite struct SafetyTests {
    private func expectCode(
        _ code: EventLogError.Code, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        await #expect(sourceLocation: sourceLocation) { try await body() } throws: { error in
            guard let error = error as? EventLogError, error.code == code else { return false }
            return !error.message.isEmpty
        }
    }

    @Test func badInputIsRefusedWithATypedErrorAndWritesNothing() async throws {
        var configuration = Fixtures.configuration()
        configuration.maxEventBytes = 1000
        try await withTemporaryLog(configuration: configuration) { log, _ in
            _ = try await log.append(to: "case-1", events: [Fixtures.event()])
            let head = try log.head()
            let event = Fixtures.event()
            await expectCode(.invalidStreamID) { _ = try await log.append(to: "", events: [event]) }
            await expectCode(.invalidStreamID) {
                _ = try await log.append(to: String(repeating: "案", count: 100), events: [event])
            }
            await expectCode(.invalidStreamID) { _ = try await log.append(to: "case\u{0}1", events: [event]) }
            await expectCode(.eventTooLarge) {
                _ = try await log.append(
                    to: "case-1", events: [Fixtures.event(payload: String(repeating: "x", count: 1001))])
            }
            await expectCode(.invalidExpectedVersion) {
                _ = try await log.append(to: "case-1", expectedVersion: .exact(-1), events: [event])
            }
            await expectCode(.invalidExpectedVersion) {
                _ = try await log.append(to: "case-1", expectedVersion: .exact(.max), events: [event])
            }
            await expectCode(.invalidRequest) { _ = try await log.append(to: "case-1", events: []) }
            await expectCode(.invalidRequest) { _ = try await log.append(AppendRequest(streams: [])) }
            await expectCode(.invalidRequest) {
                _ = try await log.append(
                    AppendRequest(streams: [
                        StreamAppend(streamID: "a", expectedVersion: .any, events: [event]),
                        StreamAppend(streamID: "a", expectedVersion: .any, events: [event]),
                    ]))
            }
            await expectCode(.invalidRequest) {
                _ = try await log.append(to: "case-1", events: [Fixtures.event("")])
            }
            await expectCode(.invalidIdempotencyKey) {
                _ = try await log.append(to: "case-1", events: [event], idempotencyKey: "")
            }
            await expectCode(.invalidIdempotencyKey) {
                _ = try await log.append(
                    to: "case-1", events: [event], idempotencyKey: String(repeating: "k", count: 201))
            }
            #expect(try log.head() == head)
            #expect(try log.verify().isValid)
        }
    }

    @Test func useAfterCloseIsATypedError() async throws {
        try await withTemporaryDirectory { directory in
            let log = try LMDBEventLog.open(at: directory.appending("store"), configuration: Fixtures.configuration())
            log.close()
            await expectCode(.closed) { _ = try await log.append(to: "a", events: [Fixtures.event()]) }
            await expectCode(.closed) { _ = try log.head() }
            await expectCode(.closed) { _ = try log.read(from: 1, direction: .forwards, limit: 1) }
            await expectCode(.closed) { _ = try log.verify() }
        }
    }

    @Test func closingFromInsideAScanAnswersEveryQueuedAppend() async throws {
        final class Answers: Sendable { let count = Atomic<Int>(0) }
        try await withTemporaryDirectory { directory in
            let log = try LMDBEventLog.open(at: directory.appending("store"), configuration: Fixtures.configuration())
            _ = try await log.append(to: "seed", events: [Fixtures.event()])
            let answers = Answers()
            let appenders = Task {
                await withTaskGroup(of: Void.self) { group in
                    for i in 0..<64 {
                        group.addTask {
                            for _ in 0..<50 {
                                _ = try? await log.append(to: "s-\(i)", events: [Fixtures.event()])
                                answers.count.add(1, ordering: .relaxed)
                            }
                        }
                    }
                }
            }
            defer { appenders.cancel() }
            // While appends stream in, some wait in the queue behind each commit; the log is closed from inside a
            // scan, so close() cannot wait for them and the writer meets a closed store with a batch in hand.
            while answers.count.load(ordering: .relaxed) < 200 { try await Task.sleep(for: .milliseconds(1)) }
            try log.forEachEvent(from: 1) { _ in
                log.close()
                return false
            }
            // Every caller gets its own answer (its events, or `closed`); a bounded wait, no timing asserted.
            for _ in 0..<3_000 where answers.count.load(ordering: .relaxed) < 64 * 50 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(answers.count.load(ordering: .relaxed) == 64 * 50)
        }
    }

    @Test func aFullMapWithGrowthOffFailsTheAppendAndWritesNothing() async throws {
        var configuration = Fixtures.configuration()
        configuration.initialMapSize = 256 << 10
        configuration.growsAutomatically = false
        try await withTemporaryLog(configuration: configuration) { (log, _) async throws in
            let (appended, failure) = await appendUntilFailure(log, payloadBytes: 900, eventsPerAppend: 20)
            #expect(failure?.code == .storageFull)
            #expect(failure?.message.contains("maxMapSize") == true)
            #expect(try log.head().position == UInt64(appended * 20), "the failed append left nothing behind")
            #expect(try log.verify().isValid)
            // The log stays readable, and the failed stream was not created.
            #expect(try log.version(ofStream: "case-\(appended)") == 0)
            #expect(try log.read(from: 1, direction: .forwards, limit: 1).count == 1)
        }
    }

    @Test func theMapGrowsByItselfUnderAppends() async throws {
        var configuration = Fixtures.configuration()
        configuration.initialMapSize = 256 << 10
        try await withTemporaryLog(configuration: configuration) { log, _ in
            let before = try log.storageInfo().mapSize
            let payload = String(repeating: "y", count: 900)
            for batch in 0..<50 {
                _ = try await log.append(
                    to: "case-\(batch)", events: (0..<50).map { _ in Fixtures.event(payload: payload) })
            }
            #expect(try log.storageInfo().mapSize > before)
            #expect(try log.head().position == 2500)
            #expect(try log.verify().isValid)
        }
    }

    @Test func aMapThatCannotBeMappedAgainAfterGrowingFailsEveryUseWithATypedError() async throws {
        var configuration = Fixtures.configuration()
        configuration.initialMapSize = 256 << 10
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            var written: UInt64 = 0
            do {
                let log = try LMDBEventLog.open(at: path, configuration: configuration)
                defer { log.close() }
                // LMDB unmaps the store to grow it, then cannot map it again, as under an address-space limit.
                Environment.growthSizeForTesting.withLock { $0[log.path] = 1 << 62 }
                defer { Environment.growthSizeForTesting.withLock { $0[log.path] = nil } }
                let payload = String(repeating: "y", count: 900)
                var failure: EventLogError?
                for batch in 0..<50 where failure == nil {
                    do {
                        _ = try await log.append(
                            to: "case-\(batch)", events: (0..<50).map { _ in Fixtures.event(payload: payload) })
                        written += 50
                    } catch let error as EventLogError {
                        failure = error
                    }
                }
                let error = try #require(failure)
                #expect(error.code == .storage && error.message.contains("open it again"), "\(error)")
                // Every later use fails the same way, instead of reading through LMDB's dangling pointers.
                await expectCode(.storage) { _ = try log.head() }
                await expectCode(.storage) { _ = try log.read(from: 1, direction: .forwards, limit: 1) }
                await expectCode(.storage) { _ = try await log.append(to: "after", events: [Fixtures.event()]) }
            }
            // Opened again, the store holds every append that returned, and verifies.
            let log = try LMDBEventLog.open(at: path, configuration: configuration)
            defer { log.close() }
            #expect(written > 0)
            #expect(try log.head().position == written)
            #expect(try log.verify().isValid)
        }
    }

    @Test func numbersAtTheEndOfTheirRangeInADamagedStoreGiveTypedErrorsInsteadOfCrashing() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            do {
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                for n in 1...3 { _ = try await log.append(to: "s-\(n)", events: [Fixtures.event()]) }
            }
            // A copy of record 3 under the last possible key, its position field rewritten to match.
            try withRawStore(path) { env in
                let events = try env.database(named: "events", create: false)
                try env.write { txn in
                    guard var record = try txn.value(events, key: be(3)) else { return }
                    record.replaceSubrange(8..<16, with: be(.max))
                    try txn.put(events, key: be(.max), value: record)
                }
            }
            do {
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                var scanned: [UInt64] = []
                let visited = try log.forEachEvent(from: 1) { event in
                    scanned.append(event.position)
                    return true
                }
                #expect(visited == 4 && scanned == [1, 2, 3, .max])
                var subscribed: [UInt64] = []
                for try await event in log.subscribe(from: 1) { subscribed.append(event.position) }
                #expect(subscribed == [1, 2, 3, .max])
                #expect(try log.verify().failure?.kind == .positionSequence)
            }
            // A head at the last position: an append is refused with a typed error.
            try withRawStore(path) { env in
                let meta = try env.database(named: "meta", create: false)
                try env.write { txn in
                    try txn.put(
                        meta, key: Array("head".utf8), value: be(.max) + [UInt8](repeating: 0, count: 32) + be(0))
                }
            }
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            defer { log.close() }
            await expectCode(.corrupted) { _ = try await log.append(to: "s-4", events: [Fixtures.event()]) }
        }
    }

    @Test func aMapSizeNoProcessCanMapIsATypedError() async throws {
        var configuration = Fixtures.configuration()
        configuration.initialMapSize = Int.max - 10
        try await withTemporaryDirectory { directory in
            let error = #expect(throws: EventLogError.self) {
                try LMDBEventLog.open(at: directory.appending("store"), configuration: configuration).close()
            }
            #expect(error?.message.isEmpty == false)
        }
    }

    @Test func aNewerStoreFormatIsRefusedAndTheFileIsLeftUnchanged() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            _ = try await log.append(to: "a", events: [Fixtures.event()])
            log.close()
            try withRawStore(path) { env in
                let meta = try env.database(named: "meta", create: false)
                try env.write { txn in try txn.put(meta, key: Array("format".utf8), value: [0, 0, 0, 2]) }
            }
            let before = try fileBytes(path + "/data.mdb")
            for mode in [LMDBEventLog.AccessMode.readWrite, .readOnly, .readOnlySnapshot] {
                #expect {
                    _ = try LMDBEventLog.open(at: path, mode: mode)
                } throws: { error in
                    guard let error = error as? EventLogError else { return false }
                    return error.code == .incompatibleFormat && error.message.contains("format version 2")
                }
            }
            #expect(try fileBytes(path + "/data.mdb") == before)
        }
    }

    @Test func somethingThatIsNotAStoreIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            // An LMDB environment of another program.
            let foreign = directory.appending("foreign")
            try withRawStore(foreign) { env in
                let db = try env.database(named: "other", create: true)
                try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            }
            #expect { _ = try LMDBEventLog.open(at: foreign) } throws: {
                ($0 as? EventLogError)?.code == .notAStore
            }
            // A file that is not LMDB at all.
            let garbage = directory.appending("garbage")
            try FileManager.default.createDirectory(atPath: garbage, withIntermediateDirectories: true)
            try Data(repeating: 0x5a, count: 64 << 10).write(to: URL(fileURLWithPath: garbage + "/data.mdb"))
            let before = try fileBytes(garbage + "/data.mdb")
            #expect { _ = try LMDBEventLog.open(at: garbage) } throws: { ($0 as? EventLogError)?.code == .notAStore }
            #expect(try fileBytes(garbage + "/data.mdb") == before)
            // A missing store opened read-only.
            #expect { _ = try LMDBEventLog.open(at: directory.appending("missing"), mode: .readOnly) } throws: {
                ($0 as? EventLogError)?.code == .notAStore
            }
        }
    }

    @Test func aStoreOpensOncePerProcessAndReadOnlyRefusesAppends() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            _ = try await log.append(to: "a", events: [Fixtures.event()])
            #expect { _ = try LMDBEventLog.open(at: path) } throws: { ($0 as? EventLogError)?.code == .alreadyOpen }
            log.close()
            let readOnly = try LMDBEventLog.open(at: path, mode: .readOnly)
            defer { readOnly.close() }
            await expectCode(.readOnly) { _ = try await readOnly.append(to: "a", events: [Fixtures.event()]) }
            #expect(try readOnly.read(stream: "a", from: 1, direction: .forwards, limit: 10).count == 1)
        }
    }

    @Test func hotBackupWhileWritersRunIsConsistentAndVerifies() async throws {
        try await withTemporaryLog { log, directory in
            _ = try await log.append(to: "seed", events: Fixtures.events(100))
            let stop = Mutex(false)
            // Writers append without pause until told to stop, which happens only after the backup returned.
            let writers = Task {
                var index = 0
                while !stop.withLock({ $0 }) {
                    _ = try await log.append(to: "w-\(index % 7)", events: Fixtures.events(5))
                    index += 1
                }
            }
            while try log.head().position < 300 { try await Task.sleep(for: .milliseconds(1)) }
            let before = try log.head().position
            let report = try log.backup(to: directory.appending("backup"))
            // Let the writers go on a little after the backup, so they surely ran on both sides of it.
            while try log.head().position < report.eventsChecked + 50 { try await Task.sleep(for: .milliseconds(1)) }
            stop.withLock { $0 = true }
            try await writers.value
            #expect(report.isValid)
            #expect(report.eventsChecked >= before, "the backup holds everything committed before it began")
            let copy = try LMDBEventLog.open(at: directory.appending("backup"), mode: .readOnlySnapshot)
            defer { copy.close() }
            let copied = try copy.read(from: 1, direction: .forwards, limit: 1_000_000)
            let original = try log.read(from: 1, direction: .forwards, limit: copied.count)
            #expect(UInt64(copied.count) == report.eventsChecked)
            #expect(copied == original, "the backup is an exact prefix of the log")
            #expect(try log.head().position > report.eventsChecked, "the log went on growing after the backup")
            #expect(throws: EventLogError.self) { try log.backup(to: directory.appending("backup")) }
        }
    }

}
