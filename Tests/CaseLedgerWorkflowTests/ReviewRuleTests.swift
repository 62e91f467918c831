import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Administrative review (AR1–AR11).
@Suite struct ReviewRuleTests {
    static func application(
        act: String = "penalty-2025-001", known: CivilDate = County.date(2025, 2, 20), notified: Bool = true,
        learned: CivilDate? = nil, actDate: CivilDate? = nil, immovable: Bool = false, obstacle: Int = 0
    ) -> ReviewApplication {
        ReviewApplication(
            actReference: act, respondent: "County market regulator", actDate: actDate ?? known, knownOn: known,
            rightsNotified: notified, learnedOfRightOn: learned, immovableProperty: immovable, obstacleDays: obstacle)
    }

    static func register(_ h: inout WorkflowHarness, _ id: CaseID, _ application: ReviewApplication = application())
        throws
    {
        try h.run(
            .register(
                County.registration(
                    .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                    review: application)),
            on: id, by: "review-officer")
    }

    @Test("AR1: 60 days from knowing of the act; without notice, at most 1 year; never past 5 or 20 years")
    func ar1() throws {
        // Known 2025-01-01: day 60 is 2025-03-02 (Sunday) → rolled to Monday 03-03, today: on time.
        var h = try makeHarness()
        try Self.register(&h, "r1", Self.application(act: "a1", known: County.date(2025, 1, 1)))
        var late = try makeHarness(at: County.at(2025, 3, 4))
        let error = expectRejected(.ruleViolation, rule: "AR1") {
            try Self.register(&late, "r2", Self.application(act: "a2", known: County.date(2025, 1, 1)))
        }
        #expect(error?.message.contains("ended on 2025-03-03") == true)
        // Force majeure days are not counted.
        try Self.register(&late, "r3", Self.application(act: "a3", known: County.date(2025, 1, 1), obstacle: 5))
        // Not told of the right: from learning of it, capped at a year from knowing the act.
        try Self.register(
            &late, "r4",
            Self.application(
                act: "a4", known: County.date(2024, 6, 1), notified: false, learned: County.date(2025, 2, 1)))
        expectRejected(.ruleViolation, rule: "AR1") {
            try Self.register(
                &late, "r5",
                Self.application(
                    act: "a5", known: County.date(2024, 2, 1), notified: false, learned: County.date(2025, 2, 1)))
        }
        expectRejected(.ruleViolation, rule: "AR1") {
            try Self.register(
                &late, "r6",
                Self.application(act: "a6", known: County.date(2025, 2, 1), actDate: County.date(2019, 1, 2)))
        }
        // A window ending in a year the calendar does not cover yet (2027): an application within it is on time.
        var december = try makeHarness(at: County.at(2026, 11, 25))
        try Self.register(&december, "r7", Self.application(act: "a7", known: County.date(2026, 11, 20)))
    }

