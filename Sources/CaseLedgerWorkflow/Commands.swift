/// A request to change a case. The engine accepts it only when the case's definition allows it in the current
/// state and every guard holds; then it becomes events.
public enum CaseCommand: Sendable, Hashable, Codable {
    // Common
    case register(Registration)
    case handOff(toUnit: UnitID, toPerson: PersonID, reason: String)
    case close(outcome: String)
    case evaluate(rating: Int, comment: String?)
    case extendDeadline(DeadlineExtension)
    /// A command of a region's extra transition (YAML), which records a note and moves the state.
    case custom(name: String, note: String)
    // Mediation (PM4–PM13, LD4)
    case refuseMediation(party: String)
    case startMediation(mediators: [PersonID], chosenByParties: Bool)
    case endMediationAtPartyRequest(party: String)
    case markMajorOrComplex(reason: String)
    case flagRisk(RiskReport)
    case escalate(Escalation)
    case declareFailure(rightsNotice: String, suggestedRoute: Route)
    case reachAgreement(form: AgreementForm, terms: String)
    case signAgreement(Signer)
    case applyJudicialConfirmation(applicants: [String], court: String)
    case refer(Referral)
    // Legal aid (LA)
    case requestMaterials(missing: [String])
    case supplyMaterials
    case withdrawApplication(reason: String)
    case recordHardshipCheck(method: HardshipCheckMethod, qualifies: Bool)
    case approveAid
    case denyAid(reasons: String)
    case grantProvisionalAid(reason: String)
    case assignProvider(PersonID)
    case reassignProvider(PersonID, reason: String)
    case terminateAid(ground: AidTerminationGround, note: String)
    case fileObjection(grounds: String)
    case dismissObjection(reasons: String)
    case orderCorrection(reasons: String)
    case reportMatterEnded
    case submitClosingReport(report: String, documents: [String])
    case recordQualityReview(score: Int, note: String)
    // Administrative review (AR)
    case requestCorrection(items: [String])
    case submitCorrection
    case acceptReview(procedure: ReviewProcedure)
    case refuseFiling(reasons: String)
    case convertToStandard(reason: String)
    case startReviewMediation
    case concludeReviewMediation(statement: String)
    case failReviewMediation
    case settleReview(terms: String)
    case suspendReview(ground: String)
    case resumeReview
    case terminateReview(ground: String)
    case decideReview(ReviewOutcome)
    /// The application sent to the respondent (AR6).
    case serveApplication(on: String)
    case recordRespondentAnswer
    // Arbitration and litigation (LD, CA, LT)
    case acceptArbitration
    case refuseArbitration(reasons: String)
    case recordArbitralMediation(succeeded: Bool, statement: String)
    case issueAward(Award)
    case recordDeemedAgreement(note: String)
    /// A party's objection to the arbitration agreement's validity (CA4: before the first hearing).
    case objectToAgreement(grounds: String)
    case recordFirstHearing
    /// A labour mediation agreement was not performed (LD5): arbitration opens.
    case recordNonPerformance(note: String)
    case recordCourtFiling(court: String)
    case rejectCourtFiling(reasons: String)
    // Consultation (WO)
    case answer(String)
    case convertToCase(newCase: CaseID, registration: Registration)
    // Fired by the clock (`tick`), never by people
    case deemAccept
    case deemAbandoned
    case openArbitration
    case openLitigation

    // JSON names for the values a case carries without a label (commands are never stored; this is the shape
    // the `caseledger exec` lines use, Docs/Commands.md).
    enum RegisterCodingKeys: String, CodingKey { case _0 = "registration" }
    enum ExtendDeadlineCodingKeys: String, CodingKey { case _0 = "extension" }
    enum FlagRiskCodingKeys: String, CodingKey { case _0 = "report" }
    enum EscalateCodingKeys: String, CodingKey { case _0 = "escalation" }
    enum SignAgreementCodingKeys: String, CodingKey { case _0 = "signer" }
    enum ReferCodingKeys: String, CodingKey { case _0 = "referral" }
    enum AssignProviderCodingKeys: String, CodingKey { case _0 = "provider" }
    enum ReassignProviderCodingKeys: String, CodingKey {
        case _0 = "provider"
        case reason
    }
    enum DecideReviewCodingKeys: String, CodingKey { case _0 = "outcome" }
    enum IssueAwardCodingKeys: String, CodingKey { case _0 = "award" }
    enum AnswerCodingKeys: String, CodingKey { case _0 = "answer" }

