import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Labour arbitration (LD), commercial arbitration (CA), litigation (LT), work orders (WO), routing and evaluation.
@Suite struct ArbitrationRuleTests {
    static func labourCase(_ h: inout WorkflowHarness, _ id: CaseID) throws {
        try h.run(
            .register(County.registration(.labourArbitration, unit: "labour", owner: "labour-clerk", dispute: .labour)),
            on: id, by: "labour-clerk")
    }

    @Test("LD7: accept within 5 days; if the commission does not decide, litigation opens")
    func ld7() throws {
        var h = try makeHarness()
        try Self.labourCase(&h, "l1")
        #expect(h.state("l1")?.deadline("LD7.acceptance")?.end.nominalLastDay == County.date(2025, 3, 8))
        h.now = County.at(2025, 3, 11)  // Saturday 03-08 rolled to Monday 03-10
        try h.tick()
        #expect(h.state("l1")?.openedRoutes == ["litigation"])
        try Self.labourCase(&h, "l2")
        try h.run(.refuseArbitration(reasons: "not a labour relation"), on: "l2", by: "labour-clerk")
        #expect(h.state("l2")?.openedRoutes == ["litigation"])
    }

    @Test("LD9: the tribunal tries mediation before any award")
    func ld9() throws {
        var h = try makeHarness()
        try Self.labourCase(&h, "l1")
        try h.run(.acceptArbitration, on: "l1", by: "labour-clerk")
        let award = Award(items: [AwardItem(amountYuan: 8_000)], monthlyMinimumWageYuan: 2_000, summary: "wages")
        expectRejected(.transitionNotAllowed) { try h.run(.issueAward(award), on: "l1", by: "labour-clerk") }
        expectRejected(.missingField, rule: "LD9") {
            try h.run(.recordArbitralMediation(succeeded: true, statement: ""), on: "l1", by: "labour-clerk")
        }
        try h.run(.recordArbitralMediation(succeeded: false, statement: ""), on: "l1", by: "labour-clerk")
        try h.run(.issueAward(award), on: "l1", by: "labour-clerk")
        #expect(h.state("l1")?.state == "awarded")
        try Self.labourCase(&h, "l2")
        try h.run(.acceptArbitration, on: "l2", by: "labour-clerk")
        try h.run(
            .recordArbitralMediation(succeeded: true, statement: "employer pays 6,000 yuan"), on: "l2",
            by: "labour-clerk")
        #expect(h.state("l2")?.state == "closed")
    }

    @Test(
        "LD10: award within 45 days of acceptance, one extension of up to 15 with the chair's approval; overrun opens litigation"
    )
    func ld10() throws {
        var h = try makeHarness()
        try Self.labourCase(&h, "l1")
        try h.run(.acceptArbitration, on: "l1", by: "labour-clerk")
        #expect(h.state("l1")?.deadline("LD10.award")?.end.nominalLastDay == County.date(2025, 4, 17))
        let ext = DeadlineExtension(
            deadline: "LD10.award", by: .days(16), approver: "labour-chair", noticeSentAt: h.now)
        expectRejected(.ruleViolation, rule: "LD10") { try h.run(.extendDeadline(ext), on: "l1", by: "labour-clerk") }
        // Only the commission's chair approves: not the county justice bureau's head, who may act for the commission.
        #expect(County.directory.mayAct("bureau-head", for: "labour"))
        expectRejected(.ruleViolation, rule: "LD10") {
            try h.run(
                .extendDeadline(
                    DeadlineExtension(
                        deadline: "LD10.award", by: .days(15), approver: "bureau-head", noticeSentAt: h.now)),
                on: "l1", by: "labour-clerk")
        }
        try h.run(
            .extendDeadline(
                DeadlineExtension(deadline: "LD10.award", by: .days(15), approver: "labour-chair", noticeSentAt: h.now)),
            on: "l1", by: "labour-clerk")
        #expect(h.state("l1")?.deadline("LD10.award")?.end.nominalLastDay == County.date(2025, 5, 2))
        h.now = County.at(2025, 5, 7)  // 05-02 is in the Labour Day holiday: rolled to 05-06
        try h.tick()
        #expect(h.state("l1")?.openedRoutes == ["litigation"])
        guard
            case .litigationOpened(let rule) = h.histories["l1"]?.last(where: { $0.event.name == "litigationOpened" })?
                .event
        else {
            Issue.record("no litigationOpened")
            return
        }
        #expect(rule == "LD10")
    }

