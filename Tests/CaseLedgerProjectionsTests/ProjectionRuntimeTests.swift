import CaseLedger
import CaseLedgerLMDB
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation
import Logging
import Synchronization
import Testing
import _CaseLedgerTestSupport

/// Counts every event per stream; optionally throws at events of one type.
struct CountingProjection: Projection {
    let name: String
    var version = 1
    let tables = ["counts"]
    var failOnType: String? = nil

    struct Refused: Error {}

    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        if let failOnType, event.typeIs(failOnType) { throw Refused() }
        let key = Array(event.streamID.utf8)
        let old = try view.value(in: "counts", key: key).map { $0.reduce(0) { $0 << 8 | Int($1) } } ?? 0
        try view.put(in: "counts", key: key, value: withUnsafeBytes(of: UInt32(old + 1).bigEndian) { Array($0) })
    }

    static func total(_ runtime: ProjectionRuntime, _ name: String) throws -> Int {
        try runtime.read(name) { reader in
            var sum = 0
            try reader.forEach(in: "counts") { _, value in
                sum += value.reduce(0) { $0 << 8 | Int($1) }
                return true
            }
            return sum
        }
    }
}

/// Fails the whole commit of any event of one stream with a store error, as a full disk would after the inline views
/// before it have run.
struct FailingCommitProjection: Projection {
    let name = "failingCommit"
    let version = 1
    let tables = ["unused"]
    let stream: String

    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        guard event.streamID == stream else { return }
        throw LMDBError(code: .transactionFull, rawValue: -30788, operation: "test", message: "the test's failure")
    }
}

/// Writes a key of `keyLength` bytes at events of one type, or throws a store error there.
struct KeyAtTypeProjection: Projection {
    let name: String
    let version = 1
    let tables = ["rows"]
    let type: String
    var keyLength = 0
    var storeError = false

    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        guard event.typeIs(type) else { return }
        if storeError {
            throw LMDBError(code: .badValueSize, rawValue: -30781, operation: "test", message: "the test's failure")
        }
        try view.put(in: "rows", key: [UInt8](repeating: 0x61, count: keyLength), value: [1])
    }
}

/// Counts events like ``CountingProjection``, in transactions the store holds at most `limit` events of (LMDB's
/// `MDB_TXN_FULL` for more, as a view writing much per event meets it); an event of type `Huge` fits in none, and one
/// of type `Bad` makes it throw, as ``CountingProjection`` does.
struct TransactionLimitProjection: Projection {
    final class Seen: Sendable {
        /// The transaction being counted, and its events so far.
        let current = Mutex<(id: UInt64, events: Int)>((0, 0))
    }
    let name = "limited"
    let version = 1
    let tables = ["counts"]
    let limit: Int
    let seen = Seen()

    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        let id = view.transactionID
        let full = seen.current.withLock { current -> Bool in
            if current.id != id { current = (id, 0) }
            current.events += 1
            // The transaction aborts: its id comes again with the next one, which starts empty.
            guard current.events > limit || event.typeIs("Huge") else { return false }
            current = (0, 0)
            return true
        }
        if full {
            throw LMDBError(code: .transactionFull, rawValue: -30788, operation: "mdb_put", message: "MDB_TXN_FULL")
        }
        try CountingProjection(name: name, failOnType: "Bad").apply(event, to: view)
    }
}

@Suite struct ProjectionRuntimeTests {
    static func engine(_ log: LMDBEventLog, clock: ManualClock) throws -> CaseEngine {
        CaseEngine(
            log: log,
            configuration: .init(
                directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
                definitions: try DefinitionRegistry.national()),
            clock: clock, logger: Logger(label: "test"))
    }

    static func scenario(_ engine: CaseEngine, _ prefix: String, count: Int = 6) async throws {
        for i in 0..<count {
            let id = CaseID("\(prefix)\(i)")
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: id, by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
            if i % 2 == 0 {
                try await engine.execute(.reachAgreement(form: .oral, terms: "t"), on: id, by: "m-v1")
                try await engine.execute(.close(outcome: "performed"), on: id, by: "m-v1")
                try await engine.execute(.evaluate(rating: 5, comment: nil), on: id, by: "party:p-a")
            } else {
                try await engine.execute(.handOff(toUnit: "v1", toPerson: "m-v1b", reason: "leave"), on: id, by: "m-v1")
            }
        }
    }

    static func dump(_ runtime: ProjectionRuntime, _ name: String, _ table: String) throws -> [[UInt8]] {
        try runtime.read(name) { reader in
            var rows: [[UInt8]] = []
            try reader.forEach(in: table) { key, value in
                rows.append(key + [0xFF] + value)
                return true
            }
            return rows
        }
    }

