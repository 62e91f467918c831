import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// People's mediation (PM rules) and the escalation ladder.
@Suite struct MediationRuleTests {
    @Test("PM4: a party's refusal blocks mediation, a party may end it at any time, escalation needs consent")
    func pm4() throws {
        var h = try makeHarness()
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
        try h.run(.refuseMediation(party: "p-b"), on: "c1", by: "m-v1")
        let before = h.histories["c1"]?.count
        expectRejected(.ruleViolation, rule: "PM4") {
            try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "c1", by: "m-v1")
        }
        #expect(h.histories["c1"]?.count == before)  // nothing written
        expectRejected(.invalidField, rule: "PM4") {
            try h.run(.refuseMediation(party: "nobody"), on: "c1", by: "m-v1")
        }

        try h.mediating("c2")
        try h.run(.endMediationAtPartyRequest(party: "p-a"), on: "c2", by: "m-v1")
        #expect(h.state("c2")?.state == "terminated")
        #expect(h.state("c2")?.endedBy == "p-a")
        // A risk move to the county does not override the party's ending: mediation does not restart.
        try h.run(
            .flagRisk(
                RiskReport(
                    risk: .massIncident, note: "crowd", government: "Township 1 government", police: nil,
                    toUnit: "centre", toPerson: "m-county")),
            on: "c2", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM4") {
            try h.run(.startMediation(mediators: ["m-county"], chosenByParties: false), on: "c2", by: "m-county")
        }

