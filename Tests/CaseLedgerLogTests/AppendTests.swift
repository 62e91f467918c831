import CaseLedgerLog
import Foundation
import Testing
import _CaseLedgerTestSupport

@Suite struct AppendTests {
    @Test func appendAssignsGapFreePositionsAndVersionsAndRoundTripsEveryField() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            let actor = EventActor(userID: "u-7", role: "legal-aid-reviewer", unit: "510124000000")
            let correlation = UUID()
            let causation = UUID()
            let event = NewEvent(
                type: "LegalAidApplied", schemaVersion: 3, actor: actor, correlationID: correlation,
                causationID: causation, metadata: [1, 2, 3], payload: Array("申请法律援助".utf8))
            let first = try await log.append(
                to: "case-a", expectedVersion: .noStream, events: [event, Fixtures.event()], idempotencyKey: "k-1")
            clock.advance(microseconds: 5)
            let second = try await log.append(to: "case-b", events: [Fixtures.event()])
            let third = try await log.append(to: "case-a", expectedVersion: .exact(2), events: [Fixtures.event()])

            #expect(first.positions == 1...2)
            #expect(first.streams == [.init(streamID: "case-a", firstVersion: 1, lastVersion: 2)])
            #expect(second.positions == 3...3)
            #expect(third.positions == 4...4)
            #expect(third.streams.first?.firstVersion == 3)

