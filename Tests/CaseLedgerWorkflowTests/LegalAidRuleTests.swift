import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Legal aid (LA1–LA12).
@Suite struct LegalAidRuleTests {
    static func application(
        _ matter: AidMatter = .labour, noCondition: NoConditionGround? = nil, exemption: HardshipExemption? = nil,
        evidence: String? = nil, linkedDeadline: Instant? = nil
    ) -> LegalAidApplication {
        LegalAidApplication(
            matter: matter, noConditionGround: noCondition, exemption: exemption, exemptionEvidence: evidence,
            linkedDeadline: linkedDeadline)
    }

    static func register(_ h: inout WorkflowHarness, _ id: CaseID, _ application: LegalAidApplication) throws {
        try h.run(
            .register(
                County.registration(.legalAid, unit: "aid", owner: "aid-staff", dispute: .labour, legalAid: application)
            ),
            on: id, by: "aid-staff")
    }

    @Test("LA1: the application goes to the centre where the matter is handled")
    func la1() throws {
        var h = try makeHarness()
        let other = try #require(DivisionCode("511125000000"))
        expectRejected(.ruleViolation, rule: "LA1") {
            try h.run(
                .register(
                    County.registration(
                        .legalAid, unit: "aid", owner: "aid-staff", division: other, legalAid: Self.application())),
                on: "a1", by: "aid-staff")
        }
        expectRejected(.missingField) {
            try h.run(
                .register(County.registration(.legalAid, unit: "aid", owner: "aid-staff")), on: "a1", by: "aid-staff")
        }
        expectRejected(.invalidField) {
            try h.run(
                .register(County.registration(.legalAid, unit: "v1", owner: "m-v1", legalAid: Self.application())),
                on: "a1", by: "m-v1")
        }
    }

