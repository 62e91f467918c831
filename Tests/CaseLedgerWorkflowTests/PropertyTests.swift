import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Random command sequences (seeded, so a failure repeats) against the invariants of requirement 13.
@Suite struct PropertyTests {
    static let units: [UnitID] = ["v1", "v2", "t1", "t2", "centre", "court", "labour", "arbitration", "review"]
    static let routes = Route.allCases
    static let disputes: [DisputeType] = [
        .neighbour, .labour, .marriage, .contract, .administrativeAct, .landOwnership,
    ]

    /// A random command that may or may not be allowed in the case's state.
    static func randomCommand(_ state: CaseState?, _ id: CaseID, _ n: Int, _ rng: inout SeededGenerator) -> CaseCommand
    {
        let party = ["p-a", "p-b", "p-x"].randomElement(using: &rng) ?? "p-a"
        let consent = Bool.random(using: &rng) ? County.bothParties : ["p-a"]
        let unit = units.randomElement(using: &rng) ?? "v1"
        let person = County.persons.filter { $0.units.contains(unit) }.randomElement(using: &rng)?.id ?? "m-v1"
        let mediators = County.persons.filter { $0.roles.contains(.mediator) && $0.units.contains(state?.unit ?? "v1") }
            .map(\.id)
        let kind = Int.random(in: 0..<18, using: &rng)
        switch kind {
        case 0: return .refuseMediation(party: party)
        case 1:
            return .startMediation(mediators: Bool.random(using: &rng) ? mediators : ["m-v2"], chosenByParties: false)
        case 2: return .endMediationAtPartyRequest(party: party)
        case 3: return .markMajorOrComplex(reason: "complex")
        case 4:
            return .flagRisk(
                RiskReport(
                    risk: .massIncident, note: "crowd", government: "gov", police: nil,
                    toUnit: Bool.random(using: &rng) ? "centre" : "t1",
                    toPerson: Bool.random(using: &rng) ? "m-county" : "m-t1"))
        case 5, 6:
            let reason = EscalationReason.allCases.randomElement(using: &rng) ?? .complex
            return .escalate(Escalation(toUnit: unit, toPerson: person, reason: reason, consentingParties: consent))
        case 7:
            return .declareFailure(
                rightsNotice: "told", suggestedRoute: routes.randomElement(using: &rng) ?? .civilLitigation)
        case 8: return .reachAgreement(form: Bool.random(using: &rng) ? .oral : .written, terms: "terms")
        case 9:
            let signers: [Signer] = [
                .party("p-a"), .party("p-b"), .mediator(mediators.first ?? "m-v1"), .committeeSeal,
            ]
            return .signAgreement(signers.randomElement(using: &rng) ?? .committeeSeal)
        case 10: return .applyJudicialConfirmation(applicants: consent, court: "court")
        case 11:
            let route = routes.randomElement(using: &rng) ?? .civilLitigation
            return .refer(Referral(route: route, newCase: CaseID("\(id)-r\(n)"), toUnit: unit, toPerson: person))
        case 12:
            return .extendDeadline(
                DeadlineExtension(deadline: "PM13.level", by: .months(1), consentingParties: consent))
        case 13, 14: return .close(outcome: "done")
        case 15: return .evaluate(rating: Int.random(in: 0...6, using: &rng), comment: nil)
        case 16: return .handOff(toUnit: unit, toPerson: person, reason: "workload")
        default: return .answer("x")
        }
    }