    @Test func anInlineViewIsReadableAsSoonAsTheCommandReturns() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CaseSummaryProjection(), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let engine = try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            var summary = try #require(try CaseSummaryProjection.summary(of: "c1", in: runtime))
            #expect(summary.state == "awaitingMediation" && summary.unit == "v1" && summary.owner == "m-v1")
            #expect(summary.openDeadlines["PM13.level"] == LegalTime.endOf(County.date(2025, 4, 3)))
            try await engine.execute(.handOff(toUnit: "v1", toPerson: "m-v1b", reason: "leave"), on: "c1", by: "m-v1")
            summary = try #require(try CaseSummaryProjection.summary(of: "c1", in: runtime))
            #expect(summary.owner == "m-v1b" && summary.events == 3)
            #expect(try runtime.status().first?.lag == 0)
        }
    }

    @Test func anAsyncViewAppliesEachEventExactlyOnceAcrossRestarts() async throws {
        try await withTemporaryDirectory { directory in
            let clock = ManualClock(Timestamp(County.at(2025, 3, 3)))
            do {
                let log = try LMDBEventLog.open(at: directory.path)
                defer { log.close() }
                let runtime = try ProjectionRuntime(
                    log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "t"),
                    chunkSize: 7)
                try await Self.scenario(try Self.engine(log, clock: clock), "a")
                #expect(try runtime.catchUp() > 0)
                #expect(try CountingProjection.total(runtime, "counter") == Int(try log.head().position))
            }
            let log = try LMDBEventLog.open(at: directory.path)
            defer { log.close() }
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "t"),
                chunkSize: 7)
            try await Self.scenario(try Self.engine(log, clock: clock), "b")
            #expect(try runtime.status().first.map { $0.lag > 0 } == true)
            try runtime.catchUp()
            #expect(try CountingProjection.total(runtime, "counter") == Int(try log.head().position))
            #expect(try runtime.catchUp() == 0)
        }
    }

    @Test func aThrowingProjectionStopsAtItsEventWithoutStoppingAppendsOrOthers() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [
                    (CountingProjection(name: "picky", failOnType: "evaluated"), .inline),
                    (CountingProjection(name: "counter"), .async),
                ],
                logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "c")
            let head = try log.head().position
            try runtime.catchUp()
            let status = try runtime.status()
            let picky = try #require(status.first { $0.name == "picky" })
            let firstEvaluation = try #require(
                try log.read(from: 1, direction: .forwards, limit: 1_000).first { $0.type == "evaluated" }?.position)
            #expect(picky.failedAt == firstEvaluation)
            #expect(picky.checkpoint == firstEvaluation - 1)
            #expect(picky.failure?.contains("Refused") == true)
            #expect(try CountingProjection.total(runtime, "picky") == Int(firstEvaluation - 1))
            let counter = try #require(status.first { $0.name == "counter" })
            #expect(counter.checkpoint == head && counter.failedAt == nil)
            // Resuming retries the same event, which fails again at the same place.
            try runtime.resume("picky")
            try runtime.catchUp()
            #expect(try runtime.status().first { $0.name == "picky" }?.failedAt == firstEvaluation)
        }
    }

    @Test func aCommitThatFailsAfterTheInlineViewsRanLeavesNothingForTheNextEventsAtItsPositions() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [
                    (CaseSummaryProjection(), .inline),
                    (FailingCommitProjection(stream: CaseEngine.streamID(of: "x1")), .inline),
                ],
                logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let engine = try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3))))
            // The case summary decodes x1's headers for the commit; then the commit fails and x1 is not written.
            await #expect(throws: (any Error).self) {
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "x1", by: "m-v1")
            }
            #expect(try log.head().position == 0)
            // Another case's registration takes the same positions, with other headers.
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "t1", owner: "m-t1")), on: "y1", by: "m-t1")
            let summary = try #require(try CaseSummaryProjection.summary(of: "y1", in: runtime))
            #expect(summary.unit == "t1" && summary.owner == "m-t1")
            #expect(try CaseSummaryProjection.summary(of: "x1", in: runtime) == nil)
            #expect(try runtime.check("caseSummary").isConsistent)
        }
    }

    /// A runtime with `troubled` and a counting view (chunks of 4 events) over the scenario's cases, not caught up
    /// yet: `body` gets the runtime, the log and its head.
    static func withTroubledRuntime(
        _ troubled: KeyAtTypeProjection, prefix: String,
        _ body: (ProjectionRuntime, LMDBEventLog, UInt64) throws -> Void
    ) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(troubled, .async), (CountingProjection(name: "counter"), .async)],
                logger: Logger(label: "test"), chunkSize: 4)
            defer { runtime.shutdown() }
            try await scenario(try engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), prefix)
            try body(runtime, log, try log.head().position)
        }
    }

    @Test(arguments: [0, 512, 4_000])
    func aKeyTheStoreCannotHoldStopsItsProjectionAtTheEvent(keyLength: Int) async throws {
        let longKeys = KeyAtTypeProjection(name: "longKeys", type: "evaluated", keyLength: keyLength)
        try await Self.withTroubledRuntime(longKeys, prefix: "k") { runtime, log, head in
            let firstEvaluation = try #require(
                try log.read(from: 1, direction: .forwards, limit: 1_000).first { $0.type == "evaluated" }?.position)
            try runtime.catchUp()
            let status = try runtime.status()
            let stopped = try #require(status.first { $0.name == "longKeys" })
            #expect(stopped.failedAt == firstEvaluation && stopped.checkpoint == firstEvaluation - 1)
            #expect(stopped.failure?.contains("invalidKey") == true)
            #expect(stopped.failure?.contains("\(keyLength) bytes") == true)
            #expect(status.first { $0.name == "counter" }?.checkpoint == head)
            #expect(try CountingProjection.total(runtime, "counter") == Int(head))
        }
    }

    @Test func aStoreErrorInOneProjectionDoesNotHoldBackTheOthers() async throws {
        let troubled = KeyAtTypeProjection(name: "troubled", type: "evaluated", storeError: true)
        try await Self.withTroubledRuntime(troubled, prefix: "s") { runtime, _, head in
            // The store's own errors are not the projection's failure (a full map is retried later), so catchUp()
            // throws; but only after the others were brought up.
            let error = try #require(throws: ProjectionError.self) { try runtime.catchUp() }
            #expect(error.code == .storage && error.projection == "troubled")
            let status = try runtime.status()
            let troubled = try #require(status.first { $0.name == "troubled" })
            #expect(troubled.failedAt == nil && troubled.checkpoint < head)
            #expect(status.first { $0.name == "counter" }?.checkpoint == head)
            #expect(try CountingProjection.total(runtime, "counter") == Int(head))
        }
    }

    /// A catch-up chunk whose writes do not fit in one transaction is halved until they do; an event whose writes do
    /// not fit even alone stops the view there, with its position, instead of failing every round unreported. An
    /// event the projection throws at stops it at the same place: the events before it go in as chunks do.
    @Test(arguments: ["Huge", "Bad"])
    func aChunkTooLargeForOneTransactionIsHalvedAndAnEventTooLargeAloneStopsItsView(_ type: String) async throws {
        try await withTemporaryLog { log, _ in
            for position in 1...20 {
                _ = try await log.append(
                    to: "s-\(position % 3)", events: [Fixtures.event(position == 13 ? type : "Note")])
            }
            let limited = TransactionLimitProjection(limit: 5)
            let runtime = try ProjectionRuntime(
                log: log, projections: [(limited, .async), (CountingProjection(name: "counter"), .async)],
                logger: Logger(label: "test"), chunkSize: 16)
            defer { runtime.shutdown() }
            // Not thrown: the stop is the view's, recorded in its state.
            try runtime.catchUp()
            let status = try runtime.status()
            let stopped = try #require(status.first { $0.name == "limited" })
            #expect(stopped.failedAt == 13 && stopped.checkpoint == 12, "\(stopped)")
            #expect(
                stopped.failure?.contains(type == "Huge" ? "MDB_TXN_FULL" : "Refused") == true,
                "\(stopped.failure ?? "")")
            #expect(try CountingProjection.total(runtime, "limited") == 12)
            #expect(status.first { $0.name == "counter" }?.checkpoint == 20)
        }
    }

    /// An append whose inline views' writes do not fit in one transaction fails with `transactionTooLarge`, which
    /// says what to do, and writes nothing.
    @Test func anAppendTooLargeForOneTransactionSaysSo() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(FailingCommitProjection(stream: "big"), .inline)],
                logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let error = try await #require(throws: EventLogError.self) {
                try await log.append(to: "big", events: [Fixtures.event()])
            }
            #expect(error.code == .transactionTooLarge && error.message.contains("fewer events"), "\(error)")
            #expect(try log.head().position == 0)
        }
    }

    @Test func twoRuntimesOpeningTogetherStoreTheFirstStateOnce() async throws {
        try await withTemporaryLog { log, _ in
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "o")
            let head = try log.head().position
            let name = "openedTogether"
            // Another runtime opens between this one's look (no state yet) and its first write, and catches up.
            let other = Mutex<ProjectionRuntime?>(nil)
            ProjectionRuntime.beforeFirstState.withLock {
                $0[name] = {
                    ProjectionRuntime.beforeFirstState.withLock { $0[name] = nil }
                    let runtime = try? ProjectionRuntime(
                        log: log, projections: [(CountingProjection(name: name), .async)], logger: Logger(label: "t"))
                    _ = try? runtime?.catchUp()
                    other.withLock { $0 = runtime }
                }
            }
            defer { ProjectionRuntime.beforeFirstState.withLock { $0[name] = nil } }
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: name), .async)], logger: Logger(label: "t"))
            defer {
                runtime.shutdown()
                other.withLock { $0?.shutdown() }
            }
            #expect(other.withLock { $0 != nil })
            #expect(try runtime.status().first?.checkpoint == head)
            #expect(try runtime.catchUp() == 0)
            #expect(try CountingProjection.total(runtime, name) == Int(head))
        }
    }

    /// Another process (here another runtime, shut down after) rebuilds an inline view and swaps in a generation
    /// this runtime never opened: the next append still updates the view inline, in the append's own transaction.
    @Test func anInlineViewKeepsUpAfterAnotherProcessSwapsInAGeneration() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "t"))
            defer { runtime.shutdown() }
            _ = try await log.append(to: "s", events: Fixtures.events(3))
            do {
                let other = try ProjectionRuntime(
                    log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "t"))
                defer { other.shutdown() }
                try other.rebuild("counter")
            }
            _ = try await log.append(to: "s", events: Fixtures.events(2))
            let status = try #require(try runtime.status().first)
            #expect(status.generation == 2 && status.checkpoint == 5 && status.lag == 0, "\(status)")
            #expect(try CountingProjection.total(runtime, "counter") == 5)
            #expect(try runtime.check("counter").isConsistent)
        }
    }

    @Test func aViewSwitchedByAnotherReleaseIsNotRebuiltOrCheckedByThisOne() async throws {
        try await withTemporaryLog { log, _ in
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "v")
            let older = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "t"))
            defer { older.shutdown() }
            try older.catchUp()
            // A process of the next release opens the store and switches the view to version 2.
            let newer = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter", version: 2), .async)],
                logger: Logger(label: "t"))
            defer { newer.shutdown() }
            try newer.catchUp()
            let switched = try #require(try newer.status().first)
            #expect(switched.version == 2)
            for attempt in [{ try older.rebuild("counter") }, { _ = try older.check("counter") }] {
                let error = #expect(throws: ProjectionError.self) { try attempt() }
                #expect(error?.code == .versionMismatch && error?.projection == "counter")
            }
            #expect(try newer.status().first == switched)
            #expect(try newer.check("counter").isConsistent)
        }
    }

    @Test func aRebuiltViewIsByteForByteTheIncrementalOneAndSwapsInWhileAppendsGoOn() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [(CaseSummaryProjection(), .inline), (CountingProjection(name: "counter"), .async)],
                logger: Logger(label: "test"), chunkSize: 5)
            defer { runtime.shutdown() }
            let engine = try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await Self.scenario(engine, "d")
            let before = try Self.dump(runtime, "caseSummary", "cases")
            try runtime.rebuild("caseSummary")
            #expect(try Self.dump(runtime, "caseSummary", "cases") == before)
            #expect(try runtime.status().first { $0.name == "caseSummary" }?.generation == 2)
            // Rebuild again while commands run: the swapped-in view holds every event exactly once.
            async let more: Void = Self.scenario(engine, "e", count: 10)
            try runtime.rebuild("caseSummary")
            try await more
            let report = try runtime.check("caseSummary")
            #expect(report.isConsistent, "\(report)")
            #expect(report.position == (try log.head().position))
            #expect(try CaseSummaryProjection.summary(of: "e9", in: runtime)?.owner == "m-v1b")
        }
    }

    /// Catch-up computes a built-in view's chunk in read snapshots, outside the write lock, and keeps it only if
    /// nothing moved the view meanwhile. Two runtimes (as two processes would) catch up the same views while
    /// commands append: every event still takes effect exactly once.
    @Test func catchUpsRacingEachOtherAndAppendsApplyEachEventExactlyOnce() async throws {
        try await withTemporaryLog { log, _ in
            let views: () -> [(any Projection, ProjectionRuntime.Mode)] = {
                [(CaseSummaryProjection(), .async), (BoardProjection(), .async), (WorkloadProjection(), .async)]
            }
            let first = try ProjectionRuntime(
                log: log, projections: views(), logger: Logger(label: "test"), chunkSize: 5)
            defer { first.shutdown() }
            let second = try ProjectionRuntime(
                log: log, projections: views(), logger: Logger(label: "test"), chunkSize: 3)
            defer { second.shutdown() }
            let engine = try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await Self.scenario(engine, "r", count: 12)
            async let more: Void = Self.scenario(engine, "s", count: 12)
            let racing = [first, second, first].map { runtime in
                Task.detached {
                    var applied = 0
                    for _ in 0..<40 { applied += try runtime.catchUp() }
                    return applied
                }
            }
            try await more
            var applied = 0
            for task in racing { applied += try await task.value }
            applied += try first.catchUp()
            let head = try log.head().position
            // Each view's events were applied once in all: the racers' chunks that lost were not counted.
            #expect(applied == 3 * Int(head))
            for name in ["caseSummary", "board", "workload"] {
                let report = try first.check(name)
                #expect(report.isConsistent && report.position == head, "\(report)")
            }
        }
    }

    @Test func aStateRowOfTheEarlierJSONFormatIsReadAndRewrittenInBinary() async throws {
        try await withTemporaryLog { log, _ in
            let engine = try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await Self.scenario(engine, "j", count: 2)
            let head = try log.head().position
            // A views.meta row as 0.1 previews wrote it: JSON, 3 events applied, a recorded failure.
            let meta = try log.database(named: "views.meta")
            _ = try log.database(named: "v.counter.1.counts")  // the view's table, which such a store has
            let json = #"{"checkpoint":3,"failedAt":4,"failure":"Refused()","generation":1,"version":1}"#
            try log.writeViews { txn in try txn.put(meta, key: Array("counter".utf8), value: Array(json.utf8)) }
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let status = try #require(try runtime.status().first)
            #expect(status.checkpoint == 3 && status.failedAt == 4 && status.failure == "Refused()")
            #expect(status.generation == 1 && status.lag == head - 3)
            try runtime.resume("counter")
            try runtime.catchUp()
            let stored = try log.readViews { txn in try txn.value(meta, key: Array("counter".utf8)) }
            #expect(stored?.first == 2, "the row is rewritten in the binary format")
            let after = try #require(try runtime.status().first)
            #expect(after.checkpoint == head && after.failedAt == nil && after.failure == nil)
        }
    }

    /// During a rolling upgrade an older release may open a store whose view a newer one has switched. It must not
    /// switch it back (the two would rebuild it in turn, and the newer one read rows of the older format meanwhile):
    /// it leaves the view alone and refuses to read it.
    @Test func anOlderReleaseLeavesANewerVersionOfAViewAlone() async throws {
        try await withTemporaryLog { log, _ in
            for n in 0..<4 { _ = try await log.append(to: "s-\(n % 2)", events: [Fixtures.event()]) }
            let newer = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter", version: 2), .async)],
                logger: Logger(label: "test"))
            try newer.catchUp()
            let switched = try #require(try newer.status().first)
            #expect(switched.version == 2 && switched.checkpoint == 4)
            newer.shutdown()

            let older = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter", version: 1), .async)],
                logger: Logger(label: "test"))
            defer { older.shutdown() }
            #expect(try older.status().first == switched, "not switched back")
            let refused = #expect(throws: ProjectionError.self) { _ = try CountingProjection.total(older, "counter") }
            #expect(refused?.code == .versionMismatch)
            _ = try await log.append(to: "s-0", events: [Fixtures.event()])
            try older.catchUp()
            #expect(try older.status().first?.checkpoint == 4, "its catch-up skips the view")

            let again = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter", version: 2), .async)],
                logger: Logger(label: "test"))
            defer { again.shutdown() }
            try again.catchUp()
            #expect(try again.status().first?.generation == switched.generation, "no rebuild on the way back")
            #expect(try CountingProjection.total(again, "counter") == 5)
        }
    }

    /// A state that names a generation whose tables are gone (views.meta restored from a backup of another store,
    /// tables dropped by hand) must not be served from empty tables at its old checkpoint: that would skip every
    /// event before it. The view starts again from the beginning in a fresh generation.
    @Test func aViewWhoseTablesAreMissingStartsAgainFromTheBeginning() async throws {
        try await withTemporaryLog { log, _ in
            for n in 0..<5 { _ = try await log.append(to: "s-\(n % 2)", events: [Fixtures.event()]) }
            let first = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            try first.catchUp()
            #expect(try CountingProjection.total(first, "counter") == 5)
            first.shutdown()
            _ = try log.writeViews { txn in try txn.drop(named: "v.counter.1.counts") }

            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let status = try #require(try runtime.status().first)
            #expect(status.generation == 2 && status.checkpoint == 0 && status.failedAt == nil)
            try runtime.catchUp()
            #expect(try CountingProjection.total(runtime, "counter") == 5)
            let report = try runtime.check("counter")
            #expect(report.isConsistent && report.position == 5, "\(report)")
            let names = try log.readViews { txn in
                (
                    try txn.openExistingDatabase(named: "v.counter.1.counts"),
                    try txn.openExistingDatabase(named: "v.counter.2.counts")
                )
            }
            #expect(names.0 == nil && names.1 != nil, "generation 1 is not re-created")
        }
    }

    /// A view that lost one of its tables starts again in a new generation, and the tables of the old one that were
    /// left are dropped by name (without opening them as the view's), so no half generation stays behind.
    @Test func theTablesLeftOfAGenerationMissingOneAreDroppedWhenItStartsAgain() async throws {
        try await withTemporaryLog { log, _ in
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "w")
            let first = try ProjectionRuntime(
                log: log, projections: [(WorkloadProjection(), .async)], logger: Logger(label: "test"))
            try first.catchUp()
            let loads = try WorkloadProjection.units(in: first).items
            #expect(!loads.isEmpty)
            first.shutdown()
            func exists(_ name: String) throws -> Bool {
                try log.readViews { txn in try txn.openExistingDatabase(named: name) != nil }
            }
            let left = ["v.workload.1.byPerson", "v.workload.1.casePeople"]
            #expect(try left.allSatisfy(exists))
            _ = try log.writeViews { txn in try txn.drop(named: "v.workload.1.byUnit") }

            let runtime = try ProjectionRuntime(
                log: log, projections: [(WorkloadProjection(), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let status = try #require(try runtime.status().first)
            #expect(status.generation == 2 && status.checkpoint == 0, "\(status)")
            for name in left { #expect(try !exists(name), "\(name) was left behind") }
            try runtime.catchUp()
            #expect(try WorkloadProjection.units(in: runtime).items == loads)
        }
    }

    /// The swap may come from this runtime or from another one in the process (LMDB's table handles belong to the
    /// process, so a table either drops is gone for both); and a runtime that opens while the query runs does not
    /// drop the retired generation as a leftover under it.
    @Test(arguments: [(false, false), (true, false), (false, true)])
    func aSwapDropsTheOldGenerationOnlyAfterTheQueriesReadingItEnd(byAnotherRuntime: Bool, anotherOpens: Bool)
        async throws
    {
        final class Flags: Sendable {
            let swapped = Atomic<Bool>(false)
            let rebuilt = Atomic<Bool>(false)
        }
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let other =
                byAnotherRuntime
                ? try ProjectionRuntime(
                    log: log, projections: [(CountingProjection(name: "counter"), .inline)],
                    logger: Logger(label: "test")) : runtime
            defer { if byAnotherRuntime { other.shutdown() } }
            for _ in 0..<5 { _ = try await log.append(to: "s-1", events: [Fixtures.event()]) }
            let flags = Flags()
            let count = try runtime.read("counter") { reader -> [UInt8]? in
                // A rebuild and its swap happen while this query reads generation 1.
                Thread {
                    do { try other.rebuild("counter") } catch { Issue.record("rebuild failed: \(error)") }
                    flags.rebuilt.store(true, ordering: .sequentiallyConsistent)
                }.start()
                Thread {
                    for _ in 0..<10_000 {
                        if (try? runtime.status().first?.generation) == 2 { break }
                        Thread.sleep(forTimeInterval: 0.001)
                    }
                    flags.swapped.store(true, ordering: .sequentiallyConsistent)
                }.start()
                while !flags.swapped.load(ordering: .sequentiallyConsistent) { Thread.sleep(forTimeInterval: 0.001) }
                Thread.sleep(forTimeInterval: 0.05)
                if anotherOpens {
                    let opened = try ProjectionRuntime(
                        log: log, projections: [(CountingProjection(name: "counter"), .inline)],
                        logger: Logger(label: "test"))
                    opened.shutdown()
                }
                let rebuiltDuringQuery = flags.rebuilt.load(ordering: .sequentiallyConsistent)
                #expect(!rebuiltDuringQuery, "the rebuild waits for this query")
                return try reader.value(in: "counts", key: Array("s-1".utf8))
            }
            #expect(count == [0, 0, 0, 5])
            while !flags.rebuilt.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(1)) }
            #expect(try runtime.status().first?.generation == 2)
            let old = try log.readViews { txn in try txn.openExistingDatabase(named: "v.counter.1.counts") }
            #expect(old == nil, "generation 1 is dropped once the query ended")
            #expect(try runtime.check("counter").isConsistent)
        }
    }

    @Test func aRetiredGenerationLeftByAnEndedProcessIsDroppedAtTheNextStart() async throws {
        try await withTemporaryLog { log, _ in
            for _ in 0..<3 { _ = try await log.append(to: "s-1", events: [Fixtures.event()]) }
            do {
                let runtime = try ProjectionRuntime(
                    log: log, projections: [(CountingProjection(name: "counter"), .async)],
                    logger: Logger(label: "test"))
                defer { runtime.shutdown() }
                try runtime.rebuild("counter")
            }
            // As if the process ended between the swap and the drop: generation 1's table is still there. A later
            // generation (another process's rebuild), a check's scratch table and another projection's stay.
            let kept = ["v.counter.3.counts", "v.counter.-2.counts", "v.counterX.1.counts"]
            for table in ["v.counter.1.counts"] + kept {
                let stale = try log.database(named: table)
                try log.writeViews { txn in try txn.put(stale, key: [1], value: [1]) }
            }
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            #expect(try runtime.status().first?.generation == 2)
            let left = try log.readViews { txn in try txn.openExistingDatabase(named: "v.counter.1.counts") }
            #expect(left == nil)
            for table in kept {
                let other = try log.readViews { txn in try txn.openExistingDatabase(named: table) }
                #expect(other != nil, "\(table)")
            }
            #expect(try runtime.check("counter").isConsistent)
        }
    }

    @Test func theConsistencyCheckNamesTheFirstDifference() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "f")
            #expect(try runtime.check("counter").isConsistent)
            // Tamper with one row of the active view.
            let table = try log.database(named: "v.counter.1.counts")
            try log.writeViews { txn in try txn.put(table, key: Array("case-f3".utf8), value: [0, 0, 0, 99]) }
            let report = try runtime.check("counter")
            #expect(!report.isConsistent)
            #expect(report.firstDifference?.contains(hex("case-f3")) == true, "\(report)")
        }
    }

    /// A check tells a row that holds another value, an extra row and a missing one (amid the rows and after the
    /// last), each by its key.
    @Test(arguments: ["changed", "extra", "missing", "extra at the end", "missing at the end"])
    func theConsistencyCheckNamesEachKindOfDifference(_ kind: String) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "f")
            var keys: [String] = []
            try runtime.read("counter") { reader in
                try reader.forEach(in: "counts") { key, _ in
                    keys.append(String(decoding: key, as: UTF8.self))
                    return true
                }
            }
            let last = try #require(keys.last)
            #expect(keys.contains("case-f3") && keys.contains("case-f4") && !keys.contains("case-f3x"))
            let table = try log.database(named: "v.counter.1.counts")
            try log.writeViews { txn in
                switch kind {
                case "changed": try txn.put(table, key: Array("case-f3".utf8), value: [0, 0, 0, 99])
                case "extra": try txn.put(table, key: Array("case-f3x".utf8), value: [0, 0, 0, 1])
                case "missing": _ = try txn.delete(table, key: Array("case-f3".utf8))
                case "extra at the end": try txn.put(table, key: Array((last + "~").utf8), value: [0, 0, 0, 1])
                default: _ = try txn.delete(table, key: Array(last.utf8))
                }
            }
            let report = try runtime.check("counter")
            let expected =
                switch kind {
                case "changed": "counts: row \(hex("case-f3")) holds 00000063; the log gives "
                case "extra": "counts: the view has row \(hex("case-f3x")) where the log gives \(hex("case-f4"))"
                case "missing": "counts: the view has row \(hex("case-f4")) where the log gives \(hex("case-f3"))"
                case "extra at the end": "counts: extra row \(hex(last + "~")) in the view"
                default: "counts: row \(hex(last)) is missing from the view"
                }
            #expect(report.firstDifference?.hasPrefix(expected) == true, "\(report)")
            #expect(report.rowsCompared > 0)
        }
    }

    /// The comparison runs in a snapshot where the view stands where the check brought its copy. Appends that move
    /// the view meanwhile make it bring the copy on and compare again; after three such rounds it compares inside the
    /// write transaction. Either way it reports the view at the head, and still finds a changed row.
    @Test(arguments: [0, 1, 3], [false, true])
    func aCheckFollowsAppendsThatMoveTheViewWhileItCompares(movedRounds: Int, tampered: Bool) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try await Self.scenario(try Self.engine(log, clock: ManualClock(Timestamp(County.at(2025, 3, 3)))), "f")
            if tampered {
                let table = try log.database(named: "v.counter.1.counts")
                try log.writeViews { txn in try txn.put(table, key: Array("case-f3".utf8), value: [0, 0, 0, 99]) }
            }
            let rounds = Mutex<[Int]>([])
            runtime.setAfterCheckAdvance { attempt in
                rounds.withLock { $0.append(attempt) }
                guard attempt <= movedRounds else { return }
                let appended = DispatchSemaphore(value: 0)
                Task.detached {
                    _ = try? await log.append(to: "other-\(attempt)", events: [Fixtures.event()])
                    appended.signal()
                }
                appended.wait()
            }
            // The check blocks its thread in the hook, so it runs on a thread of its own, not the test's pool.
            let outcome = Mutex<Result<ProjectionRuntime.ConsistencyReport, ProjectionError>?>(nil)
            let done = DispatchSemaphore(value: 0)
            Thread {
                outcome.withLock { $0 = Result { () throws(ProjectionError) in try runtime.check("counter") } }
                done.signal()
            }.start()
            while done.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(10)) }
            runtime.setAfterCheckAdvance(nil)
            let report = try #require(try outcome.withLock { $0 }?.get())
            #expect(rounds.withLock { $0 } == Array(1...min(3, movedRounds + 1)))
            #expect(report.position == (try log.head().position))
            #expect(report.isConsistent == !tampered, "\(report)")
            if tampered { #expect(report.firstDifference?.contains(hex("case-f3")) == true, "\(report)") }
        }
    }

    func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }
}