        try h.failed("c3")
        expectRejected(.ruleViolation, rule: "PM4") {
            try h.run(
                .escalate(
                    Escalation(toUnit: "t1", toPerson: "m-t1", reason: .failedAtLevel, consentingParties: ["p-a"])),
                on: "c3", by: "m-v1")
        }
    }

    @Test("PM2: mediators must be mediators of the handling committee")
    func pm2() throws {
        var h = try makeHarness()
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM2") {
            try h.run(.startMediation(mediators: ["m-v2"], chosenByParties: false), on: "c1", by: "m-v1")
        }
        expectRejected(.ruleViolation, rule: "PM2") {
            try h.run(.startMediation(mediators: ["clerk-v1"], chosenByParties: false), on: "c1", by: "m-v1")
        }
        expectRejected(.unknownPerson, rule: "PM2") {
            try h.run(.startMediation(mediators: ["ghost"], chosenByParties: false), on: "c1", by: "m-v1")
        }
    }

    @Test("PM3: the committee assigns one or more mediators, or the parties choose them")
    func pm3() throws {
        var h = try makeHarness()
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
        expectRejected(.missingField, rule: "PM3") {
            try h.run(.startMediation(mediators: [], chosenByParties: true), on: "c1", by: "m-v1")
        }
        try h.run(.startMediation(mediators: ["m-v1", "m-v1b"], chosenByParties: true), on: "c1", by: "m-v1")
        #expect(h.state("c1")?.mediators == ["m-v1", "m-v1b"])
        guard
            case .mediationStarted(_, let chosen) = h.histories["c1"]?.last(where: {
                $0.event.name == "mediationStarted"
            })?.event
        else {
            Issue.record("no mediationStarted event")
            return
        }
        #expect(chosen)
    }

    @Test("PM7: a risk flag records the government and police reports as events and moves the case to the top level")
    func pm7() throws {
        var h = try makeHarness()
        try h.mediating("c1")
        expectRejected(.missingField, rule: "PM7") {
            try h.run(
                .flagRisk(
                    RiskReport(
                        risk: .crime, note: "threats", government: "Township 1 government", police: nil,
                        toUnit: "centre", toPerson: "m-county")),
                on: "c1", by: "m-v1")
        }
        expectRejected(.ruleViolation, rule: "PM7") {
            try h.run(
                .flagRisk(
                    RiskReport(
                        risk: .massIncident, note: "crowd", government: "Township 1 government", police: nil,
                        toUnit: "t1", toPerson: "m-t1")),
                on: "c1", by: "m-v1")
        }
        try h.run(
            .flagRisk(
                RiskReport(
                    risk: .crime, note: "threats", government: "Township 1 government",
                    police: "Township 1 police station", toUnit: "centre", toPerson: "m-county")),
            on: "c1", by: "m-v1")
        let state = try #require(h.state("c1"))
        #expect(state.level == .county)
        #expect(state.unit == "centre")
        #expect(state.owner == "m-county")
        #expect(state.reportedToGovernment && state.reportedToPolice)
        #expect(state.state == "awaitingMediation")
        let names = h.events("c1")
        #expect(names.suffix(5).starts(with: ["riskFlagged", "reportedToGovernment", "reportedToPolice", "escalated"]))
        // The report times are the events' times.
        #expect(h.histories["c1"]?.last(where: { $0.event.name == "reportedToPolice" })?.at == h.now)
        // At the top, nothing escalates further.
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(
                .escalate(
                    Escalation(
                        toUnit: "centre", toPerson: "m-county", reason: .complex, consentingParties: County.bothParties)
                ),
                on: "c1", by: "m-county")
        }
    }

    @Test("PM8: failure needs the rights notice and a route open for the dispute")
    func pm8() throws {
        var h = try makeHarness()
        try h.mediating("c1", dispute: .marriage)
        expectRejected(.missingField, rule: "PM8") {
            try h.run(.declareFailure(rightsNotice: "", suggestedRoute: .civilLitigation), on: "c1", by: "m-v1")
        }
        expectRejected(.ruleViolation, rule: "CA1") {
            try h.run(
                .declareFailure(rightsNotice: "told", suggestedRoute: .commercialArbitration), on: "c1", by: "m-v1")
        }
        try h.run(
            .declareFailure(rightsNotice: "told of court", suggestedRoute: .civilLitigation), on: "c1", by: "m-v1")
        #expect(h.state("c1")?.state == "failed")
        #expect(h.state("c1")?.failure == .civilLitigation)
    }

    @Test("PM9: a case file starts with its registration and closes with an outcome")
    func pm9() throws {
        var h = try makeHarness()
        try h.failed("c1")
        expectRejected(.missingField, rule: "PM8") { try h.run(.close(outcome: ""), on: "c1", by: "m-v1") }
        try h.run(.close(outcome: "parties declined referral"), on: "c1", by: "m-v1")
        #expect(h.events("c1").first == "registered")
        #expect(h.state("c1")?.outcome == "parties declined referral")
        #expect(h.state("c1")?.closedAt == h.now)
    }

    @Test(
        "PM10: a written agreement takes effect at the last of the parties', the mediator's and the seal's signatures")
    func pm10() throws {
        var h = try makeHarness()
        try h.mediating("c1")
        try h.run(.reachAgreement(form: .written, terms: "repair the wall"), on: "c1", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM10") { try h.run(.close(outcome: "performed"), on: "c1", by: "m-v1") }
        try h.run(.signAgreement(.party("p-a")), on: "c1", by: "m-v1")
        try h.run(.signAgreement(.mediator("m-v1")), on: "c1", by: "m-v1")
        expectRejected(.invalidField, rule: "PM10") { try h.run(.signAgreement(.party("p-a")), on: "c1", by: "m-v1") }
        expectRejected(.ruleViolation, rule: "PM10") {
            try h.run(.signAgreement(.mediator("m-v1b")), on: "c1", by: "m-v1")
        }
        h.advance(days: 1)
        try h.run(.signAgreement(.committeeSeal), on: "c1", by: "m-v1")
        #expect(h.state("c1")?.agreement?.effectiveAt == nil)
        h.advance(days: 1)
        try h.run(.signAgreement(.party("p-b")), on: "c1", by: "m-v1")
        #expect(h.state("c1")?.agreement?.effectiveAt == h.now)
        #expect(h.state("c1")?.deadline("PM11.confirmation")?.status == .running)
        try h.run(.close(outcome: "agreement performed"), on: "c1", by: "m-v1")

        try h.mediating("c2")
        try h.run(.reachAgreement(form: .oral, terms: "apology"), on: "c2", by: "m-v1")
        #expect(h.state("c2")?.agreement?.effectiveAt == h.now)
        expectRejected(.ruleViolation, rule: "PM10") { try h.run(.signAgreement(.party("p-a")), on: "c2", by: "m-v1") }
    }

    @Test("PM11: judicial confirmation is a joint application within 30 days of effect, not for excluded matters")
    func pm11() throws {
        var h = try makeHarness()
        try h.mediating("c1")
        try h.run(.reachAgreement(form: .oral, terms: "pay 500 yuan"), on: "c1", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM11") {
            try h.run(.applyJudicialConfirmation(applicants: ["p-a"], court: "County court"), on: "c1", by: "m-v1")
        }
        try h.run(
            .applyJudicialConfirmation(applicants: County.bothParties, court: "County court"), on: "c1", by: "m-v1")
        #expect(h.state("c1")?.agreement?.judicialConfirmationAppliedAt == h.now)
        #expect(h.state("c1")?.deadline("PM11.confirmation")?.status == .stopped)

        // 31 days later the window is closed (30 days from 2025-03-03 end at 24:00 on 2025-04-02).
        try h.mediating("c2")
        try h.run(.reachAgreement(form: .oral, terms: "pay 500 yuan"), on: "c2", by: "m-v1")
        h.advance(days: 31)
        expectRejected(.ruleViolation, rule: "PM11") {
            try h.run(
                .applyJudicialConfirmation(applicants: County.bothParties, court: "County court"), on: "c2", by: "m-v1")
        }

        var m = try makeHarness()
        try m.mediating("c3", dispute: .marriage)
        try m.run(.reachAgreement(form: .oral, terms: "divorce terms"), on: "c3", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM11") {
            try m.run(
                .applyJudicialConfirmation(applicants: County.bothParties, court: "County court"), on: "c3", by: "m-v1")
        }
    }

    @Test("PM12: one level up with consent; a jump needs a risk flag or a major-or-complex mark; nothing above the top")
    func pm12() throws {
        var h = try makeHarness()
        try h.failed("c1")
        let error = expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(
                .escalate(
                    Escalation(
                        toUnit: "centre", toPerson: "m-county", reason: .failedAtLevel,
                        consentingParties: County.bothParties)),
                on: "c1", by: "m-v1")
        }
        #expect(error?.message.contains("village level; a jump to county needs a risk flag") == true)
        #expect(error?.caseID == "c1")
        // A township that does not cover the dispute's place is refused.
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(
                .escalate(
                    Escalation(
                        toUnit: "t2", toPerson: "m-t2", reason: .failedAtLevel, consentingParties: County.bothParties)),
                on: "c1", by: "m-v1")
        }
        try h.run(
            .escalate(
                Escalation(
                    toUnit: "t1", toPerson: "m-t1", reason: .failedAtLevel, consentingParties: County.bothParties)),
            on: "c1", by: "m-v1")
        var state = try #require(h.state("c1"))
        #expect(
            state.level == .township && state.unit == "t1" && state.owner == "m-t1"
                && state.state == "awaitingMediation")
        // The village mediator has no authority any more.
        expectRejected(.notAuthorized) {
            try h.run(.startMediation(mediators: ["m-t1"], chosenByParties: false), on: "c1", by: "m-v1")
        }
        // Complex at township: one more level, to the county.
        try h.run(
            .escalate(
                Escalation(
                    toUnit: "centre", toPerson: "m-county", reason: .complex, consentingParties: County.bothParties)),
            on: "c1", by: "m-t1")
        state = try #require(h.state("c1"))
        #expect(state.level == .county)
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(
                .escalate(
                    Escalation(
                        toUnit: "centre", toPerson: "m-county", reason: .complex, consentingParties: County.bothParties)
                ),
                on: "c1", by: "m-county")
        }
        // Major or complex: village straight to county, once marked.
        try h.mediating("c2")
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(
                .escalate(
                    Escalation(
                        toUnit: "centre", toPerson: "m-county", reason: .majorOrComplex,
                        consentingParties: County.bothParties)),
                on: "c2", by: "m-v1")
        }
        try h.run(.markMajorOrComplex(reason: "land of 40 households"), on: "c2", by: "m-v1")
        try h.run(
            .escalate(
                Escalation(
                    toUnit: "centre", toPerson: "m-county", reason: .majorOrComplex,
                    consentingParties: County.bothParties)),
            on: "c2", by: "m-v1")
        #expect(h.state("c2")?.level == .county)
        // A hand-off keeps the level.
        try h.mediating("c3")
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(.handOff(toUnit: "t1", toPerson: "m-t1", reason: "busy"), on: "c3", by: "m-v1")
        }
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(.handOff(toUnit: "v3", toPerson: "m-v3", reason: "busy"), on: "c3", by: "m-v1")
        }
        try h.run(.handOff(toUnit: "v1", toPerson: "m-v1b", reason: "leave"), on: "c3", by: "m-v1")
        #expect(h.state("c3")?.owner == "m-v1b")
    }

    @Test("PM13: the one-month soft limit warns, then raises an overdue alert; extension needs every party's consent")
    func pm13() throws {
        var h = try makeHarness()
        try h.mediating("c1")
        let due = try #require(h.state("c1")?.deadline("PM13.level")?.dueAt)
        #expect(due == LegalTime.endOf(County.date(2025, 4, 3)))
        h.now = County.at(2025, 4, 1)
        try h.tick()
        #expect(h.events("c1").last == "deadlineApproaching")
        h.now = County.at(2025, 4, 4)
        try h.tick()
        #expect(h.events("c1").last == "deadlineBreached")
        #expect(h.state("c1")?.state == "mediating")  // a soft limit: no automatic move
        #expect(try h.tick().isEmpty)  // fired once
        expectRejected(.ruleViolation, rule: "PM13") {
            try h.run(
                .extendDeadline(DeadlineExtension(deadline: "PM13.level", by: .months(1), consentingParties: ["p-a"])),
                on: "c1", by: "m-v1")
        }
        try h.run(
            .extendDeadline(
                DeadlineExtension(deadline: "PM13.level", by: .months(1), consentingParties: County.bothParties)),
            on: "c1", by: "m-v1")
        #expect(h.state("c1")?.deadline("PM13.level")?.status == .running)
        #expect(h.state("c1")?.deadline("PM13.level")?.dueAt == LegalTime.endOf(County.date(2025, 5, 6)))
    }

    @Test("LD4: labour mediation opens arbitration after 15 days without agreement, and does not close by itself")
    func ld4() throws {
        var h = try makeHarness()
        try h.mediating("c1", kind: .labourMediation, dispute: .labour)
        let referral = Referral(
            route: .labourArbitration, newCase: "c1-arb", toUnit: "labour", toPerson: "labour-clerk")
        expectRejected(.ruleViolation, rule: "LD4") { try h.run(.refer(referral), on: "c1", by: "m-v1") }
        h.advance(days: 16)
        try h.tick()
        #expect(h.state("c1")?.openedRoutes == ["arbitration"])
        #expect(h.state("c1")?.state == "mediating")
        try h.run(.refer(referral), on: "c1", by: "m-v1")
        #expect(h.state("c1-arb")?.kind == .labourArbitration)
        #expect(h.state("c1")?.state == "closed")
    }

    @Test("LD1: labour mediation and arbitration take labour disputes only")
    func ld1() throws {
        var h = try makeHarness()
        expectRejected(.ruleViolation, rule: "LD1") {
            try h.run(
                .register(County.registration(.labourMediation, unit: "v1", owner: "m-v1", dispute: .debt)), on: "c1",
                by: "m-v1")
        }
        #expect(h.state("c1") == nil)
    }
}

@Suite struct MediationEdgeTests {
    @Test("PM4: consenting to go on at the next level withdraws a party's earlier refusal")
    func pm4RefusalWithdrawnByConsent() throws {
        var h = try makeHarness()
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
        try h.run(.refuseMediation(party: "p-a"), on: "c1", by: "m-v1")
        try h.run(
            .escalate(
                Escalation(toUnit: "t1", toPerson: "m-t1", reason: .complex, consentingParties: County.bothParties)),
            on: "c1", by: "m-v1")
        #expect(h.state("c1")?.refusedBy.isEmpty == true)
        try h.run(.startMediation(mediators: ["m-t1"], chosenByParties: false), on: "c1", by: "m-t1")
        #expect(h.state("c1")?.state == "mediating")
    }
}
