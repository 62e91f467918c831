import CaseLedgerLMDB
import Foundation
import Testing
import _CaseLedgerTestSupport

@Suite struct EnvironmentTests {
    private func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

    @Test func writeCommitsAndThrowAborts() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            try env.write { txn in try txn.put(db, key: [1], value: [10]) }
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try env.write { txn in
                    try txn.put(db, key: [2], value: [20])
                    throw Stop()
                }
            }
            let values = try env.read { txn in (try txn.value(db, key: [1]), try txn.value(db, key: [2])) }
            #expect(values.0 == [10])
            #expect(values.1 == nil)
        }
    }

    /// LMDB closes a dropped table's handle even when the dropping transaction aborts, and hands its slot to the next
    /// table opened: a write that runs its closure again (after growing the map) with the handle it had would drop
    /// that other table. `drop(named:)` finds the table by name in the transaction that drops it.
    @Test func aDropByNameCanRunAgainAfterItsTransactionAborted() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let items = try env.database(named: "items", create: true)
            try env.write { txn in try txn.put(items, key: [1], value: [10]) }
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try env.write { txn in
                    #expect(try txn.drop(named: "items"))
                    throw Stop()
                }
            }
            // The next table opened takes the closed handle's slot: the old handle now reads that table.
            let other = try env.database(named: "other", create: true)
            try env.write { txn in try txn.put(other, key: [2], value: [20]) }
            #expect(try env.read { txn in try txn.value(items, key: [2]) } == [20])
            // Run again by name: the table the aborted drop left is dropped, the other one is untouched.
            #expect(try env.write { txn in try txn.drop(named: "items") })
            #expect(try env.read { txn in try txn.openExistingDatabase(named: "items") } == nil)
            #expect(try env.read { txn in try txn.value(other, key: [2]) } == [20])
            #expect(try env.write { txn in try txn.drop(named: "items") } == false)
        }
    }

    /// Only handles of tables gone from the store whose slot still holds them are closed: a table still in the
    /// store keeps its handle, and a table dropped in this process has had its slot freed and perhaps given to
    /// another table, which must stay open. (Closing the handle of a table another process dropped is the tool's
    /// `aLongRunningProcessSurvivesManyRebuildsByAnotherProcess`.)
    @Test func closingDroppedTablesLeavesEveryOtherHandleOpen() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let kept = try env.database(named: "kept", create: true)
            try env.write { txn in try txn.put(kept, key: [1], value: [10]) }
            let keptResult = try env.closeDroppedDatabases([kept])
            #expect(keptResult.closed.isEmpty && keptResult.gone.isEmpty, "a table still in the store stays open")
            #expect(try env.read { txn in try txn.value(kept, key: [1]) } == [10])

            let dropped = try env.database(named: "dropped", create: true)
            #expect(try env.write { txn in try txn.drop(named: "dropped") })
            let other = try env.database(named: "other", create: true)
            try env.write { txn in try txn.put(other, key: [2], value: [20]) }
            #expect(
                try env.read { txn in try txn.value(dropped, key: [2]) } == [20],
                "the freed slot went to the next table")
            let droppedResult = try env.closeDroppedDatabases([dropped])
            #expect(droppedResult.closed.isEmpty, "the slot now holds another table")
            #expect(droppedResult.gone.map(\.name) == ["dropped"], "already closed: the caller may forget it")
            #expect(try env.read { txn in try txn.value(other, key: [2]) } == [20])
            // Nothing was opened for good by the checks: the dropped name is not in the store, and not open.
            #expect(try env.read { txn in try txn.openExistingDatabase(named: "dropped") } == nil)
        }
    }

    @Test func aNestedTransactionCommitsIntoItsParentOrIsDiscardedAlone() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            struct Stop: Error {}
            let seenInside = try env.write { txn in
                try txn.put(db, key: [1], value: [10])
                try txn.nested { child in try child.put(db, key: [2], value: [20]) }
                #expect(throws: Stop.self) {
                    try txn.nested { child in
                        try child.put(db, key: [3], value: [30])
                        try child.put(db, key: [1], value: [99])
                        throw Stop()
                    }
                }
                // The parent sees the committed child's write, not the aborted one's.
                return (try txn.value(db, key: [1]), try txn.value(db, key: [2]), try txn.value(db, key: [3]))
            }
            #expect(seenInside.0 == [10] && seenInside.1 == [20] && seenInside.2 == nil)
            let after = try env.read { txn in
                (try txn.value(db, key: [1]), try txn.value(db, key: [2]), try txn.value(db, key: [3]))
            }
            #expect(after.0 == [10] && after.1 == [20] && after.2 == nil)
            // Aborting the parent discards a committed child too.
            #expect(throws: Stop.self) {
                try env.write { txn in
                    try txn.nested { child in try child.put(db, key: [4], value: [40]) }
                    throw Stop()
                }
            }
            #expect(try env.read { txn in try txn.value(db, key: [4]) } == nil)
        }
    }

    @Test func samePathCannotBeOpenedTwiceInOneProcess() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            #expect {
                _ = try Environment.open(path: directory.appending("env/../env"))
            } throws: { ($0 as? LMDBError)?.code == .alreadyOpen }
            env.close()
            let again = try Environment.open(path: directory.appending("env"))
            again.close()
        }
    }

    @Test func useAfterCloseIsATypedError() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            env.close()
            env.close()  // harmless
            #expect { try env.read { _ in 1 } } throws: { ($0 as? LMDBError)?.code == .closed }
            #expect { try env.write { _ in 1 } } throws: { ($0 as? LMDBError)?.code == .closed }
        }
    }

    @Test func mapGrowsByItselfWhenFull() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = Environment.Configuration()
            configuration.mapSize = 64 << 10
            let env = try Environment.open(path: directory.appending("env"), configuration: configuration)
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            let before = env.mapSize
            let value = [UInt8](repeating: 7, count: 1000)
            for batch in 0..<20 {
                try env.write { txn in
                    for i in 0..<100 { try txn.put(db, key: key(UInt64(batch * 100 + i)), value: value) }
                }
            }
            #expect(env.mapSize > before)
            #expect(try env.read { txn in try txn.count(db) } == 2000)
        }
    }

    @Test func fullMapWithGrowthOffFailsAndWritesNothing() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = Environment.Configuration()
            configuration.mapSize = 64 << 10
            configuration.growsAutomatically = false
            let env = try Environment.open(path: directory.appending("env"), configuration: configuration)
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            let value = [UInt8](repeating: 7, count: 1000)
            #expect {
                try env.write { txn in
                    for i in 0..<1000 { try txn.put(db, key: key(UInt64(i)), value: value) }
                }
            } throws: { ($0 as? LMDBError)?.code == .mapFull }
            #expect(try env.read { txn in try txn.count(db) } == 0)
        }
    }

    @Test func cursorsWalkBothWaysAndSeek() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            try env.write { txn in
                for i in stride(from: 10, through: 50, by: 10) {
                    try txn.put(db, key: key(UInt64(i)), value: [UInt8(i)])
                }
            }
            let walk = try env.read { txn in
                try txn.withCursor(db) { cursor in
                    var forwards: [UInt8] = []
                    var value = try cursor.move(.first) { _, v in v[0] }
                    while let v = value {
                        forwards.append(v)
                        value = try cursor.move(.next) { _, v in v[0] }
                    }
                    let seek = try cursor.move(atOrAfter: key(25)) { _, v in v[0] }
                    let back = try cursor.move(.previous) { _, v in v[0] }
                    let last = try cursor.move(.last) { _, v in v[0] }
                    let pastEnd = try cursor.move(atOrAfter: key(60)) { _, v in v[0] }
                    return (forwards, seek, back, last, pastEnd)
                }
            }
            #expect(walk.0 == [10, 20, 30, 40, 50])
            #expect(walk.1 == 30)
            #expect(walk.2 == 20)
            #expect(walk.3 == 50)
            #expect(walk.4 == nil)
        }
    }

    @Test func readerKeepsItsSnapshotWhileAnotherThreadWrites() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            let seenInside = try env.read { txn -> [UInt8]? in
                // Another thread commits while this read transaction is open.
                let done = DispatchSemaphore(value: 0)
                let writer = Thread {
                    try? env.write { txn in try txn.put(db, key: [1], value: [2]) }
                    done.signal()
                }
                writer.start()
                done.wait()
                return try txn.value(db, key: [1])
            }
            let latest = try env.read { txn in try txn.value(db, key: [1]) }
            #expect(seenInside == [1])
            #expect(latest == [2])
        }
    }

    @Test func compactingCopyHoldsTheSameData() async throws {
        try await withTemporaryDirectory { directory in
            let env = try Environment.open(path: directory.appending("env"))
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            try env.write { txn in
                for i in 0..<500 { try txn.put(db, key: key(UInt64(i)), value: Array("v\(i)".utf8)) }
            }
            try FileManager.default.createDirectory(
                atPath: directory.appending("copy"), withIntermediateDirectories: true)
            try env.copy(to: directory.appending("copy"))
            var readOnly = Environment.Configuration()
            readOnly.readOnly = true
            readOnly.withoutLocking = true
            let copy = try Environment.open(path: directory.appending("copy"), configuration: readOnly)
            defer { copy.close() }
            let copied = try copy.database(named: "items", create: false)
            #expect(try copy.read { txn in try txn.count(copied) } == 500)
            #expect(try copy.read { txn in try txn.value(copied, key: key(499)) } == Array("v499".utf8))
            #expect { try copy.write { _ in 1 } } throws: { ($0 as? LMDBError)?.code == .accessDenied }
        }
    }

    @Test func errorsCarryCodeOperationAndAdvice() {
        let error = LMDBError(rc: -30792, operation: "mdb_put(events)")  // MDB_MAP_FULL
        #expect(error.code == .mapFull)
        #expect(error.operation == "mdb_put(events)")
        #expect(error.message.contains("maxMapSize"))
        #expect(LMDBError(rc: 28, operation: "commit").code == .diskFull)  // ENOSPC
    }

    @Test func aFullReaderTableIsATypedErrorAndFreesUpWhenReadersEnd() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = Environment.Configuration()
            configuration.maxReaders = 1
            let env = try Environment.open(path: directory.appending("env"), configuration: configuration)
            defer { env.close() }
            let db = try env.database(named: "items", create: true)
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }

            // Another thread holds the only reader slot open.
            let holding = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let finished = DispatchSemaphore(value: 0)
            let holder = Thread {
                _ = try? env.read { _ in
                    holding.signal()
                    release.wait()
                }
                finished.signal()
            }
            holder.start()
            holding.wait()
            #expect { try env.read { txn in try txn.value(db, key: [1]) } } throws: {
                ($0 as? LMDBError)?.code == .readersFull
            }
            release.signal()
            finished.wait()
            #expect(try env.read { txn in try txn.value(db, key: [1]) } == [1], "the slot is free again")
        }
    }
}