@Suite struct RebuildLeftoverTests {
    /// Counts events, and throws at every event while `failing` is on.
    struct SwitchableProjection: Projection {
        final class Switch: Sendable { let failing = Atomic<Bool>(false) }
        struct Refused: Error {}
        let name = "counter"
        let version = 1
        let tables = ["counts"]
        let control: Switch

        func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
            if control.failing.load(ordering: .acquiring), event.position == 4 { throw Refused() }
            try CountingProjection(name: name).apply(event, to: view)
        }
    }

    @Test func aCheckThatFailsDropsItsScratchTables() async throws {
        try await withTemporaryLog { log, _ in
            let control = SwitchableProjection.Switch()
            let runtime = try ProjectionRuntime(
                log: log, projections: [(SwitchableProjection(control: control), .async)],
                logger: Logger(label: "test"),
                chunkSize: 3)
            defer { runtime.shutdown() }
            for i in 0..<10 { _ = try await log.append(to: "s-\(i % 3)", events: [Fixtures.event()]) }
            #expect(try runtime.catchUp() == 10)
            control.failing.store(true, ordering: .releasing)
            let error = #expect(throws: ProjectionError.self) { _ = try runtime.check("counter") }
            #expect(error?.code == .failed && error?.position == 4 && error?.projection == "counter")
            // The scratch copy (generation -1, rows of positions 1–3 written) is gone, not left for the next check.
            let scratch = try log.readViews { txn in try txn.openExistingDatabase(named: "v.counter.-1.counts") }
            #expect(scratch == nil)
            control.failing.store(false, ordering: .releasing)
            #expect(try runtime.check("counter").isConsistent)
            #expect(try log.readViews { txn in try txn.openExistingDatabase(named: "v.counter.-1.counts") } == nil)
        }
    }

    /// A rebuild that stops drops what it wrote into the next generation instead of leaving it for the next rebuild;
    /// the view stays in its generation, whole.
    @Test func aRebuildThatStopsDropsItsNewGeneration() async throws {
        try await withTemporaryLog { log, _ in
            let control = SwitchableProjection.Switch()
            let runtime = try ProjectionRuntime(
                log: log, projections: [(SwitchableProjection(control: control), .async)],
                logger: Logger(label: "test"), chunkSize: 3)
            defer { runtime.shutdown() }
            for i in 0..<10 { _ = try await log.append(to: "s-\(i % 3)", events: [Fixtures.event()]) }
            #expect(try runtime.catchUp() == 10)
            control.failing.store(true, ordering: .releasing)
            let error = #expect(throws: ProjectionError.self) { try runtime.rebuild("counter") }
            #expect(error?.code == .failed && error?.position == 4)
            // Positions 1–3 were written into generation 2 before the stop; the table is gone.
            let next = try log.readViews { txn in try txn.openExistingDatabase(named: "v.counter.2.counts") }
            #expect(next == nil)
            #expect(try runtime.status().first?.generation == 1)
            #expect(try CountingProjection.total(runtime, "counter") == 10)
            // And the next rebuild builds it afresh.
            control.failing.store(false, ordering: .releasing)
            try runtime.rebuild("counter")
            #expect(try runtime.status().first?.generation == 2)
            #expect(try CountingProjection.total(runtime, "counter") == 10)
        }
    }

    @Test func aRebuildClearsWhatACrashedRebuildLeftInItsGeneration() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            for i in 0..<20 { _ = try await log.append(to: "s-\(i % 3)", events: [Fixtures.event()]) }
            // A rebuild that died half way left rows in generation 2's table.
            let leftover = try log.database(named: "v.counter.2.counts")
            try log.writeViews { txn in
                for i in 0..<500 { try txn.put(leftover, key: Array("junk-\(i)".utf8), value: [0, 0, 0, 1]) }
            }
            try runtime.rebuild("counter")
            #expect(try runtime.status().first?.generation == 2)
            #expect(try CountingProjection.total(runtime, "counter") == 20)
            #expect(try runtime.check("counter").isConsistent)
        }
    }
}