    @Test("LA3: Art 32 matters carry no economic condition: approval needs no hardship check")
    func la3() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application(.other, noCondition: .abuseOrDomesticViolence))
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.state == "approved")
    }

    @Test("LA4: without an exemption, approval needs a passed hardship check")
    func la4() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application())
        expectRejected(.ruleViolation, rule: "LA4") { try h.run(.approveAid, on: "a1", by: "aid-staff") }
        try h.run(.recordHardshipCheck(method: .integrityPledge, qualifies: false), on: "a1", by: "aid-staff")
        expectRejected(.ruleViolation, rule: "LA4") { try h.run(.approveAid, on: "a1", by: "aid-staff") }
        try h.run(.recordHardshipCheck(method: .dataSharing, qualifies: true), on: "a1", by: "aid-staff")
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.state == "approved")
    }

    @Test("LA5: an Art 42 exemption skips the hardship check but needs its documents")
    func la5() throws {
        var h = try makeHarness()
        expectRejected(.ruleViolation, rule: "LA5") {
            try Self.register(&h, "a1", Self.application(exemption: .migrantWorkerWages))
        }
        try Self.register(
            &h, "a1", Self.application(exemption: .migrantWorkerWages, evidence: "labour contract, wage list"))
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.state == "approved")
    }

    /// The provider's id goes into the assignment's record header, which carries at most 255 bytes of it: a longer
    /// one is refused instead of being cut (the workload view would count the case for a person who does not exist).
    @Test func aProviderIdLongerThanAHeaderCarriesIsRefused() throws {
        var h = try makeHarness()
        let long = PersonID(String(repeating: "l", count: 256))
        let longest = PersonID(String(repeating: "l", count: 255))
        for id in [long, longest] { h.directory.add(Person(id: id, name: "Lawyer", roles: [.lawyer], units: [])) }
        try Self.register(
            &h, "a1", Self.application(exemption: .migrantWorkerWages, evidence: "labour contract, wage list"))
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        let approved = h.histories["a1"]
        let error = expectRejected(.invalidField) { try h.run(.assignProvider(long), on: "a1", by: "aid-staff") }
        #expect(error?.message.contains("256 bytes") == true)
        #expect(h.histories["a1"] == approved)
        try h.run(.assignProvider(longest), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.legalAid?.provider == longest)
    }

    @Test("LA6: decide in 7 days (paused while materials are missing), assign within 3 days, refuse with reasons")
    func la6() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application(exemption: .elderlyWithoutIncome, evidence: "pension record"))
        let decision = try #require(h.state("a1")?.deadline("LA6.decision"))
        #expect(decision.dueAt == LegalTime.endOf(County.date(2025, 3, 10)))
        expectRejected(.missingField, rule: "LA6") {
            try h.run(.requestMaterials(missing: []), on: "a1", by: "aid-staff")
        }
        try h.run(.requestMaterials(missing: ["ID card copy", "residence proof"]), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.deadline("LA6.decision")?.status == .paused)
        h.advance(days: 10)
        #expect(try h.tick().isEmpty)  // paused clocks do not fire
        try h.run(.supplyMaterials, on: "a1", by: "aid-staff")
        let resumed = try #require(h.state("a1")?.deadline("LA6.decision"))
        #expect(resumed.status == .running)
        #expect(resumed.end.nominalLastDay == County.date(2025, 3, 20))  // 10 paused days added
        expectRejected(.missingField, rule: "LA6") { try h.run(.denyAid(reasons: ""), on: "a1", by: "aid-staff") }
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.deadline("LA6.decision")?.status == .stopped)
        #expect(h.state("a1")?.deadline("LA6.assignment")?.dueAt == LegalTime.endOf(County.date(2025, 3, 17)))
        h.advance(days: 4)  // Monday 03-17, 09:00: the last day (Sunday 03-16 rolled forward) is not over
        try h.tick()
        #expect(h.state("a1")?.deadline("LA6.assignment")?.status == .running)
        h.advance(days: 1)
        try h.tick()
        #expect(h.state("a1")?.deadline("LA6.assignment")?.status == .breached)
        expectRejected(.ruleViolation, rule: "LA6") {
            try h.run(.assignProvider("aid-head"), on: "a1", by: "aid-staff")
        }
        try h.run(.assignProvider("lawyer-1"), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.legalAid?.provider == "lawyer-1")
        // The late assignment fulfils the breached clock: it stops (and leaves the overdue list); the breach stays.
        #expect(h.state("a1")?.deadline("LA6.assignment")?.status == .stopped)
        let history = h.histories["a1"] ?? []
        #expect(
            history.contains {
                $0.event == .deadlineBreached(id: "LA6.assignment", dueAt: LegalTime.endOf(County.date(2025, 3, 17)))
            })
        #expect(history.last { $0.event == .deadlineStopped(id: "LA6.assignment") } != nil)

        try Self.register(&h, "a2", Self.application())
        try h.run(.denyAid(reasons: "income above the provincial standard"), on: "a2", by: "aid-staff")
        #expect(h.state("a2")?.state == "denied")
    }

    @Test("LA7: provisional aid only when a linked deadline is under 7 days away; the engine suggests it")
    func la7() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application(linkedDeadline: h.now.adding(days: 30)))
        expectRejected(.ruleViolation, rule: "LA7") {
            try h.run(.grantProvisionalAid(reason: "deadline"), on: "a1", by: "aid-staff")
        }
        #expect(!h.events("a1").contains("provisionalAidSuggested"))
        try Self.register(&h, "a2", Self.application(linkedDeadline: h.now.adding(days: 5)))
        #expect(h.events("a2").contains("provisionalAidSuggested"))
        try h.run(.grantProvisionalAid(reason: "arbitration limitation ends in 5 days"), on: "a2", by: "aid-staff")
        #expect(h.state("a2")?.state == "approved")
        #expect(h.state("a2")?.legalAid?.provisional == true)
    }

    @Test("LA9: the recipient may ask for another lawyer: reassignment is recorded with its reason")
    func la9() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application(noCondition: .braveryAct))
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        try h.run(.assignProvider("lawyer-1"), on: "a1", by: "aid-staff")
        expectRejected(.missingField, rule: "LA9") {
            try h.run(.reassignProvider("lawyer-2", reason: ""), on: "a1", by: "aid-staff")
        }
        expectRejected(.invalidField, rule: "LA9") {
            try h.run(.reassignProvider("lawyer-1", reason: "x"), on: "a1", by: "aid-staff")
        }
        try h.run(.reassignProvider("lawyer-2", reason: "recipient's complaint"), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.legalAid?.provider == "lawyer-2")
    }

    @Test(
        "LA10: termination on one of the eight Art 48 grounds, open to objection",
        arguments: AidTerminationGround.allCases)
    func la10(ground: AidTerminationGround) throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application(noCondition: .braveryAct))
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        try h.run(.assignProvider("lawyer-1"), on: "a1", by: "aid-staff")
        expectRejected(.missingField, rule: "LA10") {
            try h.run(.terminateAid(ground: ground, note: ""), on: "a1", by: "aid-staff")
        }
        try h.run(.terminateAid(ground: ground, note: "reported by the lawyer"), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.legalAid?.termination == ground)
        try h.run(.fileObjection(grounds: "the ground does not apply"), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.state == "objection")
    }

    @Test("LA11: the justice bureau decides an objection within 5 days; upheld refusals point to administrative review")
    func la11() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application())
        try h.run(.denyAid(reasons: "not a covered matter"), on: "a1", by: "aid-staff")
        try h.run(.fileObjection(grounds: "it is a wage claim"), on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.deadline("LA11.objection")?.dueAt == LegalTime.endOf(County.date(2025, 3, 10)))
        // The centre cannot decide its own objection; the bureau that set it up decides, through its head.
        expectRejected(.ruleViolation, rule: "LA11") {
            try h.run(.orderCorrection(reasons: "x"), on: "a1", by: "aid-head")
        }
        try h.run(.orderCorrection(reasons: "wage claims are covered (Art 31)"), on: "a1", by: "bureau-head")
        #expect(h.state("a1")?.state == "applied")
        #expect(h.state("a1")?.deadline("LA11.objection")?.status == .stopped)

        try Self.register(&h, "a2", Self.application())
        try h.run(.denyAid(reasons: "income above the standard"), on: "a2", by: "aid-staff")
        try h.run(.fileObjection(grounds: "income fell"), on: "a2", by: "aid-staff")
        try h.run(.dismissObjection(reasons: "income verified above the standard"), on: "a2", by: "bureau-head")
        #expect(h.state("a2")?.state == "closed")
        guard
            case .objectionDismissed(_, let route) = h.histories["a2"]?.first(where: {
                $0.event.name == "objectionDismissed"
            })?.event
        else {
            Issue.record("no objectionDismissed")
            return
        }
        #expect(route == .administrativeReview)
    }

    @Test("LA12: closing needs the handling report and documents, then a quality review")
    func la12() throws {
        var h = try makeHarness()
        try Self.register(&h, "a1", Self.application(noCondition: .braveryAct))
        try h.run(.approveAid, on: "a1", by: "aid-staff")
        try h.run(.assignProvider("lawyer-1"), on: "a1", by: "aid-staff")
        try h.run(.reportMatterEnded, on: "a1", by: "aid-staff")
        #expect(h.state("a1")?.deadline("LA12.closingMaterials")?.status == .running)
        expectRejected(.missingField, rule: "LA12") {
            try h.run(.submitClosingReport(report: "", documents: ["judgment"]), on: "a1", by: "aid-staff")
        }
        expectRejected(.missingField, rule: "LA12") {
            try h.run(.submitClosingReport(report: "won", documents: []), on: "a1", by: "aid-staff")
        }
        try h.run(
            .submitClosingReport(report: "claim upheld in full", documents: ["judgment", "agency contract"]), on: "a1",
            by: "aid-staff")
        expectRejected(.invalidField, rule: "LA12") {
            try h.run(.recordQualityReview(score: 0, note: ""), on: "a1", by: "aid-head")
        }
        try h.run(.recordQualityReview(score: 5, note: "excellent file"), on: "a1", by: "aid-head")
        #expect(h.state("a1")?.state == "closed")
        #expect(h.state("a1")?.legalAid?.qualityScore == 5)
    }
}
