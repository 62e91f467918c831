import CaseLedger
import CaseLedgerLog
import CaseLedgerWorkflow
import Foundation
import Logging
import Synchronization
import Testing
import _CaseLedgerTestSupport

/// The engine on a real LMDB log: commands checked, then appended; replay, ticks and races.
@Suite struct CaseEngineTests {
    static func engine(_ log: LMDBEventLog, clock: ManualClock) throws -> CaseEngine {
        let configuration = CaseEngine.Configuration(
            directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
        return CaseEngine(log: log, configuration: configuration, clock: clock, logger: Logger(label: "test"))
    }

    static func clock(_ instant: Instant = County.at(2025, 3, 3)) -> ManualClock {
        ManualClock(Timestamp(instant))
    }

    static func withEngine(_ body: (CaseEngine, LMDBEventLog, ManualClock, TemporaryDirectory) async throws -> Void)
        async throws
    {
        try await withTemporaryDirectory { dir in
            let log = try LMDBEventLog.open(at: dir.path)
            defer { log.close() }
            let clock = Self.clock()
            try await body(try engine(log, clock: clock), log, clock, dir)
        }
    }

    @Test("A command becomes events in the case's stream; a rejected one writes nothing")
    func commandsBecomeEvents() async throws {
        try await Self.withEngine { engine, log, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            let outcome = try await engine.execute(
                .startMediation(mediators: ["m-v1"], chosenByParties: false), on: "c1", by: "m-v1")
            #expect(outcome.state.state == "mediating")
            let events = try log.read(stream: "case-c1", from: 1, direction: .forwards, limit: 100)
            #expect(events.map(\.type) == ["registered", "deadlineSet", "mediationStarted"])
            #expect(events.last?.actor.userID == "m-v1")
            #expect(events.last?.actor.unit == "v1")
            let head = try log.head()
            await #expect(throws: WorkflowError.self) {
                try await engine.execute(
                    .escalate(
                        Escalation(
                            toUnit: "centre", toPerson: "m-county", reason: .complex,
                            consentingParties: County.bothParties)),
                    on: "c1", by: "m-v1")
            }
            #expect(try log.head() == head)
            #expect(try log.verify().isValid)
        }
    }