            let stored = try log.read(stream: "case-a", from: 1, direction: .forwards, limit: 10)
            #expect(stored.map(\.position) == [1, 2, 4])
            #expect(stored.map(\.streamVersion) == [1, 2, 3])
            let recorded = try #require(stored.first)
            #expect(recorded.event == event)
            #expect(recorded.idempotencyKey == "k-1")
            #expect(recorded.recordedAt == clock.now().advanced(by: -5))
            #expect(recorded.chainHash != .zero)
            #expect(recorded.chainHash == (try log.read(from: 1, direction: .forwards, limit: 1)[0].chainHash))
            #expect(stored[1].event.correlationID != nil)
            #expect(try log.version(ofStream: "case-a") == 3)
            #expect(try log.version(ofStream: "case-b") == 1)
            #expect(try log.version(ofStream: "case-") == 0)
            #expect(try log.version(ofStream: "case-c") == 0)
            #expect(try log.head().position == 4)
        }
    }

    @Test(arguments: [
        (ExpectedVersion.noStream, true), (.exact(0), true), (.streamExists, false), (.exact(1), false), (.any, true),
    ])
    func expectedVersionOnAnEmptyStream(expected: ExpectedVersion, succeeds: Bool) async throws {
        try await withTemporaryLog { log, _ in
            let outcome = await attempt { () async throws(EventLogError) in
                try await log.append(to: "case-x", expectedVersion: expected, events: [Fixtures.event()])
            }
            #expect(((try? outcome.get()) != nil) == succeeds)
            if case .failure(let error) = outcome {
                #expect(error.code == .wrongExpectedVersion)
                #expect(error.streamID == "case-x")
            }
        }
    }

    @Test(arguments: [
        (ExpectedVersion.noStream, false), (.exact(2), true), (.exact(1), false), (.exact(3), false),
        (.streamExists, true), (.any, true),
    ])
    func expectedVersionOnAStreamAtVersionTwo(expected: ExpectedVersion, succeeds: Bool) async throws {
        try await withTemporaryLog { log, _ in
            _ = try await log.append(to: "case-x", events: Fixtures.events(2))
            let before = try log.head()
            let outcome = await attempt { () async throws(EventLogError) in
                try await log.append(to: "case-x", expectedVersion: expected, events: [Fixtures.event()])
            }
            #expect(((try? outcome.get()) != nil) == succeeds)
            if !succeeds {
                #expect(try log.head() == before, "a conflict writes nothing")
                #expect(try log.version(ofStream: "case-x") == 2)
            }
        }
    }

    /// A stream named with no events is only checked: the request is written when the stream is at the expected
    /// version, refused with a version conflict (writing nothing) when it is not, and the stream gets no event.
    @Test func aStreamWithoutEventsIsOnlyChecked() async throws {
        try await withTemporaryLog { log, _ in
            _ = try await log.append(to: "lock-a", expectedVersion: .noStream, events: [Fixtures.event()])
            func request(_ expected: ExpectedVersion, key: String? = nil) -> AppendRequest {
                AppendRequest(
                    streams: [
                        StreamAppend(streamID: "case-1", expectedVersion: .any, events: [Fixtures.event()]),
                        StreamAppend(streamID: "lock-a", expectedVersion: expected, events: []),
                    ], idempotencyKey: key)
            }
            let passed = try await log.append(request(.exact(1), key: "k-1"))
            #expect(passed.positions == 2...2)
            #expect(passed.streams == [.init(streamID: "case-1", firstVersion: 1, lastVersion: 1)])
            #expect(try log.version(ofStream: "lock-a") == 1)
            // The same request again with its key: the first result, checked stream and all.
            let again = try await log.append(request(.exact(1), key: "k-1"))
            #expect(again.wasDuplicate && again.positions == passed.positions && again.streams == passed.streams)
            let head = try log.head()
            for expected in [ExpectedVersion.noStream, .exact(0), .exact(2)] {
                do {
                    _ = try await log.append(request(expected))
                    Issue.record("a check of lock-a at \(expected) passed at version 1")
                } catch {
                    #expect((error as? EventLogError)?.code == .wrongExpectedVersion)
                }
            }
            _ = try await log.append(request(.streamExists))
            #expect(try log.head().position == head.position + 1)
            #expect(try log.version(ofStream: "lock-a") == 1)
            // Nothing to check against, or nothing to append: refused.
            let onlyChecks = AppendRequest(
                streams: [StreamAppend(streamID: "lock-a", expectedVersion: .exact(1), events: [])])
            for refused in [request(.any), onlyChecks] {
                await #expect {
                    _ = try await log.append(refused)
                } throws: { error in
                    (error as? EventLogError)?.code == .invalidRequest
                }
            }
            #expect(try log.verify().isValid)
        }
    }

    @Test func repeatedIdempotencyKeyReturnsTheOriginalPositionsForever() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            var log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            let original = try await log.append(to: "case-1", events: Fixtures.events(3), idempotencyKey: "register-1")
            _ = try await log.append(to: "case-2", events: Fixtures.events(1))
            let again = try await log.append(to: "case-1", events: Fixtures.events(3), idempotencyKey: "register-1")
            #expect(again.positions == original.positions)
            #expect(again.streams == original.streams)
            #expect(again.wasDuplicate)
            #expect(!original.wasDuplicate)
            #expect(try log.head().position == 4, "the repeat wrote nothing")
            log.close()

            // After a restart, the key is still remembered (no time window).
            log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
            defer { log.close() }
            let afterRestart = try await log.append(
                to: "case-1", events: Fixtures.events(3), idempotencyKey: "register-1")
            #expect(afterRestart.positions == 1...3)
            #expect(afterRestart.wasDuplicate)
            #expect(try log.head().position == 4)

            // The same key for a different request is refused rather than silently answered: other streams, or
            // the same stream and count with other content.
            await #expect {
                try await log.append(to: "case-9", events: Fixtures.events(1), idempotencyKey: "register-1")
            } throws: { ($0 as? EventLogError)?.code == .idempotencyKeyReused }
            await #expect {
                try await log.append(
                    to: "case-1", events: Fixtures.events(3, prefix: "other"), idempotencyKey: "register-1")
            } throws: { ($0 as? EventLogError)?.code == .idempotencyKeyReused }
            #expect(try log.head().position == 4)
        }
    }

    @Test func idempotencyKeyRepeatedInsideOneGroupCommit() async throws {
        try await withTemporaryLog { log, _ in
            let resume = log._pauseWriter()
            async let first = log.append(to: "case-1", events: Fixtures.events(2), idempotencyKey: "k")
            async let second = log.append(to: "case-1", events: Fixtures.events(2), idempotencyKey: "k")
            while log._queuedAppends < 2 { try await Task.sleep(for: .milliseconds(1)) }
            resume()
            let results = try await [first, second]
            #expect(results[0].positions == results[1].positions)
            #expect(results.filter(\.wasDuplicate).count == 1)
            #expect(try log.head().position == 2)
        }
    }

    @Test func multiStreamAppendIsAtomic() async throws {
        try await withTemporaryLog { log, _ in
            _ = try await log.append(to: "mediation-1", events: Fixtures.events(2))
            let referral = AppendRequest(streams: [
                StreamAppend(
                    streamID: "mediation-1", expectedVersion: .exact(2),
                    events: [Fixtures.event("MediationReferred")]),
                StreamAppend(
                    streamID: "arbitration-7", expectedVersion: .noStream,
                    events: [Fixtures.event("CaseRegistered"), Fixtures.event("CaseAssigned")]),
            ])
            let result = try await log.append(referral)
            #expect(result.positions == 3...5)
            #expect(result.streams.map(\.streamID) == ["mediation-1", "arbitration-7"])
            #expect(result.streams.map(\.lastVersion) == [3, 2])

            // One stream's conflict fails the whole request: nothing of the other stream is written.
            let conflicting = AppendRequest(streams: [
                StreamAppend(streamID: "new-case", expectedVersion: .noStream, events: [Fixtures.event()]),
                StreamAppend(streamID: "mediation-1", expectedVersion: .exact(1), events: [Fixtures.event()]),
            ])
            await #expect { try await log.append(conflicting) } throws: {
                ($0 as? EventLogError)?.code == .wrongExpectedVersion
            }
            #expect(try log.version(ofStream: "new-case") == 0)
            #expect(try log.head().position == 5)
        }
    }

    @Test func groupCommitGathersConcurrentAppendsAndIsolatesEachCallersConflict() async throws {
        try await withTemporaryLog { log, _ in
            _ = try await log.append(to: "taken", events: [Fixtures.event()])
            let transactionsBefore = try log._lastTransactionID()
            let resume = log._pauseWriter()
            let results = try await withThrowingTaskGroup(of: (Int, Result<AppendResult, EventLogError>).self) {
                group in
                for index in 0..<64 {
                    group.addTask {
                        // Appender 13 conflicts: "taken" exists already.
                        let stream = index == 13 ? "taken" : "case-\(index)"
                        let outcome = await attempt { () async throws(EventLogError) in
                            try await log.append(to: stream, expectedVersion: .noStream, events: [Fixtures.event()])
                        }
                        return (index, outcome)
                    }
                }
                while log._queuedAppends < 64 { try await Task.sleep(for: .milliseconds(1)) }
                resume()
                var results: [Int: Result<AppendResult, EventLogError>] = [:]
                for try await (index, outcome) in group { results[index] = outcome }
                return results
            }
            #expect(try log._lastTransactionID() == transactionsBefore + 1, "64 appends, one commit")
            let failures = results.filter { (try? $0.value.get()) == nil }
            #expect(failures.keys.sorted() == [13])
            let positions = results.values.compactMap { try? $0.get().positions.lowerBound }.sorted()
            #expect(positions == Array(2...64), "63 appends got positions 2…64 with no gap")
            #expect(try log.verify().isValid)
        }
    }

    @Test func relaxedDurabilityIsAnExplicitOptIn() async throws {
        #expect(LMDBEventLog.Configuration().durability == .durable)
        try await withTemporaryLog { log, _ in
            #expect(log._syncsOnCommit, "by default LMDB flushes every commit")
        }
        var configuration = Fixtures.configuration()
        configuration.durability = .relaxedForBulkImport
        try await withTemporaryLog(configuration: configuration) { log, _ in
            #expect(!log._syncsOnCommit, "relaxed mode sets MDB_NOSYNC")
            for batch in 0..<10 {
                _ = try await log.append(to: "import-\(batch)", events: Fixtures.events(100))
            }
            try log.sync()
            #expect(try log.head().position == 1000)
            #expect(try log.verify().isValid)
        }
    }

    @Test func canonicallyEqualStreamIDsWithOtherBytesAreDifferentStreams() async throws {
        // "café" precomposed and decomposed compare equal as Swift strings but are different bytes, so different
        // streams in the store; in one group commit each must still start at version 1.
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed)
        try await withTemporaryLog { log, _ in
            let resume = log._pauseWriter()
            async let first = log.append(to: precomposed, events: [Fixtures.event()], idempotencyKey: precomposed)
            async let second = log.append(to: decomposed, events: [Fixtures.event()], idempotencyKey: decomposed)
            while log._queuedAppends < 2 { try await Task.sleep(for: .milliseconds(1)) }
            resume()
            let results = try await [first, second]
            #expect(results.map { $0.streams[0].firstVersion } == [1, 1])
            #expect(results.allSatisfy { !$0.wasDuplicate })
            #expect(try log.verify().isValid)
        }
    }

    @Test func aStorageFailureOfOneRequestLeavesTheOthersOfItsBatchCommitted() async throws {
        var configuration = Fixtures.configuration()
        configuration.initialMapSize = 512 << 10
        configuration.growsAutomatically = false
        configuration.maxEventBytes = 4 << 20
        try await withTemporaryLog(configuration: configuration) { log, _ in
            let resume = log._pauseWriter()
            let huge = Fixtures.event(payload: String(repeating: "h", count: 2 << 20))  // larger than the map
            async let small1 = attempt { () async throws(EventLogError) in
                try await log.append(to: "small-1", events: [Fixtures.event()])
            }
            async let big = attempt { () async throws(EventLogError) in
                try await log.append(to: "big", events: [huge])
            }
            async let small2 = attempt { () async throws(EventLogError) in
                try await log.append(to: "small-2", events: [Fixtures.event()])
            }
            while log._queuedAppends < 3 { try await Task.sleep(for: .milliseconds(1)) }
            resume()
            let outcomes = await [small1, big, small2]
            #expect((try? outcomes[0].get()) != nil)
            #expect((try? outcomes[2].get()) != nil)
            if case .failure(let error) = outcomes[1] {
                #expect(error.code == .storageFull)
            } else {
                Issue.record("the oversized append should fail")
            }
            #expect(try log.head().position == 2)
            #expect(try log.version(ofStream: "big") == 0)
            #expect(try log.verify().isValid)
        }
    }

    @Test func recordedTimeNeverRunsBackwards() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            _ = try await log.append(to: "a", events: [Fixtures.event()])
            let later = clock.now()
            clock.advance(microseconds: -60_000_000)  // the clock jumps back a minute
            _ = try await log.append(to: "a", events: [Fixtures.event()])
            let events = try log.read(from: 1, direction: .forwards, limit: 10)
            #expect(events.map(\.recordedAt) == [later, later])
        }
    }
}