    /// A random command for the other kinds: legal aid, review, labour and commercial arbitration, litigation and
    /// work orders, again often not allowed in the state at hand.
    static func randomOtherCommand(_ state: CaseState, _ id: CaseID, _ n: Int, _ rng: inout SeededGenerator)
        -> CaseCommand
    {
        let people: [PersonID] = ["lawyer-1", "lawyer-2", "aid-head", "review-head", "labour-chair", "hotline-head"]
        let someone = people.randomElement(using: &rng) ?? "lawyer-1"
        let commands: [CaseCommand] = [
            .requestMaterials(missing: ["ID card"]), .supplyMaterials, .withdrawApplication(reason: "no reply"),
            .recordHardshipCheck(method: .dataSharing, qualifies: Bool.random(using: &rng)), .approveAid,
            .denyAid(reasons: "income"), .grantProvisionalAid(reason: "deadline"), .assignProvider(someone),
            .reassignProvider(someone, reason: "complaint"),
            .terminateAid(
                ground: AidTerminationGround.allCases.randomElement(using: &rng) ?? .recipientRequest, note: "n"),
            .fileObjection(grounds: "g"), .dismissObjection(reasons: "r"), .orderCorrection(reasons: "r"),
            .reportMatterEnded, .submitClosingReport(report: "r", documents: ["judgment"]),
            .recordQualityReview(score: Int.random(in: 0...6, using: &rng), note: ""),
            .requestCorrection(items: ["sign"]), .submitCorrection,
            .acceptReview(procedure: Bool.random(using: &rng) ? .standard : .simplified),
            .refuseFiling(reasons: "r"), .convertToStandard(reason: "r"), .startReviewMediation,
            .concludeReviewMediation(statement: "s"), .failReviewMediation, .settleReview(terms: "t"),
            .suspendReview(ground: "g"), .resumeReview, .terminateReview(ground: "g"),
            .decideReview(ReviewOutcome.allCases.randomElement(using: &rng) ?? .upheld),
            .extendDeadline(
                DeadlineExtension(
                    deadline: ["AR7.standard", "LD10.award", "LA6.decision", "WO3.feedback", "AR5.correction"]
                        .randomElement(using: &rng) ?? "AR7.standard",
                    by: Bool.random(using: &rng) ? .days(10) : .workingDays(5), approver: someone,
                    noticeSentAt: state.lastEventAt)),
            .acceptArbitration, .refuseArbitration(reasons: "r"),
            .recordArbitralMediation(succeeded: Bool.random(using: &rng), statement: "s"),
            .issueAward(
                Award(
                    items: [AwardItem(amountYuan: Int.random(in: 0...60_000, using: &rng))],
                    monthlyMinimumWageYuan: 2_000, summary: "")),
            .recordDeemedAgreement(note: "n"), .recordCourtFiling(court: "court"), .rejectCourtFiling(reasons: "r"),
            .answer("a"), .close(outcome: "done"), .evaluate(rating: Int.random(in: 0...6, using: &rng), comment: nil),
            .deemAccept, .openLitigation,
        ]
        return commands.randomElement(using: &rng) ?? .close(outcome: "done")
    }

    static func registerOther(_ h: inout WorkflowHarness, _ id: CaseID, _ rng: inout SeededGenerator) throws
        -> PersonID
    {
        let choice = Int.random(in: 0..<6, using: &rng)
        let review = ReviewApplication(
            actReference: "act-\(id)", respondent: "r", actDate: LegalTime.date(of: h.now).adding(days: -10),
            knownOn: LegalTime.date(of: h.now).adding(days: -10))
        let (registration, owner): (Registration, PersonID)
        switch choice {
        case 0:
            registration = County.registration(
                .legalAid, unit: "aid", owner: "aid-staff", dispute: .labour,
                legalAid: LegalAidApplication(
                    matter: .labour, exemption: Bool.random(using: &rng) ? .migrantWorkerWages : nil,
                    exemptionEvidence: "wage list",
                    linkedDeadline: h.now.adding(days: Int64.random(in: 1...20, using: &rng))))
            owner = "aid-staff"
        case 1:
            registration = County.registration(
                .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                review: review)
            owner = "review-officer"
        case 2:
            registration = County.registration(
                .labourArbitration, unit: "labour", owner: "labour-clerk", dispute: .labour)
            owner = "labour-clerk"
        case 3:
            registration = County.registration(
                .commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract,
                arbitrationAgreement: Bool.random(using: &rng))
            owner = "arb-clerk"
        case 4:
            registration = County.registration(.litigation, unit: "court", owner: "court-clerk")
            owner = "court-clerk"
        default:
            registration = County.registration(.consultation, unit: "hotline", owner: "hotline-agent", channel: .online)
            owner = "hotline-agent"
        }
        try h.run(.register(registration), on: id, by: owner)
        return owner
    }

    @Test("Random command sequences keep the invariants")
    func invariants() throws {
        var seen = Set<String>()
        var accepted = 0
        var rejected = 0
        for seed in 1...12 {
            let h = try run(seed: seed, accepted: &accepted, rejected: &rejected)
            for records in h.histories.values { seen.formUnion(records.map(\.event.name)) }
        }
        // The generator reaches the interesting paths, and both outcomes happen often.
        for name in [
            "escalated", "riskFlagged", "referred", "agreementTookEffect", "evaluated", "deadlineBreached",
            "mediationFailed", "judicialConfirmationApplied", "handedOff", "arbitrationOpened", "aidApproved",
            "aidProviderAssigned", "objectionFiled", "reviewAccepted", "reviewDecided", "reviewSuspended",
            "awardIssued", "answered", "deadlineExtended", "deadlinePaused", "deadlineResumed", "qualityReviewed",
        ] {
            #expect(seen.contains(name), "no \(name) in any sequence")
        }
        #expect(accepted > 1_000 && rejected > 1_000, "accepted \(accepted), rejected \(rejected)")
    }