    @Test(
        "LD11: final awards (each item ≤ 12 × monthly minimum wage, or labour standards) and their asymmetric windows")
    func ld11() throws {
        #expect(Award(items: [AwardItem(amountYuan: 24_000)], monthlyMinimumWageYuan: 2_000, summary: "").isFinal)
        #expect(!Award(items: [AwardItem(amountYuan: 24_001)], monthlyMinimumWageYuan: 2_000, summary: "").isFinal)
        #expect(
            Award(
                items: [AwardItem(amountYuan: 20_000), AwardItem(amountYuan: nil, labourStandards: true)],
                monthlyMinimumWageYuan: 2_000, summary: ""
            ).isFinal)
        #expect(
            !Award(
                items: [AwardItem(amountYuan: 20_000), AwardItem(amountYuan: 90_000)], monthlyMinimumWageYuan: 2_000,
                summary: ""
            ).isFinal)
        var h = try makeHarness()
        for (id, amount) in [("final", 10_000), ("nonfinal", 100_000)] {
            try Self.labourCase(&h, CaseID(id))
            try h.run(.acceptArbitration, on: CaseID(id), by: "labour-clerk")
            try h.run(.recordArbitralMediation(succeeded: false, statement: ""), on: CaseID(id), by: "labour-clerk")
            var award = Award(items: [AwardItem(amountYuan: amount)], monthlyMinimumWageYuan: 2_000, summary: "")
            award.isFinal = amount > 50_000  // a wrong claim in the command is recomputed
            try h.run(.issueAward(award), on: CaseID(id), by: "labour-clerk")
        }
        #expect(h.state("final")?.award?.isFinal == true)
        #expect(h.state("final")?.deadline("LD11.setAside") != nil)
        #expect(h.state("final")?.deadline("LD11.suit")?.end.nominalLastDay == County.date(2025, 3, 18))
        #expect(h.state("nonfinal")?.award?.isFinal == false)
        #expect(h.state("nonfinal")?.deadline("LD11.setAside") == nil)
        expectRejected(.missingField, rule: "LD11") {
            try Self.labourCase(&h, "l3")
            try h.run(.acceptArbitration, on: "l3", by: "labour-clerk")
            try h.run(.recordArbitralMediation(succeeded: false, statement: ""), on: "l3", by: "labour-clerk")
            try h.run(
                .issueAward(Award(items: [], monthlyMinimumWageYuan: 0, summary: "")), on: "l3", by: "labour-clerk")
        }
    }

    @Test("LD2 and routing: labour disputes go to labour arbitration before any court")
    func ld2() throws {
        var h = try makeHarness()
        try h.failed("m1", dispute: .labour, route: .labourArbitration)
        expectRejected(.ruleViolation, rule: "LD2") {
            try h.run(
                .refer(Referral(route: .civilLitigation, newCase: "x", toUnit: "court", toPerson: "court-clerk")),
                on: "m1", by: "m-v1")
        }
        try h.run(
            .refer(
                Referral(
                    route: .civilLitigation, newCase: "x", toUnit: "court", toPerson: "court-clerk",
                    exception: "wage IOU (SPC Interp I Art 15)")),
            on: "m1", by: "m-v1")
        #expect(h.state("x")?.kind == .litigation)
    }

    @Test("ROUTING: a referral creates the linked case atomically with the closing, with legal aid attached")
    func routing() throws {
        var h = try makeHarness()
        try h.failed("m1", dispute: .labour, route: .labourArbitration)
        let aid = AidAttachment(
            aidCase: "m1-aid", centre: "aid", owner: "aid-staff",
            application: LegalAidApplication(
                matter: .labour, exemption: .migrantWorkerWages, exemptionEvidence: "wage list"))
        let decision = try h.run(
            .refer(
                Referral(
                    route: .labourArbitration, newCase: "m1-arb", toUnit: "labour", toPerson: "labour-clerk",
                    legalAid: aid)),
            on: "m1", by: "m-v1")
        #expect(decision.cases.map(\.caseID) == ["m1", "m1-arb", "m1-aid"])
        #expect(decision.cases.map(\.expectedVersion) == [h.histories["m1"].map { UInt64($0.count) - 3 } ?? 0, 0, 0])
        #expect(h.state("m1")?.state == "closed")
        #expect(h.state("m1")?.outcome == "failed, referred to labourArbitration")
        #expect(h.state("m1")?.links.contains(CaseLink(.referredTo, "m1-arb")) == true)
        #expect(h.state("m1-arb")?.links.contains(CaseLink(.referredFrom, "m1")) == true)
        #expect(h.state("m1-arb")?.links.contains(CaseLink(.legalAid, "m1-aid")) == true)
        #expect(h.state("m1-aid")?.legalAid?.application.forCase == "m1-arb")
        #expect(h.state("m1-arb")?.channel == .internalReferral)
        // Family disputes never go to arbitration; with an arbitration agreement civil disputes go to arbitration.
        var f = try makeHarness()
        try f.failed("m2", dispute: .succession)
        expectRejected(.ruleViolation, rule: "CA1") {
            try f.run(
                .refer(
                    Referral(route: .commercialArbitration, newCase: "y", toUnit: "arbitration", toPerson: "arb-clerk")),
                on: "m2", by: "m-v1")
        }
        try f.run(
            .register(
                County.registration(
                    .peopleMediation, unit: "v1", owner: "m-v1", dispute: .contract, arbitrationAgreement: true)),
            on: "m3", by: "m-v1")
        try f.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "m3", by: "m-v1")
        expectRejected(.ruleViolation, rule: "CA2") {
            try f.run(.declareFailure(rightsNotice: "told", suggestedRoute: .civilLitigation), on: "m3", by: "m-v1")
        }
        try f.run(.declareFailure(rightsNotice: "told", suggestedRoute: .commercialArbitration), on: "m3", by: "m-v1")
        try f.run(
            .refer(Referral(route: .commercialArbitration, newCase: "z", toUnit: "arbitration", toPerson: "arb-clerk")),
            on: "m3", by: "m-v1")
        #expect(f.state("z")?.arbitrationAgreement == true)
        // A referral into an existing case id is refused and writes nothing.
        try f.failed("m4")
        expectRejected(.caseExists) {
            try f.run(
                .refer(Referral(route: .civilLitigation, newCase: "z", toUnit: "court", toPerson: "court-clerk")),
                on: "m4", by: "m-v1")
        }
        #expect(f.state("m4")?.state == "failed")
    }

    @Test("CA1, CA2: the commission accepts arbitrable disputes with an agreement only")
    func ca1ca2() throws {
        var h = try makeHarness()
        try h.run(
            .register(
                County.registration(.commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract)
            ),
            on: "a1", by: "arb-clerk")
        expectRejected(.ruleViolation, rule: "CA2") { try h.run(.acceptArbitration, on: "a1", by: "arb-clerk") }
        try h.run(
            .register(
                County.registration(
                    .commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .support,
                    arbitrationAgreement: true)),
            on: "a2", by: "arb-clerk")
        expectRejected(.ruleViolation, rule: "CA1") { try h.run(.acceptArbitration, on: "a2", by: "arb-clerk") }
    }

    @Test(
        "CA3: the 2025 Arbitration Law (from 2026-03-01) allows a deemed agreement; cases begun earlier keep the 2017 rules"
    )
    func ca3() throws {
        var h = try makeHarness(at: County.at(2026, 2, 26))
        try h.run(
            .register(
                County.registration(.commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract)
            ),
            on: "old", by: "arb-clerk")
        #expect(h.state("old")?.definitionVersion == "cn-arbitration-2017")
        h.now = County.at(2026, 3, 2)
        try h.run(
            .register(
                County.registration(.commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract)
            ),
            on: "new", by: "arb-clerk")
        #expect(h.state("new")?.definitionVersion == "cn-arbitration-2025")
        expectRejected(.wrongKind) {
            try h.run(.recordDeemedAgreement(note: "not denied before hearing"), on: "old", by: "arb-clerk")
        }
        try h.run(
            .recordDeemedAgreement(note: "claimed by the applicant, not denied before the first hearing"), on: "new",
            by: "arb-clerk")
        try h.run(.acceptArbitration, on: "new", by: "arb-clerk")
        #expect(h.state("new")?.state == "accepted")
    }

    @Test("CA5: one award is final; the 6-month set-aside window is recorded")
    func ca5() throws {
        var h = try makeHarness()
        try h.run(
            .register(
                County.registration(
                    .commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract,
                    arbitrationAgreement: true)),
            on: "a1", by: "arb-clerk")
        try h.run(.acceptArbitration, on: "a1", by: "arb-clerk")
        try h.run(
            .issueAward(Award(items: [], monthlyMinimumWageYuan: 0, summary: "pay 1m")), on: "a1", by: "arb-clerk")
        #expect(h.state("a1")?.award?.isFinal == true)
        #expect(h.state("a1")?.deadline("CA5.setAside")?.end.nominalLastDay == County.date(2025, 9, 3))
    }

    @Test("LT1: the court decides on filing within 7 days; the referral closes when the court takes it over")
    func lt1() throws {
        var h = try makeHarness()
        try h.failed("m1")
        try h.run(
            .refer(Referral(route: .civilLitigation, newCase: "s1", toUnit: "court", toPerson: "court-clerk")),
            on: "m1", by: "m-v1")
        #expect(h.state("s1")?.deadline("LT1.filing")?.end.nominalLastDay == County.date(2025, 3, 10))
        expectRejected(.missingField, rule: "LT1") {
            try h.run(.recordCourtFiling(court: ""), on: "s1", by: "court-clerk")
        }
        try h.run(.recordCourtFiling(court: "County court"), on: "s1", by: "court-clerk")
        try h.run(.close(outcome: "court took over"), on: "s1", by: "court-clerk")
        #expect(h.state("s1")?.state == "closed")
    }

    @Test(
        "WO1, WO3: a work order answers within 5 working days (a setting), may turn into a case, takes one evaluation")
    func wo() throws {
        var h = try makeHarness()
        try h.run(
            .register(
                County.registration(.consultation, unit: "hotline", owner: "hotline-agent", channel: .hotline12348)),
            on: "w1", by: "hotline-agent")
        #expect(h.state("w1")?.deadline("WO3.feedback")?.end.nominalLastDay == County.date(2025, 3, 10))
        try h.run(
            .extendDeadline(
                DeadlineExtension(deadline: "WO3.feedback", by: .workingDays(10), approver: "hotline-head")), on: "w1",
            by: "hotline-agent")
        #expect(h.state("w1")?.deadline("WO3.feedback")?.end.nominalLastDay == County.date(2025, 3, 24))
        try h.run(.answer("Apply to the village committee"), on: "w1", by: "hotline-agent")
        try h.run(.close(outcome: "answered"), on: "w1", by: "hotline-agent")
        try h.run(.evaluate(rating: 5, comment: nil), on: "w1", by: "party:p-a")
        #expect(h.state("w1")?.evaluation?.rating == 5)

        try h.run(
            .register(County.registration(.consultation, unit: "hotline", owner: "hotline-agent", channel: .online)),
            on: "w2", by: "hotline-agent")
        try h.run(
            .convertToCase(
                newCase: "w2-m", registration: County.registration(.peopleMediation, unit: "v1", owner: "m-v1")),
            on: "w2", by: "hotline-agent")
        #expect(h.state("w2")?.state == "closed")
        #expect(h.state("w2-m")?.links.contains(CaseLink(.referredFrom, "w2")) == true)
    }

    @Test("EVAL: each closed case takes exactly one evaluation (1–5); a closed case takes nothing else")
    func eval() throws {
        var h = try makeHarness()
        try h.failed("m1")
        expectRejected(.transitionNotAllowed) {
            try h.run(.evaluate(rating: 4, comment: nil), on: "m1", by: "party:p-a")
        }
        try h.run(.close(outcome: "declined referral"), on: "m1", by: "m-v1")
        expectRejected(.invalidField, rule: "EVAL") {
            try h.run(.evaluate(rating: 6, comment: nil), on: "m1", by: "party:p-a")
        }
        expectRejected(.notAuthorized) { try h.run(.evaluate(rating: 4, comment: nil), on: "m1", by: "party:stranger") }
        try h.run(.evaluate(rating: 4, comment: "patient mediator"), on: "m1", by: "party:p-a")
        expectRejected(.ruleViolation, rule: "EVAL") {
            try h.run(.evaluate(rating: 5, comment: nil), on: "m1", by: "party:p-b")
        }
        expectRejected(.caseClosed, rule: "EVAL") {
            try h.run(.handOff(toUnit: "v1", toPerson: "m-v1b", reason: "x"), on: "m1", by: "m-v1")
        }
        #expect(h.state("m1")?.evaluation?.comment == "patient mediator")
    }
}