    /// The command's name, as transitions name it.
    public var name: String {
        switch self {
        case .register: return "register"
        case .handOff: return "handOff"
        case .close: return "close"
        case .evaluate: return "evaluate"
        case .extendDeadline: return "extendDeadline"
        case .custom(let name, _): return name
        case .refuseMediation: return "refuseMediation"
        case .startMediation: return "startMediation"
        case .endMediationAtPartyRequest: return "endMediationAtPartyRequest"
        case .markMajorOrComplex: return "markMajorOrComplex"
        case .flagRisk: return "flagRisk"
        case .escalate: return "escalate"
        case .declareFailure: return "declareFailure"
        case .reachAgreement: return "reachAgreement"
        case .signAgreement: return "signAgreement"
        case .applyJudicialConfirmation: return "applyJudicialConfirmation"
        case .refer: return "refer"
        case .requestMaterials: return "requestMaterials"
        case .supplyMaterials: return "supplyMaterials"
        case .withdrawApplication: return "withdrawApplication"
        case .recordHardshipCheck: return "recordHardshipCheck"
        case .approveAid: return "approveAid"
        case .denyAid: return "denyAid"
        case .grantProvisionalAid: return "grantProvisionalAid"
        case .assignProvider: return "assignProvider"
        case .reassignProvider: return "reassignProvider"
        case .terminateAid: return "terminateAid"
        case .fileObjection: return "fileObjection"
        case .dismissObjection: return "dismissObjection"
        case .orderCorrection: return "orderCorrection"
        case .reportMatterEnded: return "reportMatterEnded"
        case .submitClosingReport: return "submitClosingReport"
        case .recordQualityReview: return "recordQualityReview"
        case .requestCorrection: return "requestCorrection"
        case .submitCorrection: return "submitCorrection"
        case .acceptReview: return "acceptReview"
        case .refuseFiling: return "refuseFiling"
        case .convertToStandard: return "convertToStandard"
        case .startReviewMediation: return "startReviewMediation"
        case .concludeReviewMediation: return "concludeReviewMediation"
        case .failReviewMediation: return "failReviewMediation"
        case .settleReview: return "settleReview"
        case .suspendReview: return "suspendReview"
        case .resumeReview: return "resumeReview"
        case .terminateReview: return "terminateReview"
        case .decideReview: return "decideReview"
        case .serveApplication: return "serveApplication"
        case .recordRespondentAnswer: return "recordRespondentAnswer"
        case .acceptArbitration: return "acceptArbitration"
        case .refuseArbitration: return "refuseArbitration"
        case .recordArbitralMediation(let succeeded, _):
            return succeeded ? "recordArbitralMediationSuccess" : "recordArbitralMediationFailure"
        case .issueAward: return "issueAward"
        case .recordDeemedAgreement: return "recordDeemedAgreement"
        case .objectToAgreement: return "objectToAgreement"
        case .recordFirstHearing: return "recordFirstHearing"
        case .recordNonPerformance: return "recordNonPerformance"
        case .recordCourtFiling: return "recordCourtFiling"
        case .rejectCourtFiling: return "rejectCourtFiling"
        case .answer: return "answer"
        case .convertToCase: return "convertToCase"
        case .deemAccept: return "deemAccept"
        case .deemAbandoned: return "deemAbandoned"
        case .openArbitration: return "openArbitration"
        case .openLitigation: return "openLitigation"
        }
    }

