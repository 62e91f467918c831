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

/// The built-in views over a small county's cases, each checked against what the commands did.
@Suite struct BuiltInViewTests {
    static let partyKey = Array("a deployment secret, 32 bytes...".utf8)

    static func runtime(
        _ log: LMDBEventLog, rebuildThreads: Int = 2,
        bulkCaseCapacity: Int = ProjectionRuntime.defaultBulkCaseCapacity,
        bulkFillMinimum: UInt64 = ProjectionRuntime.defaultBulkFillMinimum, spillDirectory: String? = nil,
        spillBuckets: Int? = nil, bulkSpills: Bool = true, spillBytesPerEvent: Int = 200
    ) throws -> ProjectionRuntime {
        try ProjectionRuntime(
            log: log,
            projections: [
                (CaseSummaryProjection(), .inline), (DeadlinesProjection(), .inline), (BoardProjection(), .inline),
                (MonthlyStatisticsProjection(), .inline), (WorkloadProjection(), .inline),
                (try RepeatDisputesProjection(partyKey: partyKey), .async),
            ],
            // A chunk's rows are written in transactions of at most 5 rows, so every rebuild here splits them.
            logger: Logger(label: "test"), chunkSize: 9, upcasters: UpcasterChain(), metrics: nil,
            rebuildThreads: rebuildThreads, writeBatchRows: 5, bulkCaseCapacity: bulkCaseCapacity,
            bulkFillMinimum: bulkFillMinimum, spillDirectory: spillDirectory, spillBuckets: spillBuckets,
            // No margin asked: the tests' spills are small, and must not depend on the machine's free space.
            bulkSpills: bulkSpills, spillBytesPerEvent: spillBytesPerEvent, spillMargin: 0)
    }

    /// Four mediation cases in March 2025 (one agreed and closed and rated 5, one failed and referred, one escalated,
    /// one still open in village 2), a legal aid case approved, all with parties p-a/p-b.
    static func county(_ engine: CaseEngine) async throws {
        func run(_ c: CaseCommand, _ id: CaseID, _ who: PersonID) async throws {
            try await engine.execute(c, on: id, by: who)
        }
        try await run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), "m1", "m-v1")
        try await run(.startMediation(mediators: ["m-v1b"], chosenByParties: true), "m1", "m-v1")
        try await run(.reachAgreement(form: .oral, terms: "t"), "m1", "m-v1")
        try await run(.close(outcome: "performed"), "m1", "m-v1")
        try await run(.evaluate(rating: 5, comment: nil), "m1", "party:p-a")
        try await run(
            .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1", dispute: .debt)), "m2", "m-v1")
        try await run(.startMediation(mediators: ["m-v1"], chosenByParties: false), "m2", "m-v1")
        try await run(.declareFailure(rightsNotice: "told", suggestedRoute: .civilLitigation), "m2", "m-v1")
        try await run(
            .refer(Referral(route: .civilLitigation, newCase: "m2-s", toUnit: "court", toPerson: "court-clerk")), "m2",
            "m-v1")
        try await run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), "m3", "m-v1")
        try await run(
            .escalate(
                Escalation(toUnit: "t1", toPerson: "m-t1", reason: .complex, consentingParties: County.bothParties)),
            "m3", "m-v1")
        try await run(
            .register(
                County.registration(
                    .peopleMediation, unit: "v2", owner: "m-v2", division: County.village2, channel: .hotline12348)),
            "m4", "m-v2")
        try await run(
            .register(
                County.registration(
                    .legalAid, unit: "aid", owner: "aid-staff",
                    legalAid: LegalAidApplication(
                        matter: .labour, exemption: .migrantWorkerWages, exemptionEvidence: "wage list"))),
            "a1", "aid-staff")
        try await run(.approveAid, "a1", "aid-staff")
        try await run(.assignProvider("lawyer-1"), "a1", "aid-staff")
    }

    /// Every row of every table of the six built-in views, by `view.table`.
    static func everyRow(_ runtime: ProjectionRuntime) throws -> [String: [[UInt8]]] {
        let views: [any Projection] = [
            CaseSummaryProjection(), DeadlinesProjection(), BoardProjection(), MonthlyStatisticsProjection(),
            WorkloadProjection(), try RepeatDisputesProjection(partyKey: partyKey),
        ]
        var rows: [String: [[UInt8]]] = [:]
        for view in views {
            for table in view.tables {
                rows[view.name + "." + table] = try ProjectionRuntimeTests.dump(runtime, view.name, table)
            }
        }
        return rows
    }

    static func engine(_ log: LMDBEventLog) throws -> CaseEngine {
        CaseEngine(
            log: log,
            configuration: .init(
                directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
                definitions: try DefinitionRegistry.national()),
            clock: ManualClock(Timestamp(County.at(2025, 3, 3))), logger: Logger(label: "test"))
    }

    /// A rebuild whose rows do not fit in the map: the writer thread's transaction fails with a full map, the map
    /// grows and the same rows are written again; none is lost.
    /// In one round (rows from memory) and in many (partitions of two cases: rows merged from row files), a write
    /// transaction that finds the map full runs again in a grown map and writes the same rows.
    @Test(arguments: [ProjectionRuntime.defaultBulkCaseCapacity, 2])
    func aRebuildThatFillsTheMapGrowsItAndLosesNoRow(capacity: Int) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try Self.runtime(log, rebuildThreads: 2, bulkCaseCapacity: capacity)
            defer { runtime.shutdown() }
            let engine = try Self.engine(log)
            try await Self.county(engine)
            // Enough cases that their rows take many pages, however densely the rebuild packs them.
            for n in 0..<60 {
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: CaseID("x\(n)"),
                    by: "m-v1")
            }
            try runtime.catchUp()
            let before = try Self.everyRow(runtime)
            // Fill the map to within four pages of its end (events of another stream, which the views skip), so the
            // new generation's tables cannot fit.
            let filler = String(repeating: "x", count: 1_500)
            var info = try log.storageInfo()
            while info.mapSize - info.usedBytes > 4 * 4_096 {
                _ = try await log.append(to: "filler", events: [Fixtures.event("Filler", payload: filler)])
                info = try log.storageInfo()
            }
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 1)
            #expect(try log.storageInfo().mapSize > info.mapSize)
            #expect(try Self.everyRow(runtime) == before)
            #expect(try runtime.status().allSatisfy { $0.generation == 2 && $0.lag == 0 })
        }
    }

    /// Rebuilds and checks compute chunks on one thread, on two (three views each) and on six (one view each): the
    /// rows must not depend on it.
    @Test(arguments: [1, 2, 6])
    func theViewsAnswerWhatThePeopleInChargeAsk(rebuildThreads: Int) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try Self.runtime(log, rebuildThreads: rebuildThreads)
            defer { runtime.shutdown() }
            let clock = ManualClock(Timestamp(County.at(2025, 3, 3)))
            let engine = CaseEngine(
                log: log,
                configuration: .init(
                    directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
                    definitions: try DefinitionRegistry.national()),
                clock: clock, logger: Logger(label: "test"))
            try await Self.county(engine)
            try runtime.catchUp()

            // Board: open cases under the county, rolled up by township; village 1 alone.
            let county = try BoardProjection.counts(under: County.county, in: runtime)
            #expect(county.total == 4)  // m3 (t1), m4, a1, m2-s; m1 and m2 are closed
            #expect(county.byDivision["511124101"] == 4)
            #expect(
                county.byUnit["t1"] == 1 && county.byUnit["v2"] == 1 && county.byUnit["aid"] == 1
                    && county.byUnit["court"] == 1)
            #expect(county.byChannel[.hotline12348] == 1)
            #expect(county.byLevel[.township] == 1)
            let village2 = try BoardProjection.counts(under: County.village2, in: runtime)
            #expect(village2.total == 1 && village2.byState["awaitingMediation"] == 1)
            // A unit's board is its jurisdiction's: the township committee sees its villages' cases too, whichever
            // unit owns them; a county body sees the county's.
            let units = try ["v2", "t1", "aid"].map { try #require(County.directory.unit(UnitID($0))) }
            #expect(try BoardProjection.counts(inJurisdictionOf: units[0], in: runtime) == village2)
            let township = try BoardProjection.counts(inJurisdictionOf: units[1], in: runtime)
            #expect(township.total == 4 && township.byUnit["v2"] == 1 && township.byUnit["t1"] == 1)
            #expect(try BoardProjection.counts(inJurisdictionOf: units[2], in: runtime) == county)
            let townshipCases = try BoardProjection.openCases(
                inJurisdictionOf: units[1], state: "awaitingMediation", in: runtime)
            #expect(townshipCases.items.map(\.caseID) == ["m3", "m4"] && townshipCases.next == nil)
            // Paging with a stable cursor.
            let first = try BoardProjection.openCases(under: County.county, limit: 3, in: runtime)
            #expect(first.items.count == 3 && first.next != nil)
            let second = try BoardProjection.openCases(under: County.county, after: first.next, limit: 3, in: runtime)
            #expect(second.items.count == 1 && second.next == nil)
            #expect(Set((first.items + second.items).map(\.caseID)) == ["m3", "m4", "a1", "m2-s"])

            // Deadlines: the level clocks of open mediation cases, the aid assignment clock, the court's filing.
            let soon = try DeadlinesProjection.due(from: County.at(2025, 3, 3), withinDays: 10, in: runtime)
            #expect(Set(soon.items.map(\.deadline)) == ["LT1.filing"])  // LA6.assignment stopped on assignment
            let overdue = try DeadlinesProjection.overdue(at: County.at(2025, 4, 20), in: runtime)
            #expect(Set(overdue.items.map(\.caseID)) == ["m3", "m4", "m2-s"])
            #expect(overdue.items.first { $0.caseID == "m3" }?.unit == "t1")
            #expect(
                try DeadlinesProjection.overdue(at: County.at(2025, 4, 20), unit: "v2", in: runtime).items.map(\.caseID)
                    == ["m4"])

            // Monthly statistics for March 2025, county-wide.
            let march = try MonthlyStatisticsProjection.statistics(month: "2025-03", under: County.county, in: runtime)
            #expect(march.registered == 6)  // m1–m4, a1, and the court case m2-s
            #expect(march.closed == 2 && march.mediationClosed == 2 && march.mediationSucceeded == 1)
            #expect(march.mediationSuccessRate == 0.5 && march.onTimeRate == 1.0)
            #expect(march.evaluations == 1 && march.satisfactionRate == 1.0)
            #expect(march.escalations == 1 && march.legalAidApproved == 1)
            #expect(march.referrals[.civilLitigation] == 1)
            #expect(
                try MonthlyStatisticsProjection.statistics(month: "2025-04", under: County.county, in: runtime)
                    .registered == 0)

            // Workload: owners, mediators and aid providers.
            #expect(try WorkloadProjection.openCases(of: PersonID("m-t1"), in: runtime).items == ["m3"])
            #expect(try WorkloadProjection.openCases(of: PersonID("lawyer-1"), in: runtime).items == ["a1"])
            #expect(try WorkloadProjection.openCases(of: PersonID("m-v1"), in: runtime).items.isEmpty)
            #expect(try WorkloadProjection.openCases(of: UnitID("v2"), in: runtime).items == ["m4"])

            // Repeat disputes: p-a is a party of every case; the view holds only keyed hashes.
            let repeats = try RepeatDisputesProjection(partyKey: Self.partyKey)
            #expect(try repeats.cases(ofParty: "p-a", in: runtime).count == 6)
            let all = try repeats.repeatParties(in: runtime)
            #expect(all.items.count == 2 && all.items.allSatisfy { $0.cases == 6 } && all.next == nil)
            let firstParty = try repeats.repeatParties(limit: 1, in: runtime)
            let secondParty = try repeats.repeatParties(after: firstParty.next, limit: 1, in: runtime)
            #expect(firstParty.items.count == 1 && firstParty.next == firstParty.items.first?.partyHash)
            #expect(secondParty.items.count == 1 && secondParty.next == nil)
            #expect(firstParty.items + secondParty.items == all.items)
            #expect(try repeats.repeatParties(minimum: 7, in: runtime).items.isEmpty)
            let other = try RepeatDisputesProjection(partyKey: Array("another key entirely, 32 bytes..".utf8))
            #expect(throws: ProjectionError.self) { _ = try RepeatDisputesProjection(partyKey: [1, 2, 3]) }
            #expect(try other.cases(ofParty: "p-a", in: runtime).isEmpty)

            // The case summary holds parties and links.
            let m2 = try #require(try CaseSummaryProjection.summary(of: "m2", in: runtime))
            #expect(m2.parties.map(\.reference) == ["p-a", "p-b"])
            #expect(m2.links == [CaseLink(.referredTo, "m2-s")])
            #expect(
                try CaseSummaryProjection.summary(of: "m2-s", in: runtime)?.links == [CaseLink(.referredFrom, "m2")])

            // Verification of the log with every view: one bulk pass builds every view's scratch copy, and each
            // is compared with its view.
            let full = try runtime.verify()
            #expect(full.isValid && full.views.count == 6)
            #expect(runtime.bulkBuildCount == 1)

            // Rebuilding every view in one bulk pass (its appends split into transactions of 5 rows) gives the same
            // rows, byte for byte, in every table of every view as the incremental, event-by-event ones.
            let before = try Self.everyRow(runtime)
            #expect(before.count == 10 && before.values.filter(\.isEmpty).isEmpty, "\(before.mapValues(\.count))")
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 2, "the rebuild took the bulk path")
            #expect(try Self.everyRow(runtime) == before)
            #expect(try runtime.status().allSatisfy { $0.generation == 2 && $0.lag == 0 })

            // Every view is exactly what a rebuild from the log gives.
            for status in try runtime.status() {
                #expect(status.lag == 0 && status.failedAt == nil, "\(status)")
                let report = try runtime.check(status.name)
                #expect(report.isConsistent, "\(report)")
            }
        }
    }
}