    @Test("AR4: no parallel proceedings: an accepted review blocks a suit, a filed suit blocks a review")
    func ar4() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        #expect(h.locks["penalty-2025-001"]?.holder == .review)
        // A mediation about the same act cannot be referred to administrative litigation during review.
        try h.failed("m1", dispute: .administrativeAct, route: .administrativeLitigation)
        expectRejected(.ruleViolation, rule: "AR4") {
            try h.run(
                .refer(
                    Referral(
                        route: .administrativeLitigation, newCase: "l1", toUnit: "court", toPerson: "court-clerk",
                        review: Self.application())),
                on: "m1", by: "m-v1")
        }
        // After the review closes, the lock is released.
        try h.run(.decideReview(.upheld), on: "r1", by: "review-officer")
        try h.run(.close(outcome: "decision served"), on: "r1", by: "review-officer")
        #expect(h.locks["penalty-2025-001"]?.holder == nil)
        try h.run(
            .refer(
                Referral(
                    route: .administrativeLitigation, newCase: "l1", toUnit: "court", toPerson: "court-clerk",
                    review: Self.application())),
            on: "m1", by: "m-v1")
        try h.run(.recordCourtFiling(court: "County court"), on: "l1", by: "court-clerk")
        #expect(h.locks["penalty-2025-001"]?.holder == .litigation)
        expectRejected(.ruleViolation, rule: "AR4") { try Self.register(&h, "r2") }
    }

    @Test("AR11: once the review period runs out undecided, the review no longer bars a suit, and 15 days to sue run")
    func ar11ReviewTimedOut() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        // 03-03 + 60 days = Friday 05-02, in the Labour Day block: the period ends Tuesday 05-06.
        #expect(h.state("r1")?.deadline("AR7.standard")?.dueAt == LegalTime.endOf(County.date(2025, 5, 6)))
        try h.failed("m1", dispute: .administrativeAct, route: .administrativeLitigation)
        let suit = Referral(
            route: .administrativeLitigation, newCase: "l1", toUnit: "court", toPerson: "court-clerk",
            review: Self.application())
        // During the review period: no suit (AR4).
        h.now = County.at(2025, 5, 6)
        expectRejected(.ruleViolation, rule: "AR4") { try h.run(.refer(suit), on: "m1", by: "m-v1") }
        // The period runs out with no decision.
        h.now = County.at(2025, 5, 8)
        try h.tick()
        let review = try #require(h.state("r1"))
        #expect(review.deadline("AR7.standard")?.status == .breached)
        #expect(h.locks["penalty-2025-001"]?.holder == nil)
        // The 15 days to sue count from the period's last day: 05-06 + 15 = Wednesday 05-21.
        let window = try #require(review.deadline("AR11.suit"))
        #expect(window.dueAt == LegalTime.endOf(County.date(2025, 5, 21)) && !window.fires)
        // The review period is not extended after it ran out.
        expectRejected(.ruleViolation, rule: "AR7") {
            try h.run(
                .extendDeadline(
                    DeadlineExtension(
                        deadline: "AR7.standard", by: .days(30), approver: "review-head",
                        noticeSentAt: County.at(2025, 5, 8))),
                on: "r1", by: "review-officer")
        }
        // The suit is filed and takes the act.
        try h.run(.refer(suit), on: "m1", by: "m-v1")
        try h.run(.recordCourtFiling(court: "County court"), on: "l1", by: "court-clerk")
        #expect(h.locks["penalty-2025-001"]?.holder == .litigation)
        #expect(try h.tick().isEmpty)
    }

    @Test(
        "AR5: a 5-working-day acceptance check, deemed acceptance when it passes, one correction notice that pauses it")
    func ar5() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        // Monday 03-03 + 5 working days = Monday 03-10.
        #expect(h.state("r1")?.deadline("AR5.acceptance")?.dueAt == LegalTime.endOf(County.date(2025, 3, 10)))
        try h.run(
            .requestCorrection(items: ["sign the application", "attach the penalty notice"]), on: "r1",
            by: "review-officer")
        expectRejected(.transitionNotAllowed, rule: "AR5") {
            try h.run(.requestCorrection(items: ["more"]), on: "r1", by: "review-officer")
        }
        h.advance(days: 2)
        try h.run(.submitCorrection, on: "r1", by: "review-officer")
        expectRejected(.ruleViolation, rule: "AR5") {
            try h.run(.requestCorrection(items: ["more"]), on: "r1", by: "review-officer")
        }
        // Paused Monday→Wednesday: 2 working days added → Wednesday 03-12.
        #expect(h.state("r1")?.deadline("AR5.acceptance")?.end.nominalLastDay == County.date(2025, 3, 12))
        h.now = County.at(2025, 3, 13)
        try h.tick()
        let state = try #require(h.state("r1"))
        #expect(state.state == "accepted")
        #expect(state.review?.deemedAccepted == true)
        #expect(state.deadline("AR7.standard")?.status == .running)
        #expect(h.histories["r1"]?.last(where: { $0.transition == "deemAccept" })?.actor == .system)
        // People cannot issue the clock's commands.
        var other = try makeHarness()
        try Self.register(&other, "r2")
        expectRejected(.notAuthorized) { try other.run(.deemAccept, on: "r2", by: "review-officer") }
    }

    @Test("A warning is given once per end: a pause and resume within one day that leaves the end re-arms nothing")
    func aWarningIsGivenOncePerEnd() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        // 03-03 + 60 days = Friday 05-02, inside the Labour Day block: Tuesday 05-06; warned 7 days before.
        let end = try #require(h.state("r1")?.deadline("AR7.standard")?.dueAt)
        #expect(end == LegalTime.endOf(County.date(2025, 5, 6)))
        h.now = County.at(2025, 5, 1)
        try h.tick()
        #expect(h.events("r1").filter { $0 == "deadlineApproaching" }.count == 1)
        try h.run(.startReviewMediation, on: "r1", by: "review-officer")
        try h.run(.failReviewMediation, on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.dueAt == end)
        try h.tick()
        #expect(h.events("r1").filter { $0 == "deadlineApproaching" }.count == 1)
    }

    @Test("AR5: a correction not made within 10 working days is deemed abandoned")
    func ar5Abandoned() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.requestCorrection(items: ["attach the notice"]), on: "r1", by: "review-officer")
        // The correction period can be extended once.
        try h.run(
            .extendDeadline(DeadlineExtension(deadline: "AR5.correction", by: .workingDays(5))), on: "r1",
            by: "review-officer")
        expectRejected(.ruleViolation, rule: "AR5") {
            try h.run(
                .extendDeadline(DeadlineExtension(deadline: "AR5.correction", by: .workingDays(5))), on: "r1",
                by: "review-officer")
        }
        h.advance(days: 20)
        try h.tick()
        #expect(h.state("r1")?.state == "correcting")  // 15 working days from 03-03 end on 03-24
        h.advance(days: 2)
        try h.tick()
        #expect(h.state("r1")?.state == "closed")
        #expect(h.events("r1").contains("deemedAbandoned"))
    }

    @Test("AR7: standard 60 days with one extension of up to 30 (approver and notice); simplified 30 days")
    func ar7() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.end.nominalLastDay == County.date(2025, 5, 2))
        let noApprover = DeadlineExtension(deadline: "AR7.standard", by: .days(30), noticeSentAt: h.now)
        expectRejected(.missingField, rule: "AR7") {
            try h.run(.extendDeadline(noApprover), on: "r1", by: "review-officer")
        }
        let notHead = DeadlineExtension(
            deadline: "AR7.standard", by: .days(30), approver: "review-officer", noticeSentAt: h.now)
        expectRejected(.ruleViolation, rule: "AR7") {
            try h.run(.extendDeadline(notHead), on: "r1", by: "review-officer")
        }
        let tooLong = DeadlineExtension(
            deadline: "AR7.standard", by: .days(31), approver: "review-head", noticeSentAt: h.now)
        expectRejected(.ruleViolation, rule: "AR7") {
            try h.run(.extendDeadline(tooLong), on: "r1", by: "review-officer")
        }
        let noNotice = DeadlineExtension(deadline: "AR7.standard", by: .days(30), approver: "review-head")
        expectRejected(.missingField, rule: "AR7") {
            try h.run(.extendDeadline(noNotice), on: "r1", by: "review-officer")
        }
        let good = DeadlineExtension(
            deadline: "AR7.standard", by: .days(30), approver: "review-head", noticeSentAt: h.now)
        try h.run(.extendDeadline(good), on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.end.nominalLastDay == County.date(2025, 6, 1))
        expectRejected(.ruleViolation, rule: "AR7") { try h.run(.extendDeadline(good), on: "r1", by: "review-officer") }

        try Self.register(&h, "r2", Self.application(act: "warning-7"))
        try h.run(.acceptReview(procedure: .simplified), on: "r2", by: "review-officer")
        #expect(h.state("r2")?.deadline("AR7.simplified")?.end.nominalLastDay == County.date(2025, 4, 2))
        #expect(h.state("r2")?.deadline("AR7.standard") == nil)
        expectRejected(.ruleViolation, rule: "AR7") {
            try h.run(
                .extendDeadline(
                    DeadlineExtension(
                        deadline: "AR7.simplified", by: .days(10), approver: "review-head", noticeSentAt: h.now)),
                on: "r2", by: "review-officer")
        }
        try h.run(.convertToStandard(reason: "facts disputed"), on: "r2", by: "review-officer")
        #expect(h.state("r2")?.deadline("AR7.simplified")?.status == .stopped)
        #expect(h.state("r2")?.deadline("AR7.standard")?.status == .running)
        expectRejected(.ruleViolation, rule: "AR7") {
            try h.run(.convertToStandard(reason: "again"), on: "r2", by: "review-officer")
        }
    }

    @Test("AR8: mediation inside review pauses the decision clock; settlement withdraws the case")
    func ar8() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        try h.run(.startReviewMediation, on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.status == .paused)
        h.advance(days: 10)
        try h.run(.failReviewMediation, on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.end.nominalLastDay == County.date(2025, 5, 12))
        try h.run(.startReviewMediation, on: "r1", by: "review-officer")
        try h.run(.concludeReviewMediation(statement: "fine reduced to 500 yuan"), on: "r1", by: "review-officer")
        #expect(h.state("r1")?.state == "closed")

        try Self.register(&h, "r2", Self.application(act: "licence-9"))
        try h.run(.acceptReview(procedure: .standard), on: "r2", by: "review-officer")
        try h.run(.settleReview(terms: "licence reissued"), on: "r2", by: "review-officer")
        #expect(h.state("r2")?.outcome?.contains("withdrawn") == true)
    }

    @Test("AR9: suspension is excluded from the clock and resumes it; 60 days unresolved raises an alert")
    func ar9() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        try h.run(.suspendReview(ground: "awaiting another organ's decision"), on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.status == .paused)
        h.advance(days: 65)  // the 60 days end on 05-02, a holiday, rolled to Tuesday 05-06
        try h.tick()
        #expect(h.state("r1")?.deadline("AR9.suspension")?.status == .breached)
        #expect(h.state("r1")?.deadline("AR7.standard")?.status == .paused)
        try h.run(.resumeReview, on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR7.standard")?.end.nominalLastDay == County.date(2025, 7, 6))
        #expect(h.state("r1")?.deadline("AR7.standard")?.status == .running)
    }

    @Test("AR10: the 3/5/7/10-day periods of the review law are working days; 30 and 60 are calendar days")
    func ar10() throws {
        let definition = try #require(
            DefinitionRegistry.national().inForce(kind: .administrativeReview, on: County.date(2025, 1, 1)))
        #expect(definition.deadline("AR5.acceptance")?.period == .workingDays(5))
        #expect(definition.deadline("AR5.correction")?.period == .workingDays(10))
        #expect(definition.deadline("AR7.standard")?.period == .days(60))
        #expect(definition.deadline("AR7.simplified")?.period == .days(30))
    }

    @Test("AR11: a decision or refusal opens the 15-day window to sue, recorded on the case")
    func ar11() throws {
        var h = try makeHarness()
        try Self.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        try h.run(.decideReview(.revoked), on: "r1", by: "review-officer")
        let window = try #require(h.state("r1")?.deadline("AR11.suit"))
        #expect(window.fires == false)
        #expect(window.end.nominalLastDay == County.date(2025, 3, 18))
        try h.run(.close(outcome: "decision served"), on: "r1", by: "review-officer")
        h.advance(days: 30)
        #expect(try h.tick().isEmpty)  // a party's window never fires on the closed case
        try Self.register(&h, "r2", Self.application(act: "x-2", known: County.date(2025, 3, 20)))
        try h.run(.refuseFiling(reasons: "not an administrative act"), on: "r2", by: "review-officer")
        #expect(h.state("r2")?.deadline("AR11.suit") != nil)
    }
}