@Suite struct ArbitrationEdgeTests {
    @Test("LD10: once the award clock ran out and litigation opened, it is not extended")
    func ld10NoExtensionAfterBreach() throws {
        var h = try makeHarness()
        try ArbitrationRuleTests.labourCase(&h, "l1")
        try h.run(.acceptArbitration, on: "l1", by: "labour-clerk")
        h.now = County.at(2025, 4, 25)
        try h.tick()
        #expect(h.state("l1")?.openedRoutes == ["litigation"])
        expectRejected(.ruleViolation, rule: "LD10") {
            try h.run(
                .extendDeadline(
                    DeadlineExtension(
                        deadline: "LD10.award", by: .days(15), approver: "labour-chair", noticeSentAt: h.now)),
                on: "l1", by: "labour-clerk")
        }
    }

    @Test("LD4: a labour mediation a party ended still opens arbitration after 15 days")
    func ld4AfterPartyEnded() throws {
        var h = try makeHarness()
        try h.mediating("c1", kind: .labourMediation, dispute: .labour)
        try h.run(.endMediationAtPartyRequest(party: "p-b"), on: "c1", by: "m-v1")
        h.advance(days: 16)
        try h.tick()
        #expect(h.state("c1")?.openedRoutes == ["arbitration"])
        try h.run(
            .refer(Referral(route: .labourArbitration, newCase: "c1-arb", toUnit: "labour", toPerson: "labour-clerk")),
            on: "c1", by: "m-v1")
        #expect(h.state("c1-arb")?.kind == .labourArbitration)
    }
}