    /// The text fields the command carries, by name, for the definitions' `requires` lists.
    var textFields: [String: String] {
        switch self {
        case .handOff(_, _, let reason): return ["reason": reason]
        case .close(let outcome): return ["outcome": outcome]
        case .custom(_, let note): return ["note": note]
        case .markMajorOrComplex(let reason): return ["reason": reason]
        case .declareFailure(let notice, _): return ["rightsNotice": notice]
        case .reachAgreement(_, let terms): return ["terms": terms]
        case .applyJudicialConfirmation(_, let court): return ["court": court]
        case .withdrawApplication(let reason): return ["reason": reason]
        case .denyAid(let reasons): return ["reasons": reasons]
        case .grantProvisionalAid(let reason): return ["reason": reason]
        case .reassignProvider(_, let reason): return ["reason": reason]
        case .fileObjection(let grounds): return ["grounds": grounds]
        case .dismissObjection(let reasons), .orderCorrection(let reasons): return ["reasons": reasons]
        case .submitClosingReport(let report, _): return ["report": report]
        case .refuseFiling(let reasons), .refuseArbitration(let reasons), .rejectCourtFiling(let reasons):
            return ["reasons": reasons]
        case .convertToStandard(let reason): return ["reason": reason]
        case .concludeReviewMediation(let statement): return ["statement": statement]
        case .settleReview(let terms): return ["terms": terms]
        case .suspendReview(let ground), .terminateReview(let ground): return ["ground": ground]
        case .recordCourtFiling(let court): return ["court": court]
        case .answer(let text): return ["answer": text]
        case .serveApplication(let on): return ["respondent": on]
        case .objectToAgreement(let grounds): return ["grounds": grounds]
        case .recordNonPerformance(let note): return ["note": note]
        case .terminateAid(_, let note), .recordDeemedAgreement(let note): return ["note": note]
        default: return [:]
        }
    }
}

/// A PM7 risk report: the risk, who was told, and the top-level unit that takes the case.
public struct RiskReport: Sendable, Hashable, Codable {
    public var risk: RiskKind
    public var note: String
    /// The local government the report went to.
    public var government: String
    /// The police station, required for crime and public-disorder risks.
    public var police: String?
    /// The unit at the top configured level that takes the case, and its responsible person.
    public var toUnit: UnitID
    public var toPerson: PersonID

    public init(
        risk: RiskKind, note: String, government: String, police: String?, toUnit: UnitID, toPerson: PersonID
    ) {
        self.risk = risk
        self.note = note
        self.government = government
        self.police = police
        self.toUnit = toUnit
        self.toPerson = toPerson
    }
}

/// A move up the mediation ladder (PM4, PM12).
public struct Escalation: Sendable, Hashable, Codable {
    public var toUnit: UnitID
    public var toPerson: PersonID
    public var reason: EscalationReason
    /// The parties who consent (all parties must).
    public var consentingParties: [String]

    public init(toUnit: UnitID, toPerson: PersonID, reason: EscalationReason, consentingParties: [String]) {
        self.toUnit = toUnit
        self.toPerson = toPerson
        self.reason = reason
        self.consentingParties = consentingParties
    }
}

/// A referral out of failed mediation (legal-rules.md §2): creates the linked case atomically with the closing of
/// this one, optionally with a legal aid case attached.
public struct Referral: Sendable, Hashable, Codable {
    public var route: Route
    public var newCase: CaseID
    public var toUnit: UnitID
    public var toPerson: PersonID
    /// For a labour dispute going straight to court: the statutory exception relied on (LD2), e.g. a wage IOU.
    public var exception: String?
    /// For an administrative act: the act reference, for the no-parallel-proceedings lock (AR4).
    public var review: ReviewApplication?
    public var legalAid: AidAttachment?

    public init(
        route: Route, newCase: CaseID, toUnit: UnitID, toPerson: PersonID, exception: String? = nil,
        review: ReviewApplication? = nil, legalAid: AidAttachment? = nil
    ) {
        self.route = route
        self.newCase = newCase
        self.toUnit = toUnit
        self.toPerson = toPerson
        self.exception = exception
        self.review = review
        self.legalAid = legalAid
    }
}

/// A legal aid application attached to a referral.
public struct AidAttachment: Sendable, Hashable, Codable {
    public var aidCase: CaseID
    public var centre: UnitID
    public var owner: PersonID
    public var application: LegalAidApplication

    public init(aidCase: CaseID, centre: UnitID, owner: PersonID, application: LegalAidApplication) {
        self.aidCase = aidCase
        self.centre = centre
        self.owner = owner
        self.application = application
    }
}

/// An extension of a running clock (AR7, LD10, PM13, WO3, LA6).
public struct DeadlineExtension: Sendable, Hashable, Codable {
    public var deadline: String
    public var by: Period
    public var approver: PersonID?
    public var noticeSentAt: Instant?
    public var consentingParties: [String]

    public init(
        deadline: String, by: Period, approver: PersonID? = nil, noticeSentAt: Instant? = nil,
        consentingParties: [String] = []
    ) {
        self.deadline = deadline
        self.by = by
        self.approver = approver
        self.noticeSentAt = noticeSentAt
        self.consentingParties = consentingParties
    }
}
