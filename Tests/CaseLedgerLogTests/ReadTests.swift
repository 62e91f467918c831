import CaseLedgerLog
import Foundation
import Testing
import _CaseLedgerTestSupport

@Suite struct ReadTests {
    /// Three interleaved streams: a has versions 1…5, b 1…3, c 1…2, positions 1…10.
    private func seed(_ log: LMDBEventLog, clock: ManualClock) async throws {
        for (stream, count) in [("a", 2), ("b", 1), ("a", 1), ("c", 2), ("b", 2), ("a", 2)] {
            _ = try await log.append(to: stream, events: Fixtures.events(count, prefix: stream))
            clock.advance(microseconds: 1_000_000)
        }
    }

    @Test func streamForwardsAndBackwardsFromAVersion() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            #expect(
                try log.read(stream: "a", from: 1, direction: .forwards, limit: 100).map(\.streamVersion)
                    == [1, 2, 3, 4, 5])
            #expect(try log.read(stream: "a", from: 3, direction: .forwards, limit: 2).map(\.streamVersion) == [3, 4])
            #expect(
                try log.read(stream: "a", from: 4, direction: .backwards, limit: 10).map(\.streamVersion)
                    == [4, 3, 2, 1])
            #expect(
                try log.read(stream: "a", from: .max, direction: .backwards, limit: 2).map(\.streamVersion)
                    == [5, 4])
            #expect(try log.read(stream: "b", from: 9, direction: .backwards, limit: 10).map(\.position) == [8, 7, 3])
            #expect(try log.read(stream: "c", from: 3, direction: .forwards, limit: 10).isEmpty)
            #expect(try log.read(stream: "zz", from: 1, direction: .forwards, limit: 10).isEmpty)
            #expect(try log.read(stream: "0", from: .max, direction: .backwards, limit: 10).isEmpty)
        }
    }

    @Test func wholeLogFromAPosition() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            #expect(try log.read(from: 1, direction: .forwards, limit: 100).map(\.position) == Array(1...10))
            #expect(try log.read(from: 8, direction: .forwards, limit: 100).map(\.position) == [8, 9, 10])
            #expect(try log.read(from: 4, direction: .backwards, limit: 100).map(\.position) == [4, 3, 2, 1])
            #expect(try log.read(from: .max, direction: .backwards, limit: 3).map(\.position) == [10, 9, 8])
            #expect(try log.read(from: 11, direction: .forwards, limit: 3).isEmpty)
        }
    }

    @Test func eventsInATimeRange() async throws {
        let clock = ManualClock()
        let start = clock.now()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            // Appends happened at start+0s (1,2), +1s (3), +2s (4), +3s (5,6), +4s (7,8), +5s (9,10).
            let from = start.advanced(by: 1_000_000)
            let to = start.advanced(by: 4_000_000)
            #expect(try log.read(recordedIn: from..<to, limit: 100).map(\.position) == [3, 4, 5, 6])
            #expect(try log.read(recordedIn: from..<to, after: 4, limit: 1).map(\.position) == [5])
            let sequence = try await log.events(recordedIn: from..<to, batchSize: 1).collect()
            #expect(sequence.map(\.position) == [3, 4, 5, 6])
            #expect(try log.firstPosition(recordedAtOrAfter: start.advanced(by: 3_500_000)) == 7)
            #expect(try log.firstPosition(recordedAtOrAfter: start.advanced(by: 9_000_000)) == nil)
        }
    }

    @Test(arguments: [1, 2, 3, 1000])
    func asyncSequencesCrossBatchBoundaries(batchSize: Int) async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            var streamA: [UInt64] = []
            for try await event in log.events(inStream: "a", batchSize: batchSize) {
                streamA.append(event.streamVersion)
            }
            #expect(streamA == [1, 2, 3, 4, 5])
            let backwards = try await log.events(inStream: "a", from: .max, direction: .backwards, batchSize: batchSize)
                .collect()
            #expect(backwards.map(\.streamVersion) == [5, 4, 3, 2, 1])
            let all = try await log.events(from: 4, batchSize: batchSize).collect()
            #expect(all.map(\.position) == Array(4...10))
        }
    }

    @Test func catchUpSubscriptionGoesLiveWithoutGapOrDuplicate() async throws {
        try await withTemporaryLog { log, _ in
            for index in 0..<25 { _ = try await log.append(to: "case-\(index % 5)", events: [Fixtures.event()]) }
            let consumer = Task {
                var positions: [UInt64] = []
                for try await event in log.subscribe(from: 1, batchSize: 7) {
                    positions.append(event.position)
                    if positions.count == 125 { break }
                }
                return positions
            }
            // Live appends race with the catch-up phase: 100 more events from 10 concurrent appenders.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<10 {
                    group.addTask {
                        for _ in 0..<10 {
                            _ = try await log.append(to: "live-\(writer)", events: [Fixtures.event()])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let positions = try await consumer.value
            #expect(positions == Array(1...125))
        }
    }

    @Test func subscriptionFromTheMiddleAndCancellation() async throws {
        try await withTemporaryLog { log, _ in
            _ = try await log.append(to: "a", events: Fixtures.events(10))
            let received = AsyncStream<UInt64>.makeStream()
            let consumer = Task {
                var positions: [UInt64] = []
                for try await event in log.subscribe(from: 6) {
                    positions.append(event.position)
                    received.continuation.yield(event.position)
                }
                return positions  // ends when cancelled
            }
            // Wait until the subscriber has caught up (position 10), so it is now waiting live; then cancel.
            for await position in received.stream where position == 10 { break }
            consumer.cancel()
            #expect(try await consumer.value == [6, 7, 8, 9, 10])
        }
    }

    @Test func aSlowSubscriberNeverHoldsBackAppends() async throws {
        try await withTemporaryLog { log, _ in
            _ = try await log.append(to: "first", events: [Fixtures.event()])
            let stalled = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            let consumer = Task {
                var count = 0
                for try await _ in log.subscribe(from: 1) {
                    count += 1
                    if count == 1 {
                        // Stall on the first event until every append below is done.
                        stalled.continuation.yield()
                        for await _ in release.stream { break }
                    }
                    if count == 501 { break }
                }
                return count
            }
            for await _ in stalled.stream { break }  // the subscriber is now stalled inside its loop
            for batch in 0..<50 { _ = try await log.append(to: "s-\(batch)", events: Fixtures.events(10)) }
            #expect(try log.head().position == 501, "all appends finished while the subscriber was stalled")
            release.continuation.yield()
            #expect(try await consumer.value == 501)
        }
    }

    @Test func transactionsInsideAScanClosureDoNotDeadlock() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            // Reads nested in forEachEvent's closure reuse this thread's hold of the map lock.
            var heads: [UInt64] = []
            try log.forEachEvent(from: 1, limit: 3) { event in
                heads.append((try? log.head().position) ?? 0)
                return (try? log.read(stream: "a", from: 1, direction: .forwards, limit: 1).count) == 1
            }
            #expect(heads == [10, 10, 10])
            // close() from inside the closure is carried out when the scan ends, not deadlocked.
            var afterClose: EventLogError?
            try log.forEachEvent(from: 1) { _ in
                log.close()
                do { _ = try log.head() } catch let error as EventLogError { afterClose = error } catch {}
                return true
            }
            #expect(afterClose?.code == .closed)
            #expect(throws: EventLogError.self) { try log.head() }
        }
    }

    @Test func forEachEventViewsRecordsInPlaceAndStopsWhenAsked() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            // Non-ASCII ids and types take the detailed decoding path; they must read back the same.
            let chinese = NewEvent(
                type: "调解申请", actor: EventActor(userID: "张三", role: "调解员", unit: "510124101001"),
                payload: Array("{}".utf8))
            _ = try await log.append(to: "（2026）川0124民调11号", events: [chinese])
            var seen: [(UInt64, String, String, Bool)] = []
            var near: [Bool] = []  // a prefix, a longer name, the empty name, one byte off: never the type
            let visited = try log.forEachEvent(from: 3) { event in
                seen.append((event.position, event.streamID, event.type, event.typeIs("CaseRegistered")))
                for name in ["CaseRegistere", "CaseRegistered2", "", "CaseRegisterex", "调解申"] {
                    near.append(event.typeIs(name))
                }
                return true
            }
            #expect(!near.contains(true))
            #expect(visited == 9)
            #expect(seen.map(\.0) == Array(3...11))
            #expect(seen.last?.1 == "（2026）川0124民调11号")
            #expect(seen.last?.2 == "调解申请")
            #expect(seen.last?.3 == false)
            #expect(seen.dropLast().allSatisfy { $0.3 })
            let recorded = try log.read(from: 11, direction: .forwards, limit: 1)[0]
            #expect(recorded.event == chinese)
            #expect(recorded.actor.role == "调解员")

            var copies: [RecordedEvent] = []
            let stoppedAfter = try log.forEachEvent(from: 1) { event in
                copies.append(event.recordedEvent)
                return copies.count < 4
            }
            #expect(stoppedAfter == 4)
            #expect(copies == (try log.read(from: 1, direction: .forwards, limit: 4)))
            #expect(try log.forEachEvent(from: 2, limit: 3) { _ in true } == 3)
        }
    }

    @Test func theProtocolsDefaultVisitorMatchesTheStoresOwn() async throws {
        /// A log that forwards to LMDB but keeps the protocol's default `forEachEvent`.
        struct Forwarding: EventLog {
            let base: LMDBEventLog
            func append(_ request: AppendRequest) async throws(EventLogError) -> AppendResult {
                try await base.append(request)
            }
            func head() throws(EventLogError) -> LogHead { try base.head() }
            func appendResult(forIdempotencyKey key: String) throws(EventLogError) -> AppendResult? {
                try base.appendResult(forIdempotencyKey: key)
            }
            func version(ofStream streamID: String) throws(EventLogError) -> UInt64 {
                try base.version(ofStream: streamID)
            }
            func read(stream streamID: String, from version: UInt64, direction: ReadDirection, limit: Int)
                throws(EventLogError) -> [RecordedEvent]
            {
                try base.read(stream: streamID, from: version, direction: direction, limit: limit)
            }
            func read(from position: UInt64, direction: ReadDirection, limit: Int) throws(EventLogError)
                -> [RecordedEvent]
            {
                try base.read(from: position, direction: direction, limit: limit)
            }
            func firstPosition(recordedAtOrAfter time: Timestamp) throws(EventLogError) -> UInt64? {
                try base.firstPosition(recordedAtOrAfter: time)
            }
            func waitForAppend(after position: UInt64) async { await base.waitForAppend(after: position) }
            func verify() throws(EventLogError) -> VerificationReport { try base.verify() }
        }
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            try await seed(log, clock: clock)
            let generic: any EventLog = Forwarding(base: log)
            var viaDefault: [RecordedEvent] = []
            var viaStore: [RecordedEvent] = []
            try generic.forEachEvent(from: 2) {
                viaDefault.append($0.recordedEvent); return true
            }
            try log.forEachEvent(from: 2) {
                viaStore.append($0.recordedEvent); return true
            }
            #expect(viaDefault.count == 9)
            #expect(viaDefault == viaStore)
        }
    }
}