@Suite struct LabourLimitationTests {
    static func register(_ h: inout WorkflowHarness, _ id: CaseID, _ claim: LabourClaim) throws {
        var registration = County.registration(
            .labourArbitration, unit: "labour", owner: "labour-clerk", dispute: .labour)
        registration.labourClaim = claim
        try h.run(.register(registration), on: id, by: "labour-clerk")
    }

    @Test(
        "LD6: one year from knowing of the infringement, afresh after an interruption; wage arrears run from the end of employment"
    )
    func ld6() throws {
        var h = try makeHarness()  // 2025-03-03
        expectRejected(.ruleViolation, rule: "LD6") {
            try Self.register(&h, "l1", LabourClaim(infringementKnownOn: County.date(2024, 2, 1)))
        }
        #expect(h.state("l1") == nil)
        // 2024-03-03 + 1 year is Monday 2025-03-03: today, in time.
        try Self.register(&h, "l2", LabourClaim(infringementKnownOn: County.date(2024, 3, 3)))
        try Self.register(
            &h, "l3", LabourClaim(infringementKnownOn: County.date(2023, 5, 1), interruptedOn: County.date(2024, 6, 1)))
        try Self.register(&h, "l4", LabourClaim(infringementKnownOn: County.date(2020, 1, 1), wageArrears: true))
        expectRejected(.ruleViolation, rule: "LD6") {
            try Self.register(
                &h, "l5",
                LabourClaim(
                    infringementKnownOn: County.date(2020, 1, 1), wageArrears: true,
                    employmentEndedOn: County.date(2024, 1, 15)))
        }
        try Self.register(&h, "l6", LabourClaim(infringementKnownOn: County.date(2024, 2, 1), suspendedDays: 40))
        // A year from now ends in a year the calendar does not cover yet: a claim filed now is on time without it.
        var recent = try makeHarness(at: County.at(2026, 1, 10))
        try Self.register(&recent, "l7", LabourClaim(infringementKnownOn: County.date(2026, 1, 5)))
        // A referral from labour mediation carries the claim, so the limitation is checked there too.
        var m = try makeHarness()
        var registration = County.registration(.labourMediation, unit: "v1", owner: "m-v1", dispute: .labour)
        registration.labourClaim = LabourClaim(infringementKnownOn: County.date(2024, 1, 2))
        try m.run(.register(registration), on: "m1", by: "m-v1")
        try m.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "m1", by: "m-v1")
        try m.run(.declareFailure(rightsNotice: "told", suggestedRoute: .labourArbitration), on: "m1", by: "m-v1")
        expectRejected(.ruleViolation, rule: "LD6") {
            try m.run(
                .refer(Referral(route: .labourArbitration, newCase: "a1", toUnit: "labour", toPerson: "labour-clerk")),
                on: "m1", by: "m-v1")
        }
    }

    /// By a labour mediation body, or by a people's mediation committee (also one of LD2's mediation bodies).
    @Test(
        "LD6: the application for mediation of a labour dispute interrupts the limitation; arbitration after it is in time",
        arguments: [CaseKind.labourMediation, .peopleMediation])
    func ld6InterruptedByMediation(kind: CaseKind) throws {
        // Known 2025-03-06; mediation applied for 2026-02-24, within the year; arbitration asked for 2026-03-12,
        // after the year from knowing but within the year that runs afresh from the application.
        var m = try makeHarness(at: County.at(2026, 2, 24))
        var registration = County.registration(kind, unit: "v1", owner: "m-v1", dispute: .labour)
        registration.labourClaim = LabourClaim(infringementKnownOn: County.date(2025, 3, 6))
        try m.run(.register(registration), on: "m1", by: "m-v1")
        try m.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "m1", by: "m-v1")
        m.now = County.at(2026, 3, 12)
        if kind == .labourMediation {
            try m.tick()
            #expect(m.state("m1")?.openedRoutes == ["arbitration"])
        } else {
            try m.run(
                .declareFailure(rightsNotice: "told", suggestedRoute: .labourArbitration), on: "m1", by: "m-v1")
        }
        try m.run(
            .refer(Referral(route: .labourArbitration, newCase: "a1", toUnit: "labour", toPerson: "labour-clerk")),
            on: "m1", by: "m-v1")
        #expect(m.state("a1")?.labourClaim?.interruptedOn == County.date(2026, 2, 24))
    }
}