/// The bulk rebuild, which keeps each case in memory and writes each row once, against the incremental views.
@Suite struct BulkRebuildTests {
    /// The county's cases and eight more (handed off, closed and still open, with clocks that move and stop) in
    /// `log`, applied to `runtime`'s views.
    static func fillCounty(_ log: LMDBEventLog, _ runtime: ProjectionRuntime) async throws {
        let engine = try BuiltInViewTests.engine(log)
        try await BuiltInViewTests.county(engine)
        try await ProjectionRuntimeTests.scenario(engine, "e", count: 8)
        try runtime.catchUp()
    }

    /// Spill directories (hidden entries) left in the store's directory.
    static func spillLeft(_ log: LMDBEventLog) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: log.path).filter { $0.hasPrefix(".") }
    }

    /// Partitions of at most two cases: the first partitions are found full and their spill files (in the store's
    /// directory, removed at the end) are split into more, which take several rounds; each round's rows go to row
    /// files, merged into the tables at the end. The rows are still the incremental views' rows, byte for byte.
    ///
    /// Without spill files, the bulk pass holds one round only: with more cases than that, it gives way to the
    /// event-by-event path, which gives the same rows.
    @Test(arguments: [1, 2], [true, false])
    func aBulkRebuildInManySmallPartitionsGivesTheIncrementalRows(threads: Int, spills: Bool) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(
                log, rebuildThreads: threads, bulkCaseCapacity: 2, bulkSpills: spills)
            defer { runtime.shutdown() }
            let spilled = Mutex(0)
            runtime.setAfterSpill { path in
                spilled.withLock { $0 += 1 }
                #expect(path.hasPrefix(log.path + "/.caseledger-rebuild-"))
            }
            try await Self.fillCounty(log, runtime)
            let before = try BuiltInViewTests.everyRow(runtime)
            #expect(before.values.filter(\.isEmpty).isEmpty, "\(before.mapValues(\.count))")
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == (spills ? 1 : 0))
            #expect(try BuiltInViewTests.everyRow(runtime) == before)
            for status in try runtime.status() {
                #expect(try runtime.check(status.name).isConsistent)
            }
            #expect(runtime.bulkBuildCount == (spills ? 7 : 0))
            #expect(spilled.withLock { $0 } == (spills ? 7 : 0))
            let left = try Self.spillLeft(log)
            #expect(left.isEmpty, "spill directories are removed: \(left)")
        }
    }

    /// Partitions of at most two cases, over spill buckets that hold many more, and cases that the registrations the
    /// buckets counted do not foresee (another writer's case events with headers but no registration). With one
    /// bucket, the full partition has its files split by other bits of the hash, again and again; with eight, the full
    /// partitions are first regrouped into more without writing a file again. Either way the rows are the incremental
    /// ones, from several rounds merged through row files.
    @Test(arguments: [1, 8])
    func fullSpilledPartitionsAreRegroupedOrSplitAndGiveTheIncrementalRows(buckets: Int) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log, bulkCaseCapacity: 2, spillBuckets: buckets)
            defer { runtime.shutdown() }
            try await BuiltInViewTests.county(try BuiltInViewTests.engine(log))
            let registration = try #require(
                try log.read(from: 1, direction: .forwards, limit: 1_000).first { $0.type == "registered" })
            var header = try #require(RecordHeader(bytes: Array(registration.metadata)))
            header.parties = []
            for n in 0..<24 {
                _ = try await log.append(
                    to: "case-imported-\(n)",
                    events: [
                        NewEvent(
                            type: "imported", schemaVersion: 1, actor: registration.actor, metadata: header.bytes,
                            payload: Array(registration.payload))
                    ])
            }
            try runtime.catchUp()
            let before = try BuiltInViewTests.everyRow(runtime)
            #expect(before["caseSummary.cases"]?.count ?? 0 > 24, "\(before.mapValues(\.count))")
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 1)
            #expect(runtime.bulkSplitCount > (buckets == 1 ? 1 : 0), "splits: \(runtime.bulkSplitCount)")
            #expect((runtime.bulkRegroupCount > 0) == (buckets > 1), "regroups: \(runtime.bulkRegroupCount)")
            #expect(try BuiltInViewTests.everyRow(runtime) == before)
            let left = try Self.spillLeft(log)
            #expect(left.isEmpty, "\(left)")
        }
    }

    /// A spill directory the caller chose must be usable: a rebuild there fails and says why, and the views keep
    /// serving from their generation. One in a directory that exists is used, and left empty.
    @Test func aSpillDirectoryTheCallerChoseMustBeUsable() async throws {
        try await withTemporaryLog { log, directory in
            try await BuiltInViewTests.county(try BuiltInViewTests.engine(log))
            let before = try {
                let missing = try BuiltInViewTests.runtime(log, spillDirectory: directory.appending("missing"))
                defer { missing.shutdown() }
                try missing.catchUp()
                let before = try BuiltInViewTests.everyRow(missing)
                #expect {
                    try missing.rebuildAll()
                } throws: { error in
                    "\(error)".contains("the spill directory \(directory.appending("missing")) cannot be used")
                }
                #expect(try BuiltInViewTests.everyRow(missing) == before)
                return before
            }()
            let chosen = directory.appending("spill")
            try FileManager.default.createDirectory(atPath: chosen, withIntermediateDirectories: false)
            let runtime = try BuiltInViewTests.runtime(log, spillDirectory: chosen)
            defer { runtime.shutdown() }
            let used = Mutex(false)
            runtime.setAfterSpill { path in used.withLock { $0 = path.hasPrefix(chosen + "/.caseledger-rebuild-") } }
            try runtime.rebuildAll()
            #expect(used.withLock { $0 } && runtime.bulkBuildCount == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: chosen).isEmpty)
            #expect(try BuiltInViewTests.everyRow(runtime) == before)
        }
    }

    /// A spill the disk has no room for (here: a terabyte asked per event) is not started, so it cannot fill the disk
    /// that appends need: in the store's directory the pass goes on without spill files, in one round; in a directory
    /// the caller chose, the rebuild fails and says how much room there is.
    @Test func aSpillTheDiskHasNoRoomForIsNotStarted() async throws {
        try await withTemporaryLog { log, directory in
            let runtime = try BuiltInViewTests.runtime(log, spillBytesPerEvent: 1 << 40)
            defer { runtime.shutdown() }
            try await Self.fillCounty(log, runtime)
            let before = try BuiltInViewTests.everyRow(runtime)
            let spilled = Mutex(0)
            runtime.setAfterSpill { _ in spilled.withLock { $0 += 1 } }
            try runtime.rebuildAll()
            #expect(spilled.withLock { $0 } == 0 && runtime.bulkBuildCount == 1)
            #expect(try BuiltInViewTests.everyRow(runtime) == before)
            #expect(try Self.spillLeft(log).isEmpty)
            let chosen = try BuiltInViewTests.runtime(
                log, spillDirectory: directory.path, spillBytesPerEvent: 1 << 40)
            defer { chosen.shutdown() }
            #expect {
                try chosen.rebuildAll()
            } throws: { error in
                "\(error)".contains("the spill directory \(directory.path) cannot be used")
                    && "\(error)".contains("MiB free; the spill needs about")
            }
        }
    }

    /// A spill file that no longer holds what the pass wrote (removed or cut by someone else) is not read as a
    /// partition with fewer cases: the pass starts again scanning the log, and the rows are the incremental ones.
    @Test(arguments: ["removed", "cut"])
    func aSpillFileChangedUnderTheRebuildMakesItScanTheLogInstead(change: String) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            try await Self.fillCounty(log, runtime)
            let before = try BuiltInViewTests.everyRow(runtime)
            let changed = Mutex<[String]>([])
            runtime.setAfterSpill { path in
                let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                guard let file = files.filter({ $0 != "lock" }).sorted().first else { return }
                let target = path + "/" + file
                if change == "removed" {
                    try? FileManager.default.removeItem(atPath: target)
                } else {
                    truncate(target, 10)
                }
                changed.withLock { $0.append(file) }
            }
            try runtime.rebuildAll()
            #expect(changed.withLock { $0.count } == 1)
            #expect(runtime.bulkBuildCount == 1, "still in bulk, scanning the log")
            #expect(try BuiltInViewTests.everyRow(runtime) == before)
            let left = try Self.spillLeft(log)
            #expect(left.isEmpty, "\(left)")
        }
    }

    /// A spill directory left by a process that ended during a rebuild (its lock free) is removed by the next bulk
    /// pass; one whose lock is held (a rebuild still running in another process) is left alone.
    @Test func spillDirectoriesLeftByEndedProcessesAreRemoved() async throws {
        try await withTemporaryLog { log, _ in
            let engine = try BuiltInViewTests.engine(log)
            try await BuiltInViewTests.county(engine)
            let (ended, running) = (log.path + "/.caseledger-rebuild-ended", log.path + "/.caseledger-rebuild-running")
            for path in [ended, running] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
                #expect(FileManager.default.createFile(atPath: path + "/lock", contents: nil))
                #expect(FileManager.default.createFile(atPath: path + "/s0-p0", contents: Data(repeating: 1, count: 9)))
            }
            let held = open(running + "/lock", O_WRONLY)
            #expect(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0)
            defer { close(held) }
            // Directories still under their staging name: an hour old (with and without a lock file) was left by a
            // process that ended before renaming it; a fresh one may be another process's, between two calls.
            let staging = log.path + "/.caseledger-staging-"
            let (old, oldBare, fresh) = (staging + "old", staging + "old-bare", staging + "fresh")
            for path in [old, oldBare, fresh] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
                if path != oldBare { #expect(FileManager.default.createFile(atPath: path + "/lock", contents: nil)) }
            }
            for path in [old, oldBare] {
                try FileManager.default.setAttributes(
                    [.modificationDate: Date(timeIntervalSinceNow: -3_600)], ofItemAtPath: path)
            }
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 1)
            #expect(!FileManager.default.fileExists(atPath: ended))
            #expect(FileManager.default.fileExists(atPath: running + "/s0-p0"))
            #expect(!FileManager.default.fileExists(atPath: old) && !FileManager.default.fileExists(atPath: oldBare))
            #expect(FileManager.default.fileExists(atPath: fresh + "/lock"))
        }
    }

    /// Views that start from nothing on a log that already holds events (all six on a store written before any
    /// runtime opened it, or one deployed after the others) are filled by one bulk rebuild when the log holds at
    /// least the minimum, into a second generation swapped in at once; below the minimum they catch up event by event.
    /// Either way their rows are those of views kept event by event from the first append.
    @Test(arguments: [(late: 6, fill: true), (late: 1, fill: true), (late: 6, fill: false)])
    func viewsStartingFromNothingOnALongLogAreFilledInBulk(late: Int, fill: Bool) async throws {
        try await withTemporaryLog { reference, _ in
            try await withTemporaryLog { log, _ in
                let kept = try BuiltInViewTests.runtime(reference)
                defer { kept.shutdown() }
                // The views deployed first on `log`: none, or all but the repeat disputes.
                let early =
                    late == 6
                    ? nil
                    : try ProjectionRuntime(
                        log: log,
                        projections: [
                            (CaseSummaryProjection(), .inline), (DeadlinesProjection(), .inline),
                            (BoardProjection(), .inline), (MonthlyStatisticsProjection(), .inline),
                            (WorkloadProjection(), .inline),
                        ], logger: Logger(label: "test"))
                for store in [reference, log] {
                    let engine = try BuiltInViewTests.engine(store)
                    try await BuiltInViewTests.county(engine)
                    try await ProjectionRuntimeTests.scenario(engine, "e", count: 8)
                }
                early?.shutdown()
                try kept.catchUp()
                let head = try log.head().position
                #expect(head == (try reference.head().position))
                let runtime = try BuiltInViewTests.runtime(log, bulkFillMinimum: fill ? head : head + 1)
                defer { runtime.shutdown() }
                let starting = try runtime.status().filter { $0.checkpoint == 0 }.map(\.name)
                #expect(starting.count == late)
                let applied = try runtime.catchUp()
                #expect(applied == late * Int(head))
                #expect(runtime.bulkBuildCount == (fill ? 1 : 0))
                for status in try runtime.status() {
                    #expect(status.checkpoint == head && status.failedAt == nil, "\(status)")
                    // A filled view is in its second generation; the others are in their first.
                    #expect(status.generation == (fill && starting.contains(status.name) ? 2 : 1), "\(status)")
                }
                #expect(try BuiltInViewTests.everyRow(runtime) == BuiltInViewTests.everyRow(kept))
            }
        }
    }

    /// Two runtimes that find the same views empty catch up at once (two servers started together after an upgrade):
    /// one fills them in bulk while the other, refused the views' maintenance lock, waits for it and then finds them
    /// filled. The views are filled once, nothing is applied twice, and the rows are those of views kept event by
    /// event.
    @Test func twoRuntimesFillingTheSameViewsAtOnceFillThemOnce() async throws {
        try await withTemporaryLog { reference, _ in
            try await withTemporaryLog { log, _ in
                let kept = try BuiltInViewTests.runtime(reference)
                defer { kept.shutdown() }
                for store in [reference, log] {
                    let engine = try BuiltInViewTests.engine(store)
                    try await BuiltInViewTests.county(engine)
                    try await ProjectionRuntimeTests.scenario(engine, "e", count: 8)
                }
                try kept.catchUp()
                let head = try log.head().position
                let first = try BuiltInViewTests.runtime(log, bulkFillMinimum: 1)
                defer { first.shutdown() }
                let second = try BuiltInViewTests.runtime(log, bulkFillMinimum: 1)
                defer { second.shutdown() }
                let applied = try await withThrowingTaskGroup(of: Int.self) { group in
                    for runtime in [first, second] {
                        group.addTask { try runtime.catchUp() }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(applied.sorted() == [0, 6 * Int(head)], "one filled all six views, the other applied nothing")
                #expect(first.bulkBuildCount + second.bulkBuildCount == 1)
                for status in try first.status() {
                    #expect(status.checkpoint == head && status.failedAt == nil && status.generation == 2, "\(status)")
                }
                let rows = try BuiltInViewTests.everyRow(kept)
                #expect(try BuiltInViewTests.everyRow(first) == rows)
                #expect(try BuiltInViewTests.everyRow(second) == rows)
            }
        }
    }

    /// The other runtime fills the views between this one's look at them and its locks: this one finds them filled
    /// once it holds the locks, and builds nothing.
    @Test func aFillFindsTheViewsFilledOnceItHoldsTheirLocks() async throws {
        try await withTemporaryLog { log, _ in
            let engine = try BuiltInViewTests.engine(log)
            try await BuiltInViewTests.county(engine)
            let head = try log.head().position
            let first = try BuiltInViewTests.runtime(log, bulkFillMinimum: 1)
            defer { first.shutdown() }
            let second = try BuiltInViewTests.runtime(log, bulkFillMinimum: 1)
            defer { second.shutdown() }
            let firstApplied = Mutex<Int?>(nil)
            second.setBeforeFillLocks {
                second.setBeforeFillLocks(nil)
                firstApplied.withLock { $0 = try? first.catchUp() }
            }
            #expect(try second.catchUp() == 0)
            #expect(firstApplied.withLock { $0 } == 6 * Int(head))
            #expect(first.bulkBuildCount == 1 && second.bulkBuildCount == 0)
            for status in try second.status() {
                #expect(status.checkpoint == head && status.generation == 2, "\(status)")
            }
        }
    }

    /// `checkAll()` builds every view's scratch copy in one pass over the log and reports each view as its own check
    /// does: the same rows compared, and a changed row found in its view only. A view far behind the others (the
    /// async repeat-disputes view, not caught up) gets a pass of its own at its checkpoint.
    @Test func checkingAllViewsBuildsTheirCopiesInOnePass() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            try await Self.fillCounty(log, runtime)
            let engine = try BuiltInViewTests.engine(log)
            let names = try runtime.status().map(\.name)
            var single: [String: Int] = [:]
            for name in names { single[name] = try runtime.check(name).rowsCompared }
            #expect(runtime.bulkBuildCount == 6)
            let all = try runtime.checkAll()
            #expect(runtime.bulkBuildCount == 7, "one bulk pass for the six copies")
            #expect(all.map(\.projection) == names)
            for report in all {
                #expect(report.isConsistent && report.rowsCompared == single[report.projection], "\(report)")
            }
            // A changed row in the board only.
            let open = try log.database(named: "v.board.1.open")
            let key = try runtime.read("board") { reader in
                var first: [UInt8]?
                try reader.forEach(in: "open") { key, _ in
                    first = key
                    return false
                }
                return first
            }
            try log.writeViews { txn in try txn.put(open, key: try #require(key), value: [9, 9, 9]) }
            let tampered = try runtime.checkAll()
            for report in tampered {
                #expect(report.isConsistent == (report.projection != "board"), "\(report)")
            }
            // The async view falls far behind the inline ones (chunks of 9 events here): two passes.
            try await ProjectionRuntimeTests.scenario(engine, "later", count: 4)
            let behind = try runtime.status()
            let lagging = try #require(behind.first { $0.name == "repeatDisputes" })
            #expect(behind.allSatisfy { $0.name == "repeatDisputes" || $0.checkpoint > lagging.checkpoint + 9 })
            let before = runtime.bulkBuildCount
            let split = try runtime.checkAll()
            #expect(runtime.bulkBuildCount == before + 2)
            for report in split {
                let status = try #require(behind.first { $0.name == report.projection })
                #expect(report.position == status.checkpoint, "\(report)")
                #expect(report.isConsistent == (report.projection != "board"), "\(report)")
            }
        }
    }

    /// On a store open read-only (an auditor's copy) the built-in views are checked without scratch tables: the bulk
    /// pass's rows are compared with the stored ones. The reports are those of the check on the writable store: the
    /// rows compared, and the same difference for a changed, an extra and a missing row. In partitions of two cases,
    /// the pass takes many rounds, whose rows (in row files in the system's temporary directory) are merged before
    /// they are compared: the reports are the same.
    @Test(arguments: [ProjectionRuntime.defaultBulkCaseCapacity, 2])
    func aReadOnlyStoreChecksItsViewsWithoutWriting(capacity: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appending("store")
            func writable<R>(_ body: (LMDBEventLog, ProjectionRuntime) async throws -> R) async throws -> R {
                let log = try LMDBEventLog.open(at: path, configuration: Fixtures.configuration())
                defer { log.close() }
                let runtime = try BuiltInViewTests.runtime(log)
                defer { runtime.shutdown() }
                return try await body(log, runtime)
            }
            func readOnly() throws -> (reports: [ProjectionRuntime.ConsistencyReport], bulk: Int) {
                let log = try LMDBEventLog.open(at: path, mode: .readOnly)
                defer { log.close() }
                let runtime = try BuiltInViewTests.runtime(log, bulkCaseCapacity: capacity)
                defer { runtime.shutdown() }
                return (try runtime.checkAll(), runtime.bulkBuildCount)
            }
            let exact = try await writable { log, runtime in
                let engine = try BuiltInViewTests.engine(log)
                try await BuiltInViewTests.county(engine)
                try await ProjectionRuntimeTests.scenario(engine, "e", count: 8)
                try runtime.catchUp()
                return try runtime.checkAll()
            }
            #expect(exact.allSatisfy(\.isConsistent) && exact.count == 6)
            let unchanged = try readOnly()
            #expect(unchanged.reports == exact, "the same reports, rows compared included")
            #expect(unchanged.bulk == 1)
            // A changed row of the case summary, extra rows of the board and of the monthly counters, a row missing
            // from the repeat disputes.
            let tampered = try await writable { log, runtime -> [ProjectionRuntime.ConsistencyReport] in
                func first(_ view: String, _ table: String) throws -> [UInt8] {
                    try #require(
                        try runtime.read(view) { reader in
                            var key: [UInt8]?
                            try reader.forEach(in: table) { found, _ in
                                key = found
                                return false
                            }
                            return key
                        })
                }
                let (summary, parties) = (try first("caseSummary", "cases"), try first("repeatDisputes", "parties"))
                let cases = try log.database(named: "v.caseSummary.1.cases")
                let open = try log.database(named: "v.board.1.open")
                let repeats = try log.database(named: "v.repeatDisputes.1.parties")
                let months = try log.database(named: "v.monthly.1.months")
                try log.writeViews { txn in
                    try txn.put(cases, key: summary, value: [7])
                    try txn.put(open, key: Array("zz-extra".utf8), value: [1])
                    _ = try txn.delete(repeats, key: parties)
                    try txn.put(months, key: Array("209912510000000000".utf8), value: [0, 0, 0, 1])
                }
                return try runtime.checkAll()
            }
            #expect(tampered.map(\.isConsistent) == [false, true, false, false, true, false], "\(tampered)")
            let found = try readOnly()
            for (mine, theirs) in zip(found.reports, tampered) {
                // In one round or many (their rows merged first), the very same first difference.
                #expect(mine == theirs, "\(mine) against \(theirs)")
            }
        }
    }

    /// A fill in bulk that meets an event the views stop at leaves the views where they were; catching up event by
    /// event then stops them at that event and records why, as it does without the fill.
    @Test func aFillInBulkThatStopsLeavesTheFailureToCatchingUp() async throws {
        try await withTemporaryLog { log, _ in
            let engine = try BuiltInViewTests.engine(log)
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "h1", by: "m-v1")
            // Another writer's event in a case stream, without a record header.
            let foreign = try await log.append(to: "case-h2", events: [Fixtures.event("imported")])
            let position = foreign.positions.lowerBound
            let runtime = try BuiltInViewTests.runtime(log, bulkFillMinimum: 1)
            defer { runtime.shutdown() }
            try runtime.catchUp()
            #expect(runtime.bulkBuildCount == 0, "the bulk pass gave way to the event-by-event one")
            for status in try runtime.status() {
                #expect(status.generation == 1, "\(status)")
                #expect(status.failedAt == position && status.checkpoint == position - 1, "\(status)")
                #expect(status.failure?.contains("no record header") == true, "\(status)")
            }
        }
    }

    /// Seeded random commands over cases of every kind, most of them refused in the state at hand, with the clock
    /// moving and ticking between them (clocks approach, breach, pause, resume and move; cases are handed off,
    /// escalated, referred, closed and evaluated), all six views kept up to date event by event: a bulk rebuild gives
    /// every row of every table, byte for byte.
    @Test(arguments: [1, 2, 3])
    func randomCaseloadsRebuildInBulkToTheIncrementalRows(seed: Int) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            var now = County.at(2025, 1, 2)
            let clock = ManualClock(Timestamp(now))
            let engine = try ViewEdgeTests.engine(log, clock)
            var rng = SeededGenerator(seed: UInt64(seed))
            // The county's cases first (an agreed, a referred, an escalated and a legal aid case among them).
            try await BuiltInViewTests.county(engine)
            var ids: [CaseID] = []
            var accepted = 0
            for step in 0..<2_000 {
                // A new case now and then; commands mostly go to the last few, so that cases get somewhere.
                if ids.count < 4 || Int.random(in: 0..<20, using: &rng) == 0 {
                    let id = CaseID("r\(seed)-\(ids.count)")
                    let (registration, owner) =
                        Bool.random(using: &rng)
                        ? RandomCommands.otherRegistration(id, now: now, &rng)
                        : (County.registration(.peopleMediation, unit: "v1", owner: "m-v1"), "m-v1")
                    if (try? await engine.execute(.register(registration), on: id, by: owner)) != nil {
                        ids.append(id)
                    }
                } else if let id = ids.suffix(8).randomElement(using: &rng), let state = try engine.state(of: id) {
                    // Two commands the random ones seldom get right: evaluating a closed case, and a referral to
                    // the court (allowed once mediation failed).
                    let referral = Referral(
                        route: .civilLitigation, newCase: CaseID("\(id)-s\(step)"), toUnit: "court",
                        toPerson: "court-clerk")
                    // And a hand-off of another kind of case to another unit, which moves its listed clocks there.
                    let (unit, person): (UnitID, PersonID) =
                        [
                            ("centre", "m-county"), ("bureau", "bureau-head"), ("hotline", "hotline-head"),
                            ("aid", "aid-head"), ("review", "review-head"), ("labour", "labour-chair"),
                        ].randomElement(using: &rng) ?? ("centre", "m-county")
                    let command: CaseCommand =
                        state.state == "closed" && Bool.random(using: &rng)
                        ? .evaluate(rating: Int.random(in: 1...5, using: &rng), comment: nil)
                        : !state.kind.isMediation && Int.random(in: 0..<6, using: &rng) == 0
                            ? .handOff(toUnit: unit, toPerson: person, reason: "workload")
                            : state.kind.isMediation && Int.random(in: 0..<4, using: &rng) == 0
                                ? .refer(referral)
                                : state.kind.isMediation
                                    ? RandomCommands.mediation(state, id, step, &rng)
                                    : RandomCommands.other(state, id, step, &rng)
                    if (try? await engine.execute(command, on: id, by: state.owner)) != nil { accepted += 1 }
                }
                if Int.random(in: 0..<5, using: &rng) == 0 {
                    now = now.adding(days: Int64.random(in: 1...6, using: &rng))
                    clock.set(Timestamp(now))
                    _ = try await engine.tick()
                }
            }
            try runtime.catchUp()
            let before = try BuiltInViewTests.everyRow(runtime)
            // The sequences reach the paths the views care about.
            let types = Set(try log.read(from: 1, direction: .forwards, limit: 100_000).map(\.type))
            let wanted: Set = [
                "deadlineBreached", "deadlineApproaching", "closed", "evaluated", "referred", "escalated", "handedOff",
                "mediationStarted", "deadlineStopped",
            ]
            #expect(wanted.isSubset(of: types), "missing \(wanted.subtracting(types)); accepted \(accepted)")
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 1, "the rebuild took the bulk path")
            let after = try BuiltInViewTests.everyRow(runtime)
            for (table, rows) in before {
                let rebuilt = after[table] ?? []
                let same = rebuilt == rows
                let first = zip(rows, rebuilt).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                #expect(
                    same, "\(table): \(rows.count) rows, \(rebuilt.count) rebuilt, first differing row \(first ?? -1)")
            }
        }
    }

    /// Headers another writer could have written, which the bulk path must not read otherwise than the views do.
    enum Crafted: String, CaseIterable, Sendable {
        /// A parties section that is valid UTF-8 as a whole but not text by text (a length byte completes the
        /// character a reference starts).
        case partyTextsBrokenOneByOne
        /// 256 clocks set on one case, then the first stopped: the summary's row keeps 255 and drops the last for
        /// good.
        case overTwoHundredFiftyFiveClocks
        /// A registration at the earliest instant there is.
        case registeredAtTheStartOfTime
        /// An owner and helpers whose names start with the workload row's "owner:" mark, or repeat each other.
        case peopleNamedWithTheOwnerMark
        /// A second registration, a division that changes, events before the registration, a clock named in Chinese,
        /// 255 links: all but the third make the bulk path give way to the views' own rules.
        case registeredTwice, divisionChanges, eventsBeforeRegistration, clockNamedInChinese, twoHundredFiftyFiveLinks
    }

    @Test(arguments: Crafted.allCases)
    func craftedHeadersGiveTheViewsRowsWhenRebuilt(_ crafted: Crafted) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            try await BuiltInViewTests.county(try BuiltInViewTests.engine(log))
            let registration = try #require(
                try log.read(from: 1, direction: .forwards, limit: 1_000).first { $0.type == "registered" })
            let original = try #require(RecordHeader(bytes: Array(registration.metadata)))
            func append(_ stream: String, _ type: String, _ metadata: [UInt8]) async throws {
                _ = try await log.append(
                    to: stream,
                    events: [
                        NewEvent(
                            type: type, schemaVersion: 1, actor: registration.actor, metadata: metadata,
                            payload: Array(registration.payload))
                    ])
            }
            switch crafted {
            case .partyTextsBrokenOneByOne:
                var header = original
                header.parties = []
                let section: [UInt8] = [1, 1, 1, 0xC3, 169] + [UInt8](repeating: 0x61, count: 169) + [0]
                try await append("case-u1", "registered", header.bytes + section)
            case .overTwoHundredFiftyFiveClocks:
                try await append("case-u2", "registered", original.bytes)
                for n in 0..<257 {
                    var header = original
                    header.parties = []
                    header.deadline = "c" + String(1_000 + min(n, 256)).dropFirst()
                    header.due = County.at(2025, 6, 1)
                    try await append("case-u2", n < 256 ? "deadlineSet" : "deadlineStopped", header.bytes)
                }
                // The last one stopped "c256", the one the row had dropped; stop the first too.
                var header = original
                header.parties = []
                header.deadline = "c000"
                try await append("case-u2", "deadlineStopped", header.bytes)
            case .registeredAtTheStartOfTime:
                var header = original
                header.at = Instant(microsecondsSinceEpoch: .min)
                try await append("case-u3", "registered", header.bytes)
            case .peopleNamedWithTheOwnerMark:
                var header = original
                header.owner = "owner:boss"
                try await append("case-u4", "registered", header.bytes)
                header.parties = []
                header.people = ["owner:boss", "boss", "owner:owner:x", "m-v1", "boss"]
                try await append("case-u4", "mediationStarted", header.bytes)
            case .registeredTwice:
                try await append("case-u5", "registered", original.bytes)
                var again = original
                again.state = "mediating"
                try await append("case-u5", "registered", again.bytes)
            case .divisionChanges:
                try await append("case-u6", "registered", original.bytes)
                var moved = original
                moved.parties = []
                moved.division = County.township2
                moved.state = "mediating"
                try await append("case-u6", "handedOff", moved.bytes)
            case .eventsBeforeRegistration:
                var early = original
                early.parties = []
                early.deadline = "PM13.level"
                early.due = County.at(2025, 4, 1)
                try await append("case-u7", "deadlineSet", early.bytes)
                try await append("case-u7", "registered", original.bytes)
            case .clockNamedInChinese:
                try await append("case-u8", "registered", original.bytes)
                var clock = original
                clock.parties = []
                clock.deadline = "调解期限"
                clock.due = County.at(2025, 4, 1)
                try await append("case-u8", "deadlineSet", clock.bytes)
            case .twoHundredFiftyFiveLinks:
                try await append("case-u9", "registered", original.bytes)
                for n in 0..<255 {
                    var link = original
                    link.parties = []
                    link.links = [CaseLink(.legalAid, CaseID("aid-\(n)"))]
                    try await append("case-u9", "legalAidAttached", link.bytes)
                }
            }
            try runtime.catchUp()
            let before = try BuiltInViewTests.everyRow(runtime)
            try runtime.rebuildAll()
            // The bulk path builds these rows itself, or gives way to the views' own rules where its rows cannot
            // hold the case (either way the rows must be the incremental ones).
            let givesWay: Set<Crafted> = [
                .partyTextsBrokenOneByOne, .overTwoHundredFiftyFiveClocks, .registeredTwice, .divisionChanges,
                .clockNamedInChinese, .twoHundredFiftyFiveLinks,
            ]
            #expect(runtime.bulkBuildCount == (givesWay.contains(crafted) ? 0 : 1), "\(crafted)")
            let after = try BuiltInViewTests.everyRow(runtime)
            for (table, rows) in before {
                let same = after[table] == rows
                #expect(same, "\(table) differs after the rebuild")
            }
        }
    }

    @Test func aClockWhoseKeyTheStoreCannotHoldStopsTheDeadlinesViewInBulkToo() async throws {
        var configuration = Fixtures.configuration()
        configuration.maxStreamIDBytes = 400
        try await withTemporaryLog(configuration: configuration) { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(DeadlinesProjection(), .async), (CaseSummaryProjection(), .async)],
                logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try await BuiltInViewTests.engine(log).execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "h1", by: "m-v1")
            let registration = try #require(
                try log.read(from: 1, direction: .forwards, limit: 10).first { $0.type == "registered" })
            let original = try #require(RecordHeader(bytes: Array(registration.metadata)))
            // A 250-byte case id and a 253-byte clock name: the clock's due key has 512 bytes. The clock is stopped
            // later, so no row of it is left at the end of a bulk pass.
            let stream = "case-" + String(repeating: "c", count: 250)
            func append(_ type: String, _ header: RecordHeader) async throws -> UInt64 {
                try await log.append(
                    to: stream,
                    events: [
                        NewEvent(
                            type: type, schemaVersion: 1, actor: registration.actor, metadata: header.bytes,
                            payload: Array(registration.payload))
                    ]
                ).positions.lowerBound
            }
            _ = try await append("registered", original)
            var clock = original
            clock.parties = []
            clock.deadline = String(repeating: "d", count: 253)
            clock.due = County.at(2025, 6, 1)
            let set = try await append("deadlineSet", clock)
            _ = try await append("deadlineStopped", clock)
            try runtime.catchUp()
            let deadlines = try #require(try runtime.status().first { $0.name == "deadlines" })
            #expect(deadlines.failedAt == set)
            #expect(deadlines.failure?.contains("invalidKey") == true, "\(String(describing: deadlines.failure))")
            // The bulk pass gives way; the event-by-event rebuild stops at the same event.
            let error = #expect(throws: ProjectionError.self) { try runtime.rebuild("deadlines") }
            #expect(error?.code == .failed && error?.position == set, "\(String(describing: error))")
            #expect(try runtime.status().first { $0.name == "deadlines" }?.failedAt == set)
        }
    }

    /// Commands append while a rebuild's bulk pass runs: the rebuild applies them event by event on top of the rows
    /// the bulk pass wrote (and at the swap), so the views end exactly what a bulk pass over every event gives.
    @Test func eventsAppendedDuringTheBulkPassAreAppliedOnTopOfItsRows() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            let engine = try BuiltInViewTests.engine(log)
            try await BuiltInViewTests.county(engine)
            try runtime.catchUp()
            let headBefore = try log.head().position
            // Right after the bulk pass: six more cases, some handed off, some closed and rated.
            runtime.setAfterBulkPass {
                let appended = DispatchSemaphore(value: 0)
                Task.detached {
                    try? await ProjectionRuntimeTests.scenario(engine, "late", count: 6)
                    appended.signal()
                }
                appended.wait()
            }
            // The rebuild blocks its thread in the hook, so it runs on a thread of its own, not the test's pool.
            let outcome = Mutex<Result<Void, ProjectionError>?>(nil)
            let done = DispatchSemaphore(value: 0)
            Thread {
                outcome.withLock { $0 = Result { () throws(ProjectionError) in try runtime.rebuildAll() } }
                done.signal()
            }.start()
            while done.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(10)) }
            runtime.setAfterBulkPass(nil)
            try outcome.withLock { $0 }?.get()
            #expect(runtime.bulkBuildCount == 1)
            let head = try log.head().position
            #expect(head > headBefore + 20, "the hook appended \(head - headBefore) events")
            try runtime.catchUp()
            for status in try runtime.status() {
                #expect(status.checkpoint == head && status.failedAt == nil, "\(status)")
            }
            // What the bulk pass plus the events after it gave, against a bulk pass over every event.
            let rows = try BuiltInViewTests.everyRow(runtime)
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 2)
            let again = try BuiltInViewTests.everyRow(runtime)
            for (table, expected) in again {
                let same = rows[table] == expected
                #expect(same, "\(table) differs")
            }
        }
    }
}

