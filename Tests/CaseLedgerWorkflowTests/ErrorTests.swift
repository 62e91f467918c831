import CaseLedger
import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Requirement 12: each kind of rejection has its own error, names the case, and writes nothing.
@Suite struct ErrorTests {
    @Test("Unknown case, wrong kind, missing field, no authority, unknown unit: each its own error")
    func distinctErrors() throws {
        var h = try makeHarness()
        expectRejected(.unknownCase) {
            try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "nope", by: "m-v1")
        }
        try h.mediating("c1")
        let before = h.histories["c1"]
        let wrongKind = expectRejected(.wrongKind) { try h.run(.approveAid, on: "c1", by: "m-v1") }
        #expect(wrongKind?.message.contains("peopleMediation") == true)
        #expect(wrongKind?.caseID == "c1")
        expectRejected(.missingField, rule: "PM10") {
            try h.run(.reachAgreement(form: .oral, terms: ""), on: "c1", by: "m-v1")
        }
        let noAuthority = expectRejected(.notAuthorized) {
            try h.run(.reachAgreement(form: .oral, terms: "x"), on: "c1", by: "outsider")
        }
        #expect(noAuthority?.message.contains("v1") == true)
        expectRejected(.unknownPerson) { try h.run(.reachAgreement(form: .oral, terms: "x"), on: "c1", by: "ghost") }
        expectRejected(.unknownUnit) {
            try h.run(.handOff(toUnit: "nowhere", toPerson: "m-v1", reason: "x"), on: "c1", by: "m-v1")
        }
        expectRejected(.transitionNotAllowed, rule: "PM11") {
            try h.run(.applyJudicialConfirmation(applicants: County.bothParties, court: "c"), on: "c1", by: "m-v1")
        }
        expectRejected(.caseExists) {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
        }
        expectRejected(.notAuthorized) {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v2")), on: "c2", by: "m-v1")
        }
        expectRejected(.notAuthorized) {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c2", by: "m-v2")
        }
        #expect(h.histories["c1"] == before)
        #expect(h.state("c2") == nil)
        // What a record header cannot carry is refused, not cut: over 255 parties, or a reference over 255 bytes.
        var crowd = County.registration(.peopleMediation, unit: "v1", owner: "m-v1")
        crowd.parties = (0..<256).map { Party(reference: "w\($0)", name: "Worker \($0)", role: .applicant) }
        let tooMany = expectRejected(.invalidField) { try h.run(.register(crowd), on: "c3", by: "m-v1") }
        #expect(tooMany?.message.contains("256 parties") == true)
        crowd.parties = Array(crowd.parties.prefix(255))
        try h.run(.register(crowd), on: "c3", by: "m-v1")
        var long = County.registration(.peopleMediation, unit: "v1", owner: "m-v1")
        long.parties[0] = Party(reference: String(repeating: "r", count: 256), name: "Zhang San", role: .applicant)
        expectRejected(.invalidField) { try h.run(.register(long), on: "c4", by: "m-v1") }
        #expect(h.state("c4") == nil)
        // A link to a case id over 255 bytes (allowed when stream ids may be longer) would be cut in the header too.
        try h.failed("c5")
        let failed = h.histories["c5"]
        let longLink = expectRejected(.invalidField) {
            try h.run(
                .refer(
                    Referral(
                        route: .civilLitigation, newCase: CaseID(String(repeating: "n", count: 256)), toUnit: "court",
                        toPerson: "court-clerk")), on: "c5", by: "m-v1")
        }
        #expect(longLink?.message.contains("255 bytes") == true)
        #expect(h.histories["c5"] == failed)
        try h.run(
            .refer(
                Referral(
                    route: .civilLitigation, newCase: CaseID(String(repeating: "n", count: 255)), toUnit: "court",
                    toPerson: "court-clerk")), on: "c5", by: "m-v1")
    }

    /// A directory may hold a unit or person whose id is longer than a record header carries (255 bytes): a case
    /// handed to them is refused, naming the id, instead of being stored with the id cut (the views would list the
    /// case under a unit or person that does not exist). Ids of 255 bytes pass.
    @Test func idsLongerThanAHeaderCarriesAreRefused() throws {
        var h = try makeHarness()
        for length in [255, 256] {
            let village = County.directory.unit("v1")
            let unit = UnitID(String(repeating: "u", count: length))
            let person = PersonID(String(repeating: "p", count: length))
            if let village {
                h.directory.add(
                    ServiceUnit(id: unit, name: "Long", kind: village.kind, division: village.division))
            }
            h.directory.add(Person(id: person, name: "Long", roles: [.mediator, .staff], units: [unit]))
        }
        let long = UnitID(String(repeating: "u", count: 256))
        let longPerson = PersonID(String(repeating: "p", count: 256))
        let error = expectRejected(.invalidField) {
            try h.run(
                .register(County.registration(.peopleMediation, unit: long, owner: longPerson)), on: "c1",
                by: longPerson)
        }
        #expect(error?.message.contains("256 bytes") == true)
        #expect(h.state("c1") == nil)
        // A long owner in a unit of ordinary length.
        h.directory.add(Person(id: longPerson, name: "Long", roles: [.mediator, .staff], units: [long, "v1"]))
        let longOwner = expectRejected(.invalidField) {
            try h.run(
                .register(County.registration(.peopleMediation, unit: "v1", owner: longPerson)), on: "c1",
                by: longPerson)
        }
        #expect(longOwner?.message.contains("owner's id") == true)
        // Handing an ordinary case over to the long unit is refused too, and leaves the case as it was.
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c2", by: "m-v1")
        let before = h.histories["c2"]
        let handedOff = expectRejected(.invalidField) {
            try h.run(.handOff(toUnit: long, toPerson: longPerson, reason: "moved"), on: "c2", by: "bureau-head")
        }
        #expect(handedOff?.message.contains("256 bytes") == true)
        let shortest = UnitID(String(repeating: "u", count: 255))
        let ordinary = PersonID(String(repeating: "p", count: 255))
        try h.run(
            .register(County.registration(.peopleMediation, unit: shortest, owner: ordinary)), on: "c3", by: ordinary)
        #expect(h.state("c3")?.unit == shortest)
        #expect(h.histories["c2"] == before)
    }

    @Test("A deadline past the calendar is an explicit error naming the rule, and the command writes nothing")
    func calendarNotCovered() throws {
        var h = try makeHarness(at: County.at(2026, 12, 28))
        let error = expectRejected(.calendarNotCovered, rule: "LA6") {
            try h.run(
                .register(
                    County.registration(
                        .legalAid, unit: "aid", owner: "aid-staff", legalAid: LegalAidApplication(matter: .labour))),
                on: "a1", by: "aid-staff")
        }
        #expect(error?.message.contains("2027") == true)
        #expect(h.state("a1") == nil)
    }

    @Test("Division codes: 12 digits, levels from trailing zero groups, parents and containment")
    func divisionCodes() throws {
        let village = try #require(DivisionCode("511124101001"))
        #expect(village.level == .village)
        #expect(village.parent == County.township1)
        #expect(village.ancestor(at: .county) == County.county)
        #expect(village.ancestor(at: .city) == County.city)
        #expect(County.county.contains(village))
        #expect(!County.township2.contains(village))
        #expect(DivisionCode("51112410100") == nil)
        #expect(DivisionCode("511124000001") == nil)  // a village under no township
        #expect(DivisionCode("00112400000a") == nil)
    }
}