    @Test("No caller acts as the clock: 'system' is refused before anything is decided or written")
    func theSystemActorIsTheClocksAlone() async throws {
        try await Self.withEngine { engine, log, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            let head = try log.head()
            // Opening arbitration is the clock's, after LD4's 15 days; a registration by `system` skips the unit's
            // authority check.
            for (command, id) in [
                (CaseCommand.openArbitration, CaseID("c1")),
                (.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), "c2"),
            ] {
                let error = await #expect(throws: WorkflowError.self) {
                    try await engine.execute(command, on: id, by: .system)
                }
                #expect(error?.code == .notAuthorized && error?.caseID == id, "\(String(describing: error))")
            }
            #expect(try log.head() == head)
        }
    }

    @Test("A tick reports clocks whose breach waits for the calendar, and fires them once the year is loaded")
    func breachesWaitingForTheCalendarAreReportedThenFired() async throws {
        try await Self.withEngine { engine, log, clock, _ in
            clock.set(Timestamp(County.at(2026, 12, 17)))
            let review = ReviewApplication(
                actReference: "penalty-2026-900", respondent: "County market regulator",
                actDate: County.date(2026, 10, 20), knownOn: County.date(2026, 10, 20), rightsNotified: true,
                learnedOfRightOn: nil, immovableProperty: false, obstacleDays: 0)
            try await engine.execute(
                .register(
                    County.registration(
                        .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                        review: review)),
                on: "r1", by: "review-officer")
            let head = try log.head()
            // The deemed acceptance due after 12-24 would start AR7's 60 days in 2027, which is not loaded.
            let waiting = try await engine.tick(now: County.at(2026, 12, 28))
            #expect(waiting.waitingForCalendar == 1 && waiting.events == 0, "\(waiting)")
            #expect(try log.head() == head)
            let yaml = """
                2027:
                  rest_days: [2027-01-01, 2027-01-02, 2027-01-03, 2027-01-04]
                  working_days: []
                  notice: "test data"
                """
            var years = try HolidayCalendar.chinaMainland().years
            for (year, entry) in try HolidayCalendar(yaml: yaml).years { years[year] = entry }
            engine.updateCalendar(try HolidayCalendar(years: years))
            let fired = try await engine.tick(now: County.at(2027, 1, 5))
            #expect(fired.automaticCommands == 1 && fired.waitingForCalendar == 0, "\(fired)")
            #expect(try engine.replayState(of: "r1")?.state == "accepted")
        }
    }

    @Test("A case whose history cannot be read is skipped and reported by the tick; the others' clocks still fire")
    func oneUnreadableCaseDoesNotStopTheClocks() async throws {
        try await Self.withEngine { engine, log, _, _ in
            for id: CaseID in ["good", "bad"] {
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: id, by: "m-v1")
            }
            // An event a newer release wrote (schema version 2) on one case.
            let record = WorkflowRecord(
                at: County.at(2025, 3, 4), actor: "m-v1", event: .custom(command: "note", note: "from a newer release"))
            _ = try await log.append(
                to: "case-bad",
                events: [
                    NewEvent(
                        type: "custom", schemaVersion: 2, actor: EventActor(userID: "m-v1", role: "", unit: "v1"),
                        payload: Array(try JSONEncoder().encode(record)))
                ])
            // A fresh engine (as after a restart) builds its due index from the log, then ticks past PM13's end.
            let restarted = try Self.engine(log, clock: Self.clock())
            let report = try await restarted.tick(now: County.at(2025, 6, 1))
            #expect(report.failedCases.keys.sorted() == ["bad"], "\(report)")
            #expect(report.failedCases["bad"]?.contains("schema version 2") == true)
            #expect(report.breaches >= 1, "\(report)")
            #expect(try restarted.replayState(of: "good")?.deadlines.contains { $0.status == .breached } == true)
            // Still reported at the next tick, and it stops nothing there either.
            let again = try await restarted.tick(now: County.at(2025, 6, 2))
            #expect(again.failedCases.keys.sorted() == ["bad"])
        }
    }

    @Test("A tick at a time no clock can mean (nanoseconds for microseconds) is refused and writes nothing")
    func anImplausibleTickTimeIsRefused() async throws {
        try await Self.withEngine { engine, log, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            let head = try log.head()
            let nanoseconds = Instant(microsecondsSinceEpoch: County.at(2025, 6, 1).microsecondsSinceEpoch * 1_000)
            let error = await #expect(throws: WorkflowError.self) { try await engine.tick(now: nanoseconds) }
            #expect(error?.code == .invalidField && error?.message.contains("1900 and 2200") == true)
            #expect(try log.head() == head)
        }
    }

    @Test("A referral writes the closing, the linked case and the legal aid case in one atomic append")
    func referralIsAtomic() async throws {
        try await Self.withEngine { engine, log, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1", dispute: .labour)), on: "m1",
                by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "m1", by: "m-v1")
            try await engine.execute(
                .declareFailure(rightsNotice: "told", suggestedRoute: .labourArbitration), on: "m1", by: "m-v1")
            let aid = AidAttachment(
                aidCase: "m1-aid", centre: "aid", owner: "aid-staff",
                application: LegalAidApplication(
                    matter: .labour, exemption: .migrantWorkerWages, exemptionEvidence: "wage list"))
            let outcome = try await engine.execute(
                .refer(
                    Referral(
                        route: .labourArbitration, newCase: "m1-arb", toUnit: "labour", toPerson: "labour-clerk",
                        legalAid: aid)),
                on: "m1", by: "m-v1")
            let written = outcome.records.reduce(0) { $0 + $1.records.count }
            #expect(outcome.positions.count == written)
            #expect(outcome.records.map(\.caseID) == ["m1", "m1-arb", "m1-aid"])
            let batch = try log.read(from: outcome.positions.lowerBound, direction: .forwards, limit: written)
            #expect(Set(batch.map(\.streamID)) == ["case-m1", "case-m1-arb", "case-m1-aid"])
            #expect(Set(batch.compactMap(\.correlationID)).count == 1)
            #expect(try engine.state(of: "m1-arb")?.links.contains(CaseLink(.referredFrom, "m1")) == true)
            #expect(try engine.state(of: "m1")?.state == "closed")
        }
    }

    @Test("Replaying the log rebuilds exactly the live states, after a restart too")
    func replayEqualsLive() async throws {
        try await withTemporaryDirectory { dir in
            let clock = Self.clock()
            var live: [CaseID: CaseState] = [:]
            do {
                let log = try LMDBEventLog.open(at: dir.path)
                defer { log.close() }
                let engine = try Self.engine(log, clock: clock)
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
                try await engine.execute(
                    .startMediation(mediators: ["m-v1"], chosenByParties: false), on: "c1", by: "m-v1")
                clock.advance(microseconds: 86_400_000_000)
                try await engine.execute(.reachAgreement(form: .written, terms: "repair"), on: "c1", by: "m-v1")
                for signer: Signer in [.party("p-a"), .party("p-b"), .mediator("m-v1"), .committeeSeal] {
                    try await engine.execute(.signAgreement(signer), on: "c1", by: "m-v1")
                }
                try await engine.execute(
                    .register(
                        County.registration(
                            .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                            review: ReviewApplication(
                                actReference: "act-1", respondent: "bureau", actDate: County.date(2025, 2, 20),
                                knownOn: County.date(2025, 2, 20)))),
                    on: "r1", by: "review-officer")
                try await engine.execute(.acceptReview(procedure: .simplified), on: "r1", by: "review-officer")
                clock.advance(microseconds: 40 * 86_400_000_000)
                try await engine.tick()
                for id: CaseID in ["c1", "r1"] { live[id] = try engine.state(of: id) }
                #expect(live["r1"]?.deadline("AR7.simplified")?.status == .breached)
            }
            let log = try LMDBEventLog.open(at: dir.path)
            defer { log.close() }
            let reopened = try Self.engine(log, clock: clock)
            for (id, state) in live {
                #expect(try reopened.state(of: id) == state)
                #expect(try reopened.replayState(of: id) == state)
            }
        }
    }

    @Test("tick(now) fires each due clock once, the same way on identical logs; a second tick writes nothing")
    func tickIsDeterministic() async throws {
        var runs: [[WorkflowRecord]] = []
        for _ in 0..<2 {
            try await Self.withEngine { engine, log, clock, _ in
                for i in 0..<5 {
                    try await engine.execute(
                        .register(
                            County.registration(
                                .administrativeReview, unit: "review", owner: "review-officer",
                                dispute: .administrativeAct,
                                review: ReviewApplication(
                                    actReference: "act-\(i)", respondent: "bureau", actDate: County.date(2025, 2, 20),
                                    knownOn: County.date(2025, 2, 20)))),
                        on: CaseID("r\(i)"), by: "review-officer")
                    clock.advance(microseconds: 3_600_000_000)
                }
                let report = try await engine.tick(now: County.at(2025, 3, 20))
                #expect(report.cases == 5)
                #expect(report.automaticCommands == 5)  // five deemed acceptances
                let head = try log.head()
                let again = try await engine.tick(now: County.at(2025, 3, 20))
                #expect(again.events == 0)
                #expect(try log.head() == head)
                var records: [WorkflowRecord] = []
                for i in 0..<5 { records += try engine.history(of: CaseID("r\(i)")) }
                #expect(records.filter { $0.transition == "deemAccept" }.count == 5)
                runs.append(records)
            }
        }
        #expect(runs[0] == runs[1])
    }

    @Test("A reopened engine finds due clocks by scanning the log")
    func tickAfterRestart() async throws {
        try await withTemporaryDirectory { dir in
            let clock = Self.clock()
            do {
                let log = try LMDBEventLog.open(at: dir.path)
                defer { log.close() }
                let engine = try Self.engine(log, clock: clock)
                try await engine.execute(
                    .register(County.registration(.labourMediation, unit: "v1", owner: "m-v1", dispute: .labour)),
                    on: "l1", by: "m-v1")
            }
            let log = try LMDBEventLog.open(at: dir.path)
            defer { log.close() }
            let engine = try Self.engine(log, clock: clock)
            let report = try await engine.tick(now: County.at(2025, 3, 25))
            #expect(report.breaches >= 1)
            #expect(try engine.state(of: "l1")?.openedRoutes == ["arbitration"])
        }
    }

    @Test("Concurrent commands on one case are decided one after another: versions stay gap-free")
    func concurrentCommands() async throws {
        try await Self.withEngine { engine, log, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "c1", by: "m-v1")
            try await engine.execute(.reachAgreement(form: .written, terms: "t"), on: "c1", by: "m-v1")
            // Four signatures race, plus 40 registrations of other cases; each signature lands exactly once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for signer: Signer in [.party("p-a"), .party("p-b"), .mediator("m-v1"), .committeeSeal] {
                    group.addTask { try await engine.execute(.signAgreement(signer), on: "c1", by: "m-v1") }
                }
                for i in 0..<40 {
                    group.addTask {
                        try await engine.execute(
                            .register(
                                County.registration(
                                    .peopleMediation, unit: "v2", owner: "m-v2", division: County.village2)),
                            on: CaseID("x\(i)"), by: "m-v2")
                    }
                }
                try await group.waitForAll()
            }
            let state = try #require(try engine.replayState(of: "c1"))
            #expect(state.agreement?.effectiveAt != nil)
            #expect(state.version == (try log.version(ofStream: "case-c1")))
            #expect(try engine.history(of: "c1").filter { $0.event.name == "agreementSigned" }.count == 4)
            #expect(try engine.history(of: "c1").filter { $0.event.name == "agreementTookEffect" }.count == 1)
            #expect(try log.verify().isValid)
        }
    }

    @Test("An idempotency key makes a repeated command a no-op")
    func idempotentCommands() async throws {
        try await Self.withEngine { engine, log, _, _ in
            let command = CaseCommand.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1"))
            let first = try await engine.execute(command, on: "c1", by: "m-v1", idempotencyKey: "intake-42")
            let second = try await engine.execute(command, on: "c1", by: "m-v1", idempotencyKey: "intake-42")
            #expect(second.wasDuplicate)
            #expect(second.positions == first.positions)
            #expect(try log.version(ofStream: "case-c1") == first.state.version)
        }
    }

    @Test("A case another engine (another process) moved on is decided on its state in the log, not a remembered one")
    func aRememberedStateIsCheckedAgainstTheLog() async throws {
        try await Self.withEngine { engine, log, clock, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            #expect(try engine.state(of: "c1")?.state == "awaitingMediation")
            // Another engine on the same log (as `caseledger exec` in another process) starts the mediation.
            let other = try Self.engine(log, clock: clock)
            try await other.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "c1", by: "m-v1")
            // A command only the new state allows is accepted, not refused on the remembered one.
            let agreed = try await engine.execute(
                .reachAgreement(form: .oral, terms: "repair the wall"), on: "c1", by: "m-v1")
            #expect(agreed.state.version == (try log.version(ofStream: "case-c1")))
            // A read answers the log's state, not the remembered one.
            try await other.execute(.close(outcome: "performed"), on: "c1", by: "m-v1")
            let moved = try #require(try engine.state(of: "c1"))
            let version = try log.version(ofStream: "case-c1")
            #expect(moved.version == version && moved.closedAt != nil)
        }
    }

    @Test("A retry that races its original, with the same idempotency key, gets the original's result, not a refusal")
    func aRetryRacingItsOriginalGetsTheFirstResult() async throws {
        try await Self.withEngine { engine, log, clock, _ in
            let original = try Self.engine(log, clock: clock)
            let command = CaseCommand.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1"))
            let first = Mutex<CaseEngine.Outcome?>(nil)
            // The original commits after the retry found the key unused and before it decides.
            engine.setAfterKeyCheck {
                let outcome = try? await original.execute(command, on: "c1", by: "m-v1", idempotencyKey: "intake-7")
                first.withLock { $0 = outcome }
            }
            let retry = try await engine.execute(command, on: "c1", by: "m-v1", idempotencyKey: "intake-7")
            let committed = try #require(first.withLock { $0 })
            #expect(retry.wasDuplicate && retry.positions == committed.positions)
            #expect(try log.version(ofStream: "case-c1") == committed.state.version)
        }
    }

    @Test("AR4 locks live in the log: a filed suit blocks a later review of the same act")
    func proceedingLockInTheLog() async throws {
        try await Self.withEngine { engine, log, _, _ in
            try await ProceedingLockRaceTests.suitReferred(engine)
            try await engine.execute(.recordCourtFiling(court: "County court"), on: "s1", by: "court-clerk")
            #expect(try log.version(ofStream: "lock-act-act-9") == 1)
            do {
                try await ProceedingLockRaceTests.registerReview(engine, "r1")
                Issue.record("a review was registered during a suit")
            } catch {
                #expect((error as? WorkflowError)?.rule == "AR4")
            }
        }
    }
}