@Suite struct ArbitrationProcedureTests {
    @Test("LD5: a labour mediation agreement not performed opens arbitration")
    func ld5() throws {
        var h = try makeHarness()
        try h.mediating("c1", kind: .labourMediation, dispute: .labour)
        try h.run(.reachAgreement(form: .written, terms: "pay wages by 03-31"), on: "c1", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM10") {
            try h.run(.recordNonPerformance(note: "not paid"), on: "c1", by: "m-v1")
        }
        for signer: Signer in [.party("p-a"), .party("p-b"), .mediator("m-v1"), .committeeSeal] {
            try h.run(.signAgreement(signer), on: "c1", by: "m-v1")
        }
        let referral = Referral(
            route: .labourArbitration, newCase: "c1-arb", toUnit: "labour", toPerson: "labour-clerk")
        expectRejected(.ruleViolation, rule: "LD4") { try h.run(.refer(referral), on: "c1", by: "m-v1") }
        try h.run(.recordNonPerformance(note: "wages not paid by 03-31"), on: "c1", by: "m-v1")
        #expect(h.state("c1")?.openedRoutes == ["arbitration"])
        try h.run(.refer(referral), on: "c1", by: "m-v1")
        #expect(h.state("c1-arb")?.kind == .labourArbitration)
    }