/// The calendar-coverage policy: refuse by default, or count provisionally and recount once the year is loaded.
@Suite struct CalendarCoverageTests {
    /// Test data, not an official notice: a made-up 2027 with 01-01…01-04 as rest days.
    static let fictional2027 = """
        2027:
          rest_days: [2027-01-01, 2027-01-02, 2027-01-03, 2027-01-04]
          working_days: []
          notice: "test data"
        """

    @Test("With the provisional policy, a deadline past the calendar is counted with ordinary weeks and marked")
    func provisionalEnds() throws {
        let calendar = try HolidayCalendar.chinaMainland(beyondCoverage: .provisional)
        let end = try calendar.end(of: .days(7), from: County.at(2026, 12, 28))
        #expect(end.provisional)
        #expect(end.nominalLastDay == County.date(2027, 1, 4))
        #expect(end.dueAt == LegalTime.endOf(County.date(2027, 1, 4)))  // Monday: no holiday assumed
        #expect(try calendar.end(of: .days(7), from: County.at(2026, 12, 1)).provisional == false)
    }

    @Test("Provisional counting takes the holidays the law fixes by date as rest days; the notices always list them")
    func provisionalCountingKnowsTheFixedDateHolidays() throws {
        let shipped = try HolidayCalendar.chinaMainland()
        // Every shipped year's notice has them as rest days (2024 under the rules before the 2024 revision).
        for (year, _) in shipped.years {
            var day = try #require(CivilDate(year: year, month: 1, day: 1))
            while day.year == year {
                if HolidayCalendar.isFixedDateStatutoryHoliday(day) {
                    #expect(try shipped.isWorkingDay(day) == false, "\(day)")
                    #expect(try shipped.rollsForward(day), "\(day)")
                }
                day = day.adding(days: 1)
            }
        }
        let provisional = try HolidayCalendar.chinaMainland(beyondCoverage: .provisional)
        // Monday 2026-12-28 + 5 working days: 12-29, 12-30, 12-31, (New Year's Day), 01-04, 01-05.
        let fiveDays = try provisional.end(of: .workingDays(5), from: County.at(2026, 12, 28))
        #expect(fiveDays.provisional && fiveDays.nominalLastDay == County.date(2027, 1, 5))
        // A period whose last day is National Day rolls past the three days (and the weekend after).
        let toOctober = try provisional.end(of: .days(30), from: County.at(2027, 9, 1))
        #expect(toOctober.provisional && toOctober.dueAt == LegalTime.endOf(County.date(2027, 10, 4)))
        #expect(try provisional.isWorkingDay(County.date(2027, 5, 3)))
        #expect(try provisional.isWorkingDay(County.date(2027, 5, 2)) == false)
    }

