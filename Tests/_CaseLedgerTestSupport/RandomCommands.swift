public import CaseLedgerWorkflow

/// Random commands for property tests (seeded, so a failure repeats): often not allowed in the case's state, so
/// that both the accepted and the refused paths are taken. Shared by the workflow's property tests and the
/// projections' comparison of bulk and incremental views.
public enum RandomCommands {
    public static let units: [UnitID] = ["v1", "v2", "t1", "t2", "centre", "court", "labour", "arbitration", "review"]
    public static let routes = Route.allCases
    public static let disputes: [DisputeType] = [
        .neighbour, .labour, .marriage, .contract, .administrativeAct, .landOwnership,
    ]

    /// A random command that may or may not be allowed in the case's state.
    public static func mediation(_ state: CaseState?, _ id: CaseID, _ n: Int, _ rng: inout SeededGenerator)
        -> CaseCommand
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
    public static func other(_ state: CaseState, _ id: CaseID, _ n: Int, _ rng: inout SeededGenerator)
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

    /// A registration of one of the other kinds (legal aid, review, labour and commercial arbitration, litigation,
    /// consultation) received at `now`, and its owner.
    public static func otherRegistration(_ id: CaseID, now: Instant, _ rng: inout SeededGenerator)
        -> (registration: Registration, owner: PersonID)
    {
        let choice = Int.random(in: 0..<6, using: &rng)
        let review = ReviewApplication(
            actReference: "act-\(id)", respondent: "r", actDate: LegalTime.date(of: now).adding(days: -10),
            knownOn: LegalTime.date(of: now).adding(days: -10))
        switch choice {
        case 0:
            return (
                County.registration(
                    .legalAid, unit: "aid", owner: "aid-staff", dispute: .labour,
                    legalAid: LegalAidApplication(
                        matter: .labour, exemption: Bool.random(using: &rng) ? .migrantWorkerWages : nil,
                        exemptionEvidence: "wage list",
                        linkedDeadline: now.adding(days: Int64.random(in: 1...20, using: &rng)))),
                "aid-staff"
            )
        case 1:
            return (
                County.registration(
                    .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                    review: review),
                "review-officer"
            )
        case 2:
            return (
                County.registration(.labourArbitration, unit: "labour", owner: "labour-clerk", dispute: .labour),
                "labour-clerk"
            )
        case 3:
            return (
                County.registration(
                    .commercialArbitration, unit: "arbitration", owner: "arb-clerk", dispute: .contract,
                    arbitrationAgreement: Bool.random(using: &rng)),
                "arb-clerk"
            )
        case 4:
            return (County.registration(.litigation, unit: "court", owner: "court-clerk"), "court-clerk")
        default:
            return (
                County.registration(.consultation, unit: "hotline", owner: "hotline-agent", channel: .online),
                "hotline-agent"
            )
        }
    }
}