/// Counts events like ``CountingProjection`` but, once armed, stops at the event at `position` until released: a
/// rebuild held half way.
struct GatedProjection: Projection {
    final class Gate: Sendable {
        let position: UInt64
        let reached = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let armed = Atomic<Bool>(false)
        init(at position: UInt64) { self.position = position }
    }

    let name: String
    let version: Int
    let tables = ["counts"]
    let gate: Gate?

    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        if let gate, event.position == gate.position, gate.armed.exchange(false, ordering: .acquiringAndReleasing) {
            gate.reached.signal()
            gate.release.wait()
        }
        try CountingProjection(name: name).apply(event, to: view)
    }
}

@Suite struct MaintenanceExclusionTests {
    /// Two runtimes on one store stand for two processes (each takes the lock file through its own descriptor, as
    /// another process does; `caseledger views rebuild` against a lock held elsewhere is in the tool's tests).
    @Test(.timeLimit(.minutes(1)))
    func aSecondRebuildOrCheckOfAViewBeingRebuiltIsRefusedAsBusy() async throws {
        try await withTemporaryLog { log, _ in
            for i in 0..<20 { _ = try await log.append(to: "s-\(i % 3)", events: [Fixtures.event()]) }
            let gate = GatedProjection.Gate(at: 10)
            let first = try ProjectionRuntime(
                log: log, projections: [(GatedProjection(name: "counter", version: 1, gate: gate), .async)],
                logger: Logger(label: "test"), chunkSize: 4)
            defer { first.shutdown() }
            let second = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"),
                chunkSize: 4)
            defer { second.shutdown() }
            _ = try second.catchUp()

            gate.armed.store(true, ordering: .releasing)
            let rebuilding = Task.detached { try first.rebuild("counter") }
            gate.reached.wait()
            // The first rebuild is half way through generation 2: nobody else may write it or switch it.
            let rebuild = #expect(throws: ProjectionError.self) { try second.rebuild("counter") }
            #expect(rebuild?.code == .busy)
            #expect(rebuild?.projection == "counter")
            #expect(rebuild?.message.contains("views.counter.lock") == true)
            let check = #expect(throws: ProjectionError.self) { _ = try second.check("counter") }
            #expect(check?.code == .busy)
            // In the same runtime, too.
            let again = #expect(throws: ProjectionError.self) { try first.rebuild("counter") }
            #expect(again?.code == .busy && again?.projection == "counter")

            gate.release.signal()
            try await rebuilding.value
            #expect(try first.status().first?.generation == 2)
            #expect(try CountingProjection.total(second, "counter") == 20)
            // Once it ended, the lock is free again.
            try second.rebuild("counter")
            #expect(try second.status().first?.generation == 3)
            #expect(try second.check("counter").isConsistent)
        }
    }

    /// The lock file held as another process holds it (its own descriptor): a version switch at start-up waits for
    /// no write, it refuses; once the lock is free, it switches.
    @Test func aVersionSwitchWhileAnotherProcessRebuildsTheViewIsRefusedAsBusy() async throws {
        try await withTemporaryLog { log, _ in
            for i in 0..<7 { _ = try await log.append(to: "s-\(i % 3)", events: [Fixtures.event()]) }
            let first = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter/ä"), .async)], logger: Logger(label: "test"))
            _ = try first.catchUp()
            first.shutdown()
            // Names are written into the file name with bytes outside letters, digits, - and _ as %XX.
            let lock = try FileLock.take(log.path + "/views.counter%2F%C3%A4.lock")
            let switching = #expect(throws: ProjectionError.self) {
                _ = try ProjectionRuntime(
                    log: log, projections: [(GatedProjection(name: "counter/ä", version: 2, gate: nil), .async)],
                    logger: Logger(label: "test"), versionSwitchWait: .milliseconds(200))
            }
            #expect(switching?.code == .busy)
            let unchanged = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter/ä"), .async)], logger: Logger(label: "test"))
            #expect(try unchanged.status().first?.generation == 1)
            let rebuild = #expect(throws: ProjectionError.self) { try unchanged.rebuild("counter/ä") }
            #expect(rebuild?.code == .busy)
            unchanged.shutdown()
            lock.release()
            let switched = try ProjectionRuntime(
                log: log, projections: [(GatedProjection(name: "counter/ä", version: 2, gate: nil), .async)],
                logger: Logger(label: "test"))
            defer { switched.shutdown() }
            #expect(try switched.status().first?.generation == 2)
            #expect(try switched.catchUp() == 7)
            #expect(try CountingProjection.total(switched, "counter/ä") == 7)
        }
    }

    /// Processes opened together after an upgrade: one switches the view while the others wait for its lock, then
    /// find the view switched instead of failing as busy.
    @Test func aVersionSwitchWaitsForTheLockAnotherProcessHoldsBriefly() async throws {
        try await withTemporaryLog { log, _ in
            for i in 0..<5 { _ = try await log.append(to: "s-\(i % 2)", events: [Fixtures.event()]) }
            let first = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            _ = try first.catchUp()
            first.shutdown()
            let lock = try FileLock.take(log.path + "/views.counter.lock")
            // On a thread of its own: opening blocks its caller's thread while it waits.
            let released = DispatchSemaphore(value: 0)
            Thread {
                Thread.sleep(forTimeInterval: 0.3)
                lock.release()
                released.signal()
            }.start()
            let switched = try ProjectionRuntime(
                log: log, projections: [(GatedProjection(name: "counter", version: 2, gate: nil), .async)],
                logger: Logger(label: "test"), versionSwitchWait: .seconds(20))
            defer { switched.shutdown() }
            released.wait()
            #expect(try switched.status().first?.generation == 2)
            #expect(try switched.catchUp() == 5)
        }
    }

    /// A name too long for a file name of its own still gets a lock file, cut and followed by the name's digest.
    @Test func aViewWithAVeryLongNameIsRebuiltUnderALockFileOfItsOwn() async throws {
        try await withTemporaryLog { log, _ in
            for i in 0..<5 { _ = try await log.append(to: "s-\(i % 2)", events: [Fixtures.event()]) }
            let long = String(repeating: "v", count: 300)
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [
                    (CountingProjection(name: long), .async), (CountingProjection(name: long + "w"), .async),
                ],
                logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try runtime.rebuildAll()
            #expect(try CountingProjection.total(runtime, long) == 5)
            let locks = try FileManager.default.contentsOfDirectory(atPath: log.path).filter {
                $0.hasPrefix("views.vvv") && $0.hasSuffix(".lock")
            }
            #expect(locks.count == 2 && locks.allSatisfy { $0.utf8.count < 255 }, "\(locks)")
        }
    }

    /// Maintenance writes view tables: on a read-only log it is refused up front, and leaves no lock file.
    @Test func maintenanceOnAReadOnlyLogIsRefusedWithoutLeavingALockFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            do {
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                _ = try await log.append(to: "s-1", events: [Fixtures.event()])
                let runtime = try ProjectionRuntime(
                    log: log, projections: [(CountingProjection(name: "counter"), .async)],
                    logger: Logger(label: "test"))
                runtime.shutdown()
            }
            let log = try LMDBEventLog.open(at: path, mode: .readOnly)
            defer { log.close() }
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let error = #expect(throws: ProjectionError.self) { try runtime.rebuild("counter") }
            #expect(error?.code == .storage && error?.message.contains("read-only") == true)
            #expect(!FileManager.default.fileExists(atPath: path + "/views.counter.lock"))
        }
    }
}