/// AR4 when two commands about one act race: a decision that found the act's lock free must not be written if
/// another command took the lock between the read and the append.
@Suite struct ProceedingLockRaceTests {
    static let act = ReviewApplication(
        actReference: "act-9", respondent: "bureau", actDate: County.date(2025, 2, 20),
        knownOn: County.date(2025, 2, 20))

    /// A mediation about the act, failed and referred to administrative litigation as case `s1`.
    static func suitReferred(_ engine: CaseEngine) async throws {
        try await engine.execute(
            .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1", dispute: .administrativeAct)),
            on: "m1", by: "m-v1")
        try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "m1", by: "m-v1")
        try await engine.execute(
            .declareFailure(rightsNotice: "told", suggestedRoute: .administrativeLitigation), on: "m1", by: "m-v1")
        try await engine.execute(
            .refer(
                Referral(
                    route: .administrativeLitigation, newCase: "s1", toUnit: "court", toPerson: "court-clerk",
                    review: act)),
            on: "m1", by: "m-v1")
    }

    @Test func aReviewFiledWhileACourtAcceptsTheSuitIsRefused() async throws {
        try await CaseEngineTests.withEngine { engine, log, clock, _ in
            try await Self.suitReferred(engine)
            let court = try CaseEngineTests.engine(log, clock: clock)
            let ran = Mutex(false)
            // The court accepts the suit after the review's registration found the lock free, before it is written.
            engine.setBeforeAppend {
                guard
                    !ran.withLock({ done in
                        defer { done = true }; return done
                    })
                else { return }
                _ = try? await court.execute(.recordCourtFiling(court: "County court"), on: "s1", by: "court-clerk")
            }
            do {
                try await Self.registerReview(engine, "r1")
                Issue.record("a review was registered while the court accepted the suit")
            } catch {
                #expect((error as? WorkflowError)?.rule == "AR4")
            }
            #expect(ran.withLock { $0 })
            #expect(try log.version(ofStream: "lock-act-act-9") == 1)
            #expect(try log.version(ofStream: "case-r1") == 0)
        }
    }
}