@Suite struct ViewEdgeTests {
    static func engine(_ log: LMDBEventLog, _ clock: ManualClock) throws -> CaseEngine {
        CaseEngine(
            log: log,
            configuration: .init(
                directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
                definitions: try DefinitionRegistry.national()),
            clock: clock, logger: Logger(label: "test"))
    }

    @Test func aCaseReferredAfterABreachIsNotClosedOnTime() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(MonthlyStatisticsProjection(), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let clock = ManualClock(Timestamp(County.at(2025, 3, 3)))
            let engine = try Self.engine(log, clock)
            try await engine.execute(
                .register(County.registration(.labourMediation, unit: "v1", owner: "m-v1", dispute: .labour)), on: "l1",
                by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "l1", by: "m-v1")
            clock.set(Timestamp(County.at(2025, 3, 20)))
            try await engine.tick()
            try await engine.execute(
                .refer(
                    Referral(route: .labourArbitration, newCase: "l1-arb", toUnit: "labour", toPerson: "labour-clerk")),
                on: "l1", by: "m-v1")
            let march = try MonthlyStatisticsProjection.statistics(month: "2025-03", under: County.county, in: runtime)
            #expect(
                march.closed == 1 && march.closedOnTime == 0 && march.mediationClosed == 1
                    && march.mediationSucceeded == 0)
            #expect(march.referrals[.labourArbitration] == 1)
        }
    }

    /// Administrative review statistics count the decisions by outcome and, beside them, the reviews that ended
    /// otherwise: mediated, settled, terminated, or refused before acceptance. The bulk rebuild counts them alike.
    @Test func reviewsThatEndWithoutADecisionAreCountedByHowTheyEnded() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try BuiltInViewTests.runtime(log)
            defer { runtime.shutdown() }
            let clock = ManualClock(Timestamp(County.at(2025, 3, 3)))
            let engine = try Self.engine(log, clock)
            func run(_ command: CaseCommand, _ id: CaseID) async throws {
                try await engine.execute(command, on: id, by: "review-officer")
            }
            func register(_ id: CaseID) async throws {
                let application = ReviewApplication(
                    actReference: "act-\(id.rawValue)", respondent: "County market regulator",
                    actDate: County.date(2025, 2, 20), knownOn: County.date(2025, 2, 20), rightsNotified: true,
                    learnedOfRightOn: nil, immovableProperty: false, obstacleDays: 0)
                try await run(
                    .register(
                        County.registration(
                            .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                            review: application)), id)
            }
            for id: CaseID in ["decided", "mediated", "settled", "terminated", "refused", "abandoned", "open"] {
                try await register(id)
            }
            for id: CaseID in ["decided", "mediated", "settled", "terminated", "open"] {
                try await run(.acceptReview(procedure: .standard), id)
            }
            try await run(.decideReview(.revoked), "decided")
            try await run(.startReviewMediation, "mediated")
            try await run(.concludeReviewMediation(statement: "fine reduced"), "mediated")
            try await run(.settleReview(terms: "licence reissued"), "settled")
            try await run(.terminateReview(ground: "the applicant died without successors"), "terminated")
            try await run(.refuseFiling(reasons: "not an administrative act"), "refused")
            try await run(.requestCorrection(items: ["sign the application"]), "abandoned")
            // Ten working days pass without the correction: the clock deems the application abandoned.
            clock.set(Timestamp(County.at(2025, 3, 20)))
            try await engine.tick()
            try runtime.catchUp()

            let march = try MonthlyStatisticsProjection.statistics(month: "2025-03", under: County.county, in: runtime)
            #expect(march.registered == 7)
            #expect(march.reviewOutcomes == [.revoked: 1])
            #expect(
                march.reviewEndings == [.mediated: 1, .settled: 1, .terminated: 1, .filingRefused: 1, .abandoned: 1])
            let before = try BuiltInViewTests.everyRow(runtime)
            try runtime.rebuildAll()
            #expect(runtime.bulkBuildCount == 1, "the rebuild took the bulk path")
            #expect(try BuiltInViewTests.everyRow(runtime) == before)
        }
    }

    @Test func headersWrittenBeforeTheyCarriedLinksGiveTheSameViews() async throws {
        // A store whose headers lack the links, route and review-outcome sections (as written before they existed):
        // the views decode those payloads instead and end with the same rows.
        let views: [any Projection] = [
            CaseSummaryProjection(), DeadlinesProjection(), BoardProjection(), MonthlyStatisticsProjection(),
            WorkloadProjection(), try RepeatDisputesProjection(partyKey: BuiltInViewTests.partyKey),
        ]
        func rows(_ log: LMDBEventLog, rebuilt: Bool = false) throws -> [String: [[UInt8]]] {
            // Views that start from nothing are filled in bulk (from the first event on, here).
            let runtime = try ProjectionRuntime(
                log: log, projections: views.map { ($0, .async) }, logger: Logger(label: "test"), chunkSize: 4,
                upcasters: UpcasterChain(), metrics: nil, rebuildThreads: nil, writeBatchRows: 16_384,
                bulkFillMinimum: 1)
            defer { runtime.shutdown() }
            // Only a store whose headers carry the links is rebuilt, or filled, in bulk.
            let stripped = try log.read(from: 1, direction: .forwards, limit: 10_000).contains { event in
                RecordHeader(bytes: Array(event.metadata)).map { $0.hasLinks && $0.links == nil } ?? false
            }
            let fresh = try runtime.status().allSatisfy { $0.checkpoint == 0 }
            try runtime.catchUp()
            let filled = fresh && !stripped
            #expect(runtime.bulkBuildCount == (filled ? 1 : 0))
            if fresh {
                // A fill the bulk path cannot serve builds nothing: the views catch up in their first generation.
                #expect(try runtime.status().allSatisfy { $0.generation == (filled ? 2 : 1) && $0.checkpoint > 0 })
            }
            if rebuilt {
                try runtime.rebuildAll()
                #expect(runtime.bulkBuildCount == (filled ? 1 : 0) + (stripped ? 0 : 1))
            }
            var rows: [String: [[UInt8]]] = [:]
            for view in views {
                for table in view.tables {
                    rows[view.name + "." + table] = try ProjectionRuntimeTests.dump(runtime, view.name, table)
                }
            }
            return rows
        }
        try await withTemporaryLog { log, _ in
            let engine = try Self.engine(log, ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await BuiltInViewTests.county(engine)
            let events = try log.read(from: 1, direction: .forwards, limit: 10_000)
            var stripped = 0
            try await withTemporaryLog { older, _ in
                for event in events {
                    var metadata = Array(event.metadata)
                    if var header = RecordHeader(bytes: metadata),
                        header.links != nil || header.route != nil || header.reviewOutcome != nil
                    {
                        header.links = nil
                        header.route = nil
                        header.reviewOutcome = nil
                        metadata = header.bytes
                        stripped += 1
                    }
                    _ = try await older.append(
                        to: event.streamID,
                        events: [
                            NewEvent(
                                type: event.type, schemaVersion: event.schemaVersion, actor: event.actor,
                                metadata: metadata, payload: Array(event.payload))
                        ])
                }
                #expect(stripped >= 2, "a referral and the registration it created")
                let current = try rows(log)
                #expect(current["monthly.months"]?.isEmpty == false)
                #expect(try rows(older) == current)
                // A rebuild meets the old headers: the bulk path leaves them to the event-by-event one, which gives
                // the same rows.
                #expect(try rows(older, rebuilt: true) == current)
                #expect(try rows(log, rebuilt: true) == current)
            }
        }
    }

    /// Two views stop at the same event: the error names the one registered first, as one pass meets it, on one
    /// thread (where the costlier board would otherwise run first) and on two.
    @Test(arguments: [1, 2])
    func aRebuildStoppedByTwoViewsAtOneEventNamesTheFirstRegistered(threads: Int) async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(DeadlinesProjection(), .async), (BoardProjection(), .async)],
                logger: Logger(label: "test"), rebuildThreads: threads)
            defer { runtime.shutdown() }
            let engine = try Self.engine(log, ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "h1", by: "m-v1")
            let foreign = try await log.append(to: "case-h2", events: [Fixtures.event("imported")])
            let error = #expect(throws: ProjectionError.self) { try runtime.rebuildAll() }
            #expect(error?.code == .failed && error?.position == foreign.positions.lowerBound)
            #expect(error?.projection == "deadlines", "\(String(describing: error))")
        }
    }

    @Test(arguments: [1, 2])
    func aBuiltInViewStopsAtAKeyTheStoreCannotHoldOnEveryPath(threads: Int) async throws {
        // Long stream ids are allowed (up to 400 bytes); with a long person id, the workload view's keys of that
        // person and case outgrow LMDB's 511 bytes.
        var configuration = Fixtures.configuration()
        configuration.maxStreamIDBytes = 400
        try await withTemporaryLog(configuration: configuration) { log, _ in
            let person = PersonID(String(repeating: "p", count: 200))
            let engine = CaseEngine(
                log: log,
                configuration: .init(
                    directory: Directory(
                        units: County.units,
                        persons: County.persons + [
                            Person(id: person, name: "Long", roles: [.mediator, .staff], units: ["v1"])
                        ]),
                    calendar: try HolidayCalendar.chinaMainland(), definitions: try DefinitionRegistry.national()),
                clock: ManualClock(Timestamp(County.at(2025, 3, 3))), logger: Logger(label: "test"))
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "n1", by: "m-v1")
            let long = try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: person)),
                on: CaseID(String(repeating: "c", count: 390)), by: "m-v1")
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "n2", by: "m-v1")
            let head = try log.head().position
            let runtime = try ProjectionRuntime(
                log: log, projections: [(WorkloadProjection(), .async), (CaseSummaryProjection(), .async)],
                logger: Logger(label: "test"), rebuildThreads: threads)
            defer { runtime.shutdown() }
            // Event by event: the workload view stops at the case's registration; the case summary goes on.
            try runtime.catchUp()
            let status = try runtime.status()
            let workload = try #require(status.first { $0.name == "workload" })
            #expect(workload.failedAt == long.positions.lowerBound)
            #expect(workload.failure?.contains("invalidKey") == true, "\(String(describing: workload.failure))")
            #expect(status.first { $0.name == "caseSummary" }?.checkpoint == head)
            // In bulk: the pass gives way to the event-by-event one, which stops at the same event.
            let error = #expect(throws: ProjectionError.self) { try runtime.rebuild("workload") }
            #expect(error?.code == .failed && error?.position == long.positions.lowerBound)
            #expect(String(describing: error).contains("invalidKey"), "\(String(describing: error))")
        }
    }

    @Test func aCaseEventWithoutAHeaderStopsTheViewsThereInsteadOfBeingSkipped() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(BoardProjection(), .inline), (DeadlinesProjection(), .async)],
                logger: Logger(label: "test"), rebuildThreads: 2)
            defer { runtime.shutdown() }
            let engine = try Self.engine(log, ManualClock(Timestamp(County.at(2025, 3, 3))))
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "h1", by: "m-v1")
            // Another writer's event in a case stream, without a record header; and an event of another stream.
            let foreign = try await log.append(
                to: "case-h2", events: [Fixtures.event("imported")])
            _ = try await log.append(to: "audit-1", events: [Fixtures.event()])
            let position = foreign.positions.lowerBound
            try runtime.catchUp()
            for status in try runtime.status() {
                #expect(status.failedAt == position && status.checkpoint == position - 1, "\(status)")
                #expect(status.failure?.contains("no record header") == true, "\(status)")
            }
            // Appends go on; a rebuild stops at the same event and leaves the old generation.
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "h3", by: "m-v1")
            let error = #expect(throws: ProjectionError.self) { try runtime.rebuild("board") }
            #expect(error?.code == .failed && error?.position == position && error?.projection == "board")
            // So does a rebuild of both views, whose chunks are computed on two threads. Both stop at that event; the
            // error names the one a single pass meets first, the first registered.
            let both = #expect(throws: ProjectionError.self) { try runtime.rebuildAll() }
            #expect(both?.code == .failed && both?.position == position && both?.projection == "board")
            #expect(both?.message.contains("'board' threw") == true, "\(String(describing: both))")
            #expect(try BoardProjection.counts(under: County.county, in: runtime).total == 1)
        }
    }

    @Test func workloadListsArePagedWithStableCursors() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(WorkloadProjection(), .inline)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let engine = try Self.engine(log, ManualClock(Timestamp(County.at(2025, 3, 3))))
            // e1, e3, e5, e7 are handed off to m-v1b and stay open; the even ones are closed.
            try await ProjectionRuntimeTests.scenario(engine, "e", count: 8)
            var pages: [[CaseID]] = []
            var cursor: String?
            repeat {
                let page = try WorkloadProjection.openCases(of: PersonID("m-v1b"), after: cursor, limit: 3, in: runtime)
                pages.append(page.items)
                cursor = page.next
            } while cursor != nil && pages.count < 10
            #expect(pages == [["e1", "e3", "e5"], ["e7"]])
            let unit = try WorkloadProjection.openCases(of: UnitID("v1"), limit: 2, in: runtime)
            #expect(unit.items == ["e1", "e3"] && unit.next != nil)
            // A case closed between pages does not shift the next page.
            try await engine.execute(.reachAgreement(form: .oral, terms: "t"), on: "e3", by: "m-v1b")
            try await engine.execute(.close(outcome: "performed"), on: "e3", by: "m-v1b")
            #expect(try WorkloadProjection.openCases(of: UnitID("v1"), in: runtime).items == ["e1", "e5", "e7"])
            let rest = try WorkloadProjection.openCases(of: UnitID("v1"), after: unit.next, limit: 2, in: runtime)
            #expect(rest.items == ["e5", "e7"] && rest.next == nil)

            // Everyone's workload in one list, a page of one at a time, is each person's open cases counted (ids
            // that are prefixes of others, such as m-v1 and m-v1b, stay apart); the same for units.
            for (table, all) in [
                (
                    "byPerson",
                    { (after: String?) in try WorkloadProjection.people(after: after, limit: 1, in: runtime) }
                ),
                ("byUnit", { (after: String?) in try WorkloadProjection.units(after: after, limit: 1, in: runtime) }),
            ] as [(String, (String?) throws -> Page<WorkloadEntry>)] {
                var listed: [WorkloadEntry] = []
                var next: String?
                repeat {
                    let page = try all(next)
                    #expect(page.items.count == 1)
                    listed += page.items
                    next = page.next
                } while next != nil && listed.count < 50
                let counted = try runtime.read("workload") { reader -> [WorkloadEntry] in
                    var counts: [String: Int] = [:]
                    try reader.forEach(in: table) { key, _ in
                        counts[String(decoding: key.prefix { $0 != 0 }, as: UTF8.self), default: 0] += 1
                        return true
                    }
                    return counts.map { WorkloadEntry(id: $0.key, openCases: $0.value) }.sorted { $0.id < $1.id }
                }
                #expect(listed == counted && !listed.isEmpty, "\(table): \(listed) against \(counted)")
            }
            let people = try WorkloadProjection.people(in: runtime)
            #expect(
                people.next == nil && people.items.contains(WorkloadEntry(id: "m-v1b", openCases: 3)), "\(people.items)"
            )
            #expect(people.items.map(\.id).contains("m-v1"), "\(people.items)")
            #expect(try WorkloadProjection.units(in: runtime).items.contains(WorkloadEntry(id: "v1", openCases: 3)))
            // A cursor no page returned is refused, not read as "from the start", which would page for ever.
            for cursor in ["not hex", "abc", ""] {
                let refused = #expect(throws: ProjectionError.self) {
                    _ = try WorkloadProjection.people(after: cursor, in: runtime)
                }
                #expect(refused?.code == .invalidKey)
                #expect(throws: ProjectionError.self) {
                    _ = try WorkloadProjection.openCases(of: UnitID("v1"), after: cursor, in: runtime)
                }
            }
        }
    }

    @Test func concurrentRebuildsTakeTurnsAndLeaveAnExactView() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .inline)], logger: Logger(label: "test"),
                chunkSize: 3)
            defer { runtime.shutdown() }
            for i in 0..<60 { _ = try await log.append(to: "s-\(i % 7)", events: [Fixtures.event()]) }
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { (try? runtime.rebuild("counter")) != nil } }
                var results: [Bool] = []
                for await ok in group { results.append(ok) }
                return results
            }
            #expect(outcomes.contains(true))
            #expect(try runtime.check("counter").isConsistent)
            #expect(try CountingProjection.total(runtime, "counter") == 60)
        }
    }
}