extension Timestamp {
    func advanced(by microseconds: Int64) -> Timestamp {
        Timestamp(microsecondsSinceEpoch: microsecondsSinceEpoch + microseconds)
    }
}

/// Runs an append and captures its outcome.
func attempt<T>(_ body: () async throws(EventLogError) -> T) async -> Result<T, EventLogError> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// Appends `eventsPerAppend` events of `payloadBytes` bytes each, to a new stream per append, until an append fails
/// or `limit` appends succeeded. Returns how many succeeded and the failure.
func appendUntilFailure(_ log: LMDBEventLog, payloadBytes: Int, eventsPerAppend: Int, limit: Int = 10_000) async
    -> (appended: Int, failure: EventLogError?)
{
    let payload = String(repeating: "x", count: payloadBytes)
    var appended = 0
    while appended < limit {
        let outcome = await attempt { () async throws(EventLogError) in
            try await log.append(
                to: "case-\(appended)", events: (0..<eventsPerAppend).map { _ in Fixtures.event(payload: payload) })
        }
        switch outcome {
        case .success: appended += 1
        case .failure(let error): return (appended, error)
        }
    }
    return (appended, nil)
}

@Suite struct RandomUUIDTests {
    @Test func randomUUIDsAreVersion4AndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.randomV4()
            #expect(id.uuid.6 >> 4 == 4)
            #expect(id.uuid.8 >> 6 == 0b10)
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        #expect(UUID.randomV4().uuidString.count == 36)
    }
}