/// Clock-fired commands and the AR4 lock at the edges.
@Suite struct ReviewEdgeTests {
    @Test("AR4: a deemed acceptance refused by another review's lock is recorded; the tick and the case go on")
    func ar4RefusedDeemedAcceptance() throws {
        var h = try makeHarness()
        try ReviewRuleTests.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        try ReviewRuleTests.register(&h, "r2")  // same act, still only received
        try ReviewRuleTests.register(&h, "r3", ReviewRuleTests.application(act: "other-act"))
        h.now = County.at(2025, 3, 12)
        try h.tick()
        #expect(h.state("r3")?.state == "accepted")  // the other case was not held up
        #expect(h.state("r2")?.state == "received")
        guard case .automaticCommandRefused(let command, let deadline, let rule, _) = h.histories["r2"]?.last?.event
        else {
            Issue.record("no refusal recorded: \(h.events("r2"))")
            return
        }
        #expect(command == "deemAccept" && deadline == "AR5.acceptance" && rule == "AR4")
        #expect(try h.tick().isEmpty)  // recorded once
        try h.run(.refuseFiling(reasons: "the act is under review in case r1"), on: "r2", by: "review-officer")
        #expect(h.state("r2")?.state == "refused")
    }

    @Test("AR5: a deemed acceptance counts the decision period from the check's last day, not the tick's")
    func ar5DeemedAcceptanceDate() throws {
        var h = try makeHarness()
        try ReviewRuleTests.register(&h, "r1")
        h.now = County.at(2025, 3, 14)  // a tick three days after the check ended (Monday 03-10)
        try h.tick()
        // 60 days from 03-10 end on Friday 05-09.
        #expect(h.state("r1")?.deadline("AR7.standard")?.end.nominalLastDay == County.date(2025, 5, 9))
    }

