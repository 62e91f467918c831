import CaseLedgerLMDB
import CaseLedgerLog
import Synchronization
import Testing
import _CaseLedgerTestSupport

/// Observers run inside the append's write transaction: the basis of inline projections.
@Suite struct CommitObserverTests {
    /// Counts events per stream in its own database, in the commit's transaction; can be told to fail.
    final class Counter: CommitObserver {
        let name: String
        let database: Database
        let failOnType: String?
        init(_ name: String, log: LMDBEventLog, failOnType: String? = nil) throws {
            self.name = name
            database = try log.database(named: "test.\(name)")
            self.failOnType = failOnType
        }
        struct Refused: Error {}

        func didWrite(positions: ClosedRange<UInt64>, log: LMDBEventLog, in txn: borrowing WriteTransaction) throws {
            try log.forEachEvent(positions: positions, in: txn) { event in
                if let failOnType, event.typeIs(failOnType) { throw Refused() }
                let key = Array(event.streamID.utf8)
                let old = try txn.value(database, key: key).map { UInt64($0[0]) } ?? 0
                try txn.put(database, key: key, value: [UInt8(old + 1)])
            }
            try txn.put(
                database, key: Array("checkpoint".utf8),
                value: withUnsafeBytes(of: positions.upperBound.bigEndian) { Array($0) })
        }

        func count(_ stream: String, _ log: LMDBEventLog) throws -> Int {
            try log.readViews { txn in try txn.value(database, key: Array(stream.utf8)).map { Int($0[0]) } ?? 0 }
        }
    }

    @Test func anObserversWritesCommitWithTheAppendAndAFailingOneIsIsolated() async throws {
        try await withTemporaryLog { log, _ in
            let counter = try Counter("counter", log: log)
            let picky = try Counter("picky", log: log, failOnType: "Refused")
            log.addCommitObserver(counter)
            log.addCommitObserver(picky)
            _ = try await log.append(to: "case-1", events: [Fixtures.event(), Fixtures.event()])
            // Read your own writes: the view holds the events as soon as the append returns.
            #expect(try counter.count("case-1", log) == 2)
            #expect(try picky.count("case-1", log) == 2)
            // The picky observer fails on this commit: the append and the other observer are unaffected.
            _ = try await log.append(to: "case-1", events: [Fixtures.event("Refused")])
            #expect(try log.version(ofStream: "case-1") == 3)
            #expect(try counter.count("case-1", log) == 3)
            #expect(try picky.count("case-1", log) == 2)
            // Concurrent appenders under group commit: every position is seen exactly once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask { _ = try await log.append(to: "case-\(i % 4 + 10)", events: [Fixtures.event()]) }
                }
                try await group.waitForAll()
            }
            var total = 0
            for s in 10..<14 { total += try counter.count("case-\(s)", log) }
            #expect(total == 40)
            log.removeCommitObserver(counter)
            _ = try await log.append(to: "case-1", events: [Fixtures.event()])
            #expect(try counter.count("case-1", log) == 3)
            #expect(try log.verify().isValid)
        }
    }
}

@Suite struct CommitObserverStoreFailureTests {
    /// Writes a value larger than the whole map.
    final class Hog: CommitObserver {
        let name = "hog"
        let database: Database
        init(log: LMDBEventLog) throws { database = try log.database(named: "test.hog") }
        func didWrite(positions: ClosedRange<UInt64>, log: LMDBEventLog, in txn: borrowing WriteTransaction) throws {
            try txn.put(database, key: [1], value: [UInt8](repeating: 7, count: 4 << 20))
        }
    }

    @Test func aFullMapInAnObserverFailsTheWholeAppendAndWritesNothing() async throws {
        var configuration = Fixtures.configuration()
        configuration.initialMapSize = 1 << 20
        configuration.maxMapSize = 1 << 20
        configuration.growsAutomatically = false
        try await withTemporaryLog(configuration: configuration) { log, _ in
            log.addCommitObserver(try Hog(log: log))
            do {
                _ = try await log.append(to: "case-1", events: [Fixtures.event()])
                Issue.record("the append committed without its observer's writes")
            } catch {
                #expect((error as? EventLogError)?.code == .storageFull, "\(error)")
            }
            #expect(try log.head().position == 0)
            #expect(try log.version(ofStream: "case-1") == 0)
        }
    }
}