extension ProceedingLockRaceTests {
    /// Registers review case `id` of `application` (``act`` unless given).
    static func registerReview(_ engine: CaseEngine, _ id: CaseID, _ application: ReviewApplication = act)
        async throws
    {
        try await engine.execute(
            .register(
                County.registration(
                    .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                    review: application)),
            on: id, by: "review-officer")
    }

    /// A tick decides a deemed acceptance against the act's lock, held by another review, and records its refusal;
    /// that review is decided (releasing the lock) before the tick appends. The tick must decide again and accept,
    /// not record a refusal on a lock that is free.
    @Test func aTickDecidedOnALockThatIsReleasedMeanwhileDecidesAgain() async throws {
        try await CaseEngineTests.withEngine { engine, log, clock, _ in
            // r2's acceptance check (5 working days) runs out on 03-10; r1, on the same act, is registered and
            // accepted that day, so that nothing of r1 is due at the tick on 03-11 (r1 is not in the tick's request).
            try await Self.registerReview(engine, "r2")
            clock.advance(microseconds: 7 * 86_400_000_000)
            try await Self.registerReview(engine, "r1")
            try await engine.execute(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
            let other = try CaseEngineTests.engine(log, clock: clock)
            let ran = Mutex(false)
            engine.setBeforeAppend {
                guard
                    !ran.withLock({ done in
                        defer { done = true }
                        return done
                    })
                else { return }
                _ = try? await other.execute(.decideReview(.upheld), on: "r1", by: "review-officer")
            }
            let report = try await engine.tick(now: County.at(2025, 3, 11))
            #expect(report.cases == 1)
            #expect(ran.withLock { $0 })
            #expect(try engine.state(of: "r1")?.review?.outcome == .upheld)  // the lock was released
            let r2 = try #require(try engine.state(of: "r2"))
            #expect(r2.state == "accepted")
            let refusals = try log.read(stream: "case-r2", from: 1, direction: .forwards, limit: 100)
                .filter { $0.type == "automaticCommandRefused" }
            #expect(refusals.isEmpty)
        }
    }
}

@Suite struct CaseEngineEdgeTests {
    @Test("Concurrent retries with one idempotency key: one writes, the others get the first result")
    func idempotencyRace() async throws {
        try await CaseEngineTests.withEngine { engine, log, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
            let results = try await withThrowingTaskGroup(of: CaseEngine.Outcome.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await engine.execute(
                            .extendDeadline(
                                DeadlineExtension(
                                    deadline: "PM13.level", by: .months(1), consentingParties: County.bothParties)),
                            on: "c1", by: "m-v1", idempotencyKey: "extend-once")
                    }
                }
                var all: [CaseEngine.Outcome] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(results.filter { !$0.wasDuplicate }.count == 1)
            #expect(Set(results.map(\.positions)).count == 1)
            #expect(try engine.history(of: "c1").filter { $0.event.name == "deadlineExtended" }.count == 1)
            #expect(try log.verify().isValid)
        }
    }