    @Test("AR4, AR11: the review lock ends with the decision, so a suit can be filed in the 15-day window")
    func ar11LockEndsWithDecision() throws {
        var h = try makeHarness()
        try ReviewRuleTests.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        try h.run(.decideReview(.upheld), on: "r1", by: "review-officer")
        #expect(h.locks["penalty-2025-001"]?.holder == nil)
        try h.failed("m1", dispute: .administrativeAct, route: .administrativeLitigation)
        try h.run(
            .refer(
                Referral(
                    route: .administrativeLitigation, newCase: "s1", toUnit: "court", toPerson: "court-clerk",
                    review: ReviewRuleTests.application())),
            on: "m1", by: "m-v1")
        try h.run(.recordCourtFiling(court: "County court"), on: "s1", by: "court-clerk")
        #expect(h.locks["penalty-2025-001"]?.holder == .litigation)
    }
}

@Suite struct ReviewServiceTests {
    @Test("AR3: acts that must be reviewed first cannot be referred straight to administrative litigation")
    func ar3() throws {
        var h = try makeHarness()
        try h.failed("m1", dispute: .administrativeAct, route: .administrativeReview)
        var act = ReviewRuleTests.application()
        act.actCategory = .informationDisclosureRefusal
        expectRejected(.ruleViolation, rule: "AR3") {
            try h.run(
                .refer(
                    Referral(
                        route: .administrativeLitigation, newCase: "s1", toUnit: "court", toPerson: "court-clerk",
                        review: act)),
                on: "m1", by: "m-v1")
        }
        try h.run(
            .refer(
                Referral(
                    route: .administrativeReview, newCase: "r1", toUnit: "review", toPerson: "review-officer",
                    review: act)),
            on: "m1", by: "m-v1")
        #expect(h.state("r1")?.kind == .administrativeReview)
        act.actCategory = .other
        try h.failed("m2", dispute: .administrativeAct, route: .administrativeLitigation)
        try h.run(
            .refer(
                Referral(
                    route: .administrativeLitigation, newCase: "s2", toUnit: "court", toPerson: "court-clerk",
                    review: act)),
            on: "m2", by: "m-v1")
    }