    func run(seed: Int, accepted: inout Int, rejected: inout Int) throws -> WorkflowHarness {
        var rng = SeededGenerator(seed: UInt64(seed))
        var h = try makeHarness()
        let ladder: [Level] = [.village, .township, .county]
        for c in 0..<40 {
            let id = CaseID("s\(seed)-c\(c)")
            h.now = County.at(2025, 1, 2).adding(days: Int64(c) * 7)
            if c % 2 == 1 {
                let owner = try Self.registerOther(&h, id, &rng)
                try runOther(&h, id, owner: owner, &rng, accepted: &accepted, rejected: &rejected)
                continue
            }
            let dispute = Self.disputes.randomElement(using: &rng) ?? .neighbour
            let kind: CaseKind = dispute == .labour && Bool.random(using: &rng) ? .labourMediation : .peopleMediation
            let startUnit: UnitID = ["v1", "t1"].randomElement(using: &rng) ?? "v1"
            let owner: PersonID = startUnit == "v1" ? "m-v1" : "m-t1"
            try h.run(
                .register(County.registration(kind, unit: startUnit, owner: owner, dispute: dispute)), on: id, by: owner
            )
            for step in 0..<40 {
                h.advance(days: Int64.random(in: 0...4, using: &rng))
                if Int.random(in: 0..<5, using: &rng) == 0 { try h.tick() }
                guard let before = h.state(id) else { break }
                let command = Self.randomCommand(before, id, step, &rng)
                let actor: PersonID = Int.random(in: 0..<10, using: &rng) == 0 ? "outsider" : before.owner
                let historyBefore = h.histories[id]?.count ?? 0
                let closedBefore = before.state == "closed"
                do {
                    let decision = try h.run(command, on: id, by: actor)
                    accepted += 1
                    #expect(!closedBefore || command.name == "evaluate", "closed case accepted \(command.name)")
                    for record in decision.cases.flatMap(\.records) {
                        if case .escalated(let from, let to, _, _, let reason, _) = record.event {
                            let oneStep = ladder.firstIndex(of: to) == ladder.firstIndex(of: from).map { $0 + 1 }
                            #expect(
                                oneStep || reason == .riskOfEscalation || reason == .majorOrComplex,
                                "\(from) → \(to) by \(reason)")
                        }
                    }
                } catch {
                    rejected += 1
                    #expect(h.histories[id]?.count == historyBefore, "a rejected command wrote events")
                    if closedBefore && command.name != "evaluate" && actor == before.owner {
                        #expect(error.code == .caseClosed)
                    }
                }
            }
        }
        // Versions are gap-free and replay equals the live state, for every case (including referral targets).
        for (id, records) in h.histories {
            let state = try #require(h.state(id))
            #expect(state.version == UInt64(records.count))
            let replayed = try CaseState.fold(id: id, records: records, definitions: h.definitions)
            #expect(replayed == state, "replay differs for \(id)")
            if let evaluation = state.evaluation {
                #expect(state.state == "closed" && (1...5).contains(evaluation.rating))
            }
            #expect(records.filter { $0.event.name == "evaluated" }.count <= 1)
        }
        return h
    }

    /// Random commands on a non-mediation case: closed cases take only their evaluation, rejected commands write
    /// nothing.
    func runOther(
        _ h: inout WorkflowHarness, _ id: CaseID, owner: PersonID, _ rng: inout SeededGenerator, accepted: inout Int,
        rejected: inout Int
    ) throws {
        for step in 0..<80 {
            h.advance(days: Int64.random(in: 0...3, using: &rng))
            if Int.random(in: 0..<4, using: &rng) == 0 { try h.tick() }
            guard let before = h.state(id) else { return }
            let command = Self.randomOtherCommand(before, id, step, &rng)
            let roll = Int.random(in: 0..<10, using: &rng)
            let actor: PersonID =
                roll == 0 ? "outsider" : roll == 1 ? "bureau-head" : roll == 2 ? "party:p-a" : before.owner
            let historyBefore = h.histories[id]?.count ?? 0
            let closedBefore = before.state == "closed"
            do {
                try h.run(command, on: id, by: actor)
                accepted += 1
                #expect(!closedBefore || command.name == "evaluate", "closed \(before.kind) accepted \(command.name)")
            } catch {
                rejected += 1
                #expect(h.histories[id]?.count == historyBefore, "a rejected command wrote events")
                // The clock's own commands are refused to people before anything else.
                let clockOnly = ["deemAccept", "openLitigation"].contains(command.name)
                if closedBefore && command.name != "evaluate" && actor == before.owner && !clockOnly {
                    #expect(error.code == .caseClosed)
                }
            }
        }
    }
}