    @Test("A key used on another case, or a case id the log cannot store, is a caller error, not a storage failure")
    func callerErrors() async throws {
        try await CaseEngineTests.withEngine { engine, _, _, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1",
                idempotencyKey: "k-1")
            do {
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c2", by: "m-v1",
                    idempotencyKey: "k-1")
                Issue.record("a key of another case was accepted")
            } catch {
                #expect((error as? WorkflowError)?.code == .invalidField, "\(error)")
            }
            do {
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")),
                    on: CaseID(String(repeating: "x", count: 300)), by: "m-v1")
                Issue.record("an over-long case id was accepted")
            } catch {
                #expect((error as? WorkflowError)?.code == .invalidField, "\(error)")
            }
        }
    }

    @Test("A case whose clock-fired command is refused does not stop the tick for the others")
    func tickSurvivesARefusedBreachCommand() async throws {
        try await CaseEngineTests.withEngine { engine, _, _, _ in
            let act = ReviewApplication(
                actReference: "act-1", respondent: "bureau", actDate: County.date(2025, 2, 20),
                knownOn: County.date(2025, 2, 20))
            func register(_ id: CaseID, _ application: ReviewApplication) async throws {
                try await ProceedingLockRaceTests.registerReview(engine, id, application)
            }
            try await register("r1", act)
            try await engine.execute(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
            try await engine.execute(.serveApplication(on: "bureau"), on: "r1", by: "review-officer")
            try await engine.execute(.recordRespondentAnswer, on: "r1", by: "review-officer")
            try await register("r2", act)
            var other = act
            other.actReference = "act-2"
            try await register("r3", other)
            let report = try await engine.tick(now: County.at(2025, 3, 12))
            #expect(report.cases == 2)
            #expect(try engine.state(of: "r3")?.state == "accepted")
            #expect(try engine.history(of: "r2").last?.event.name == "automaticCommandRefused")
            #expect(try await engine.tick(now: County.at(2025, 3, 13)).events == 0)
        }
    }

    @Test("Loading next year's calendar recounts provisional clocks at the next tick")
    func calendarUpdateRecounts() async throws {
        try await withTemporaryDirectory { dir in
            let log = try LMDBEventLog.open(at: dir.path)
            defer { log.close() }
            let clock = CaseEngineTests.clock(County.at(2026, 12, 28))
            let configuration = CaseEngine.Configuration(
                directory: County.directory, calendar: try HolidayCalendar.chinaMainland(beyondCoverage: .provisional),
                definitions: try DefinitionRegistry.national())
            let engine = CaseEngine(log: log, configuration: configuration, clock: clock, logger: Logger(label: "test"))
            try await engine.execute(
                .register(
                    County.registration(
                        .legalAid, unit: "aid", owner: "aid-staff", legalAid: LegalAidApplication(matter: .labour))),
                on: "a1", by: "aid-staff")
            #expect(try engine.state(of: "a1")?.deadline("LA6.decision")?.end.provisional == true)
            var years = try HolidayCalendar.chinaMainland().years
            for (year, entry) in try HolidayCalendar(yaml: CalendarCoverageTests.fictional2027Text).years {
                years[year] = entry
            }
            engine.updateCalendar(try HolidayCalendar(years: years))
            try await engine.tick(now: County.at(2026, 12, 29))
            let recounted = try #require(try engine.state(of: "a1")?.deadline("LA6.decision"))
            #expect(!recounted.end.provisional)
            #expect(recounted.dueAt == LegalTime.endOf(County.date(2027, 1, 5)))
        }
    }
}