    @Test("A provisional clock is recounted by the next tick once its year is loaded")
    func recountAfterLoadingTheYear() throws {
        var h = try makeHarness(at: County.at(2026, 12, 28))
        h.calendar = try HolidayCalendar.chinaMainland(beyondCoverage: .provisional)
        try h.run(
            .register(
                County.registration(
                    .legalAid, unit: "aid", owner: "aid-staff", legalAid: LegalAidApplication(matter: .labour))),
            on: "a1", by: "aid-staff")
        let provisional = try #require(h.state("a1")?.deadline("LA6.decision"))
        #expect(provisional.end.provisional)
        // The notice for 2027 arrives: merge it into the calendar.
        var years = h.calendar.years
        for (year, entry) in try HolidayCalendar(yaml: Self.fictional2027).years { years[year] = entry }
        h.calendar = try HolidayCalendar(years: years)
        h.advance(days: 1)
        try h.tick()
        let recounted = try #require(h.state("a1")?.deadline("LA6.decision"))
        #expect(!recounted.end.provisional)
        #expect(recounted.dueAt == LegalTime.endOf(County.date(2027, 1, 5)))  // 01-04 is now a rest day
        #expect(h.events("a1").contains("deadlineRecounted"))
        #expect(try h.tick().isEmpty)  // recounted once
    }

    @Test("A breach whose command would start a clock past the calendar waits, and fires once the year is loaded")
    func aBreachWaitsForTheCalendar() throws {
        var h = try makeHarness(at: County.at(2026, 12, 17))
        try ReviewRuleTests.register(&h, "r1", ReviewRuleTests.application(known: County.date(2026, 10, 20)))
        // Thursday 12-17 + 5 working days = Thursday 12-24.
        #expect(h.state("r1")?.deadline("AR5.acceptance")?.dueAt == LegalTime.endOf(County.date(2026, 12, 24)))
        // The deemed acceptance would start AR7's 60 days, which end in 2027: nothing is written, nothing is lost.
        h.now = County.at(2026, 12, 28)
        #expect(try h.tick().isEmpty)
        #expect(h.state("r1")?.state == "received")
        #expect(h.state("r1")?.deadline("AR5.acceptance")?.status == .running)
        #expect(try h.tick().isEmpty)
        // Meanwhile no person's command decides on as if the check had not run out (a refusal now would be late).
        expectRejected(.calendarNotCovered, rule: "AR5") {
            try h.run(.refuseFiling(reasons: "out of time"), on: "r1", by: "review-officer")
        }
        // The notice for 2027 arrives.
        var years = h.calendar.years
        for (year, entry) in try HolidayCalendar(yaml: Self.fictional2027).years { years[year] = entry }
        h.calendar = try HolidayCalendar(years: years)
        h.now = County.at(2027, 1, 5)
        try h.tick()
        let state = try #require(h.state("r1"))
        #expect(state.state == "accepted" && state.review?.deemedAccepted == true)
        // Counted from the acceptance check's end, not from the late tick: 12-24 + 60 days = Monday 2027-02-22.
        #expect(state.deadline("AR7.standard")?.dueAt == LegalTime.endOf(County.date(2027, 2, 22)))
        #expect(!h.events("r1").contains("automaticCommandRefused"))
        #expect(h.events("r1").filter { $0 == "deadlineBreached" }.count >= 1)
    }
}