    @Test(
        "AR6: serve the respondent within 7 working days of acceptance; the answer is due 10 working days later (3 and 5 simplified)"
    )
    func ar6() throws {
        var h = try makeHarness()
        try ReviewRuleTests.register(&h, "r1")
        try h.run(.acceptReview(procedure: .standard), on: "r1", by: "review-officer")
        // Monday 03-03 + 7 working days = Wednesday 03-12.
        #expect(h.state("r1")?.deadline("AR6.service")?.end.nominalLastDay == County.date(2025, 3, 12))
        expectRejected(.missingField, rule: "AR6") {
            try h.run(.serveApplication(on: ""), on: "r1", by: "review-officer")
        }
        h.advance(days: 1)
        try h.run(.serveApplication(on: "County market regulator"), on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR6.service")?.status == .stopped)
        // Tuesday 03-04 + 10 working days = Tuesday 03-18.
        #expect(h.state("r1")?.deadline("AR6.answer")?.end.nominalLastDay == County.date(2025, 3, 18))
        try h.run(.recordRespondentAnswer, on: "r1", by: "review-officer")
        #expect(h.state("r1")?.deadline("AR6.answer")?.status == .stopped)

        try ReviewRuleTests.register(&h, "r2", ReviewRuleTests.application(act: "warning-2"))
        try h.run(.acceptReview(procedure: .simplified), on: "r2", by: "review-officer")
        #expect(h.state("r2")?.deadline("AR6.serviceSimplified")?.end.nominalLastDay == County.date(2025, 3, 7))
        #expect(h.state("r2")?.deadline("AR6.service") == nil)
        h.advance(days: 5)
        try h.tick()
        #expect(h.state("r2")?.deadline("AR6.serviceSimplified")?.status == .breached)
    }
}