    @Test("LD8: the copy goes to the respondent within 5 days of acceptance; the defence window is 10 days")
    func ld8() throws {
        var h = try makeHarness()
        try ArbitrationRuleTests.labourCase(&h, "l1")
        try h.run(.acceptArbitration, on: "l1", by: "labour-clerk")
        #expect(h.state("l1")?.deadline("LD8.service")?.end.nominalLastDay == County.date(2025, 3, 8))
        h.advance(days: 2)
        try h.run(.serveApplication(on: "Employer Ltd"), on: "l1", by: "labour-clerk")
        #expect(h.state("l1")?.deadline("LD8.service")?.status == .stopped)
        let defence = try #require(h.state("l1")?.deadline("LD8.defence"))
        #expect(defence.end.nominalLastDay == County.date(2025, 3, 15) && defence.fires == false)
        try h.run(.recordRespondentAnswer, on: "l1", by: "labour-clerk")
        #expect(h.state("l1")?.deadline("LD8.defence")?.status == .stopped)
    }

    @Test("CA4: an objection to the arbitration agreement comes before the first hearing")
    func ca4() throws {
        var h = try makeHarness()
        try h.run(
            .register(
                County.registration(
                    .commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract,
                    arbitrationAgreement: true)),
            on: "a1", by: "arb-clerk")
        try h.run(.acceptArbitration, on: "a1", by: "arb-clerk")
        try h.run(.objectToAgreement(grounds: "the commission named does not exist"), on: "a1", by: "arb-clerk")
        try h.run(.recordFirstHearing, on: "a1", by: "arb-clerk")
        expectRejected(.ruleViolation, rule: "CA4") {
            try h.run(.objectToAgreement(grounds: "late"), on: "a1", by: "arb-clerk")
        }
        expectRejected(.invalidField, rule: "CA4") { try h.run(.recordFirstHearing, on: "a1", by: "arb-clerk") }
    }
}