@Suite struct InputSafetyTests {
    @Test("Time never runs backwards for a case: an earlier clock cannot shorten a paused period")
    func monotonicTime() throws {
        var h = try makeHarness()
        try h.run(
            .register(
                County.registration(
                    .legalAid, unit: "aid", owner: "aid-staff", legalAid: LegalAidApplication(matter: .labour))),
            on: "a1", by: "aid-staff")
        let before = try #require(h.state("a1")?.deadline("LA6.decision")?.end)
        h.now = County.at(2025, 3, 5)
        try h.run(.requestMaterials(missing: ["ID card"]), on: "a1", by: "aid-staff")
        h.now = County.at(2025, 3, 4)  // a skewed clock
        try h.run(.supplyMaterials, on: "a1", by: "aid-staff")
        let after = try #require(h.state("a1")?.deadline("LA6.decision")?.end)
        #expect(after.nominalLastDay == before.nominalLastDay)
        #expect(h.histories["a1"]?.last?.at == County.at(2025, 3, 5))
    }

    @Test("Implausible instants and numbers are refused before any date arithmetic")
    func implausibleInputs() throws {
        var h = try makeHarness()
        let far = Instant(microsecondsSinceEpoch: .min)
        expectRejected(.invalidField, rule: "LA7") {
            try h.run(
                .register(
                    County.registration(
                        .legalAid, unit: "aid", owner: "aid-staff",
                        legalAid: LegalAidApplication(matter: .labour, linkedDeadline: far))),
                on: "a1", by: "aid-staff")
        }
        expectRejected(.invalidField) {
            try h.run(
                .register(
                    County.registration(
                        .peopleMediation, unit: "v1", owner: "m-v1", receivedAt: Instant(microsecondsSinceEpoch: .max))),
                on: "c1", by: "m-v1")
        }
        var review = ReviewRuleTests.application()
        review.obstacleDays = .max
        expectRejected(.invalidField, rule: "AR1") {
            try ReviewRuleTests.register(&h, "r1", review)
        }
        review = ReviewRuleTests.application()
        review.statutoryWindowDays = 30
        expectRejected(.invalidField, rule: "AR1") { try ReviewRuleTests.register(&h, "r2", review) }
        try ArbitrationRuleTests.labourCase(&h, "l1")
        try h.run(.acceptArbitration, on: "l1", by: "labour-clerk")
        try h.run(.recordArbitralMediation(succeeded: false, statement: ""), on: "l1", by: "labour-clerk")
        expectRejected(.invalidField, rule: "LD11") {
            try h.run(
                .issueAward(Award(items: [AwardItem(amountYuan: 1)], monthlyMinimumWageYuan: .max / 2, summary: "")),
                on: "l1", by: "labour-clerk")
        }
    }
}

/// Requirement 2: every kind is registered the same way whatever the channel, and the channel is recorded.
@Suite struct RegistrationTests {
    static let units: [CaseKind: (UnitID, PersonID, DisputeType)] = [
        .peopleMediation: ("v1", "m-v1", .neighbour), .labourMediation: ("v1", "m-v1", .labour),
        .legalAid: ("aid", "aid-staff", .labour),
        .administrativeReview: ("review", "review-officer", .administrativeAct),
        .labourArbitration: ("labour", "labour-clerk", .labour),
        .commercialArbitration: ("arbitration", "arb-clerk", .contract),
        .litigation: ("court", "court-clerk", .debt), .consultation: ("hotline", "hotline-agent", .other),
    ]

    @Test(
        "PM6, WO1: every kind registers from every channel, court and police referrals included, and keeps the channel",
        arguments: CaseKind.allCases)
    func everyKindFromEveryChannel(kind: CaseKind) throws {
        var h = try makeHarness()
        let (unit, owner, dispute) = try #require(Self.units[kind])
        for channel in Channel.allCases {
            let id = CaseID("\(kind)-\(channel)")
            try h.run(
                .register(
                    County.registration(
                        kind, unit: unit, owner: owner, dispute: dispute, channel: channel,
                        legalAid: kind == .legalAid ? LegalAidApplication(matter: .labour) : nil,
                        review: kind == .administrativeReview
                            ? ReviewApplication(
                                actReference: "act-\(channel)", respondent: "r", actDate: County.date(2025, 2, 20),
                                knownOn: County.date(2025, 2, 20))
                            : nil)),
                on: id, by: owner)
            let state = try #require(h.state(id))
            #expect(state.channel == channel)
            #expect(state.unit == unit && state.owner == owner)  // first-inquiry responsibility from registration on
            #expect(h.events(id).first == "registered")
        }
    }
}