enum CalendarCoverageTests {
    /// Test data, not an official notice: a made-up 2027 with 01-01…01-04 as rest days.
    static let fictional2027Text = """
        2027:
          rest_days: [2027-01-01, 2027-01-02, 2027-01-03, 2027-01-04]
          working_days: []
          notice: "test data"
        """
}

@Suite struct RecordHeaderTests {
    @Test("Every workflow event carries a binary header that places it without decoding the payload")
    func headersMatchTheRecords() async throws {
        try await CaseEngineTests.withEngine { engine, log, clock, _ in
            try await engine.execute(
                .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1", dispute: .labour)), on: "m1",
                by: "m-v1")
            try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "m1", by: "m-v1")
            try await engine.execute(
                .declareFailure(rightsNotice: "told", suggestedRoute: .labourArbitration), on: "m1", by: "m-v1")
            try await engine.execute(
                .refer(
                    Referral(route: .labourArbitration, newCase: "m1-arb", toUnit: "labour", toPerson: "labour-clerk")),
                on: "m1", by: "m-v1")
            try await engine.execute(.evaluate(rating: 4, comment: nil), on: "m1", by: "party:p-a")
            clock.advance(microseconds: 10 * 86_400_000_000)
            try await engine.tick()
            let decoder = JSONDecoder()
            var checked = 0
            for event in try log.read(from: 1, direction: .forwards, limit: 1_000)
            where event.streamID.hasPrefix("case-") {
                let header = try #require(RecordHeader(bytes: event.metadata), "no header at \(event.position)")
                let record = try decoder.decode(WorkflowRecord.self, from: Data(event.payload))
                #expect(header.at == record.at)
                let id = CaseID(String(event.streamID.dropFirst(5)))
                let final = try #require(try engine.state(of: id))
                #expect(header.kind == final.kind && header.division == final.division)
                switch record.event {
                case .evaluated(let rating, _):
                    #expect(header.rating == UInt8(rating) && header.evaluated && header.closed)
                case .deadlineSet(let d):
                    #expect(header.deadline == d.id && header.due == d.dueAt)
                case .registered(let registration, _, _):
                    #expect(header.parties == registration.parties && !header.parties.isEmpty)
                    #expect(header.links == (registration.links.isEmpty ? nil : registration.links))
                    #expect(header.hasLinks == !registration.links.isEmpty)
                case .referred(let route, let newCase, _):
                    #expect(header.state == "closed" && header.closed && header.unit == "v1")
                    #expect(header.route == route && header.links == [CaseLink(.referredTo, newCase)])
                default:
                    #expect(header.links == nil && header.route == nil && header.reviewOutcome == nil)
                }
                checked += 1
            }
            #expect(checked > 10)
            let last = try #require(
                try log.read(stream: "case-m1-arb", from: .max, direction: .backwards, limit: 1).first)
            let header = try #require(RecordHeader(bytes: last.metadata))
            #expect(header.kind == .labourArbitration && header.unit == "labour" && header.owner == "labour-clerk")
            #expect(RecordHeader(bytes: header.bytes) == header)
            #expect(RecordHeader(bytes: [UInt8]()) == nil)
            // Links, a route and a review outcome round-trip; a header written without those sections still reads.
            var full = header
            full.links = [CaseLink(.referredFrom, "m1"), CaseLink(.legalAid, "a7")]
            full.route = .administrativeAdjudication
            full.reviewOutcome = .dismissed
            #expect(RecordHeader(bytes: full.bytes) == full)
            var older = full
            older.links = nil
            older.route = nil
            older.reviewOutcome = nil
            #expect(RecordHeader(bytes: full.bytes.prefix(older.bytes.count)) == older)
            #expect(RecordHeader(bytes: full.bytes + [4, 200]) == nil, "an unknown route index is refused")
            #expect(RecordHeader(bytes: [2] + header.bytes.dropFirst()) == nil)
        }
    }
}
