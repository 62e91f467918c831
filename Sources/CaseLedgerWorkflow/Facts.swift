/// What is registered about a case, whatever the channel (无差别受理).
public struct Registration: Sendable, Hashable, Codable {
    public var kind: CaseKind
    public var channel: Channel
    /// The unit that owns the case from registration on (首问负责制).
    public var unit: UnitID
    /// The responsible person.
    public var owner: PersonID
    /// Where the dispute arose.
    public var division: DivisionCode
    public var parties: [Party]
    public var disputeType: DisputeType
    public var summary: String
    /// When the application was received (postmark date counts, CPL Art 85); defaults to the command time.
    public var receivedAt: Instant?
    /// Legal aid applications (LA1–LA7).
    public var legalAid: LegalAidApplication?
    /// Administrative review applications (AR1–AR4).
    public var review: ReviewApplication?
    /// Whether a valid written arbitration agreement exists (CA2, routing).
    public var arbitrationAgreement: Bool
    /// For labour arbitration: the claim's dates, checked against the 1-year limitation (LD6).
    public var labourClaim: LabourClaim?
    /// Links to other cases (set by referrals).
    public var links: [CaseLink]

    public init(
        kind: CaseKind, channel: Channel, unit: UnitID, owner: PersonID, division: DivisionCode, parties: [Party],
        disputeType: DisputeType, summary: String, receivedAt: Instant? = nil, legalAid: LegalAidApplication? = nil,
        review: ReviewApplication? = nil, arbitrationAgreement: Bool = false, labourClaim: LabourClaim? = nil,
        links: [CaseLink] = []
    ) {
        self.kind = kind
        self.channel = channel
        self.unit = unit
        self.owner = owner
        self.division = division
        self.parties = parties
        self.disputeType = disputeType
        self.summary = summary
        self.receivedAt = receivedAt
        self.legalAid = legalAid
        self.review = review
        self.arbitrationAgreement = arbitrationAgreement
        self.labourClaim = labourClaim
        self.links = links
    }
}

/// The matter of a legal aid application (LA2, plus criminal defence).
public enum AidMatter: String, Sendable, Hashable, Codable, CaseIterable {
    case stateCompensation, socialInsurance, pension, supportPayments, labour, capacity, injury, environment
    case criminalDefence, other
}

/// The Art 32 matters that carry no economic condition (LA3).
public enum NoConditionGround: String, Sendable, Hashable, Codable, CaseIterable {
    case heroesRelatives, braveryAct, wrongfulConvictionCompensation, abuseOrDomesticViolence, otherByLaw
}

/// The Art 42 groups exempt from hardship verification (LA5).
public enum HardshipExemption: String, Sendable, Hashable, Codable, CaseIterable {
    case minorWithoutIncome, elderlyWithoutIncome, disabledWithoutIncome, socialAssistanceRecipient
    case specialCareRecipient, migrantWorkerWages, otherByLaw
}

/// A legal aid application.
public struct LegalAidApplication: Sendable, Hashable, Codable {
    public var matter: AidMatter
    public var noConditionGround: NoConditionGround?
    public var exemption: HardshipExemption?
    /// Supporting documents for the exemption (LA5 needs them).
    public var exemptionEvidence: String?
    /// A limitation period or filing deadline of the underlying matter (LA7).
    public var linkedDeadline: Instant?
    /// Urgent preservation or advance execution is needed (LA7).
    public var urgent: Bool
    /// The case the aid supports, when known.
    public var forCase: CaseID?

    public init(
        matter: AidMatter, noConditionGround: NoConditionGround? = nil, exemption: HardshipExemption? = nil,
        exemptionEvidence: String? = nil, linkedDeadline: Instant? = nil, urgent: Bool = false, forCase: CaseID? = nil
    ) {
        self.matter = matter
        self.noConditionGround = noConditionGround
        self.exemption = exemption
        self.exemptionEvidence = exemptionEvidence
        self.linkedDeadline = linkedDeadline
        self.urgent = urgent
        self.forCase = forCase
    }
}

/// An administrative review application (AR1–AR4).
public struct ReviewApplication: Sendable, Hashable, Codable {
    /// The contested act: one case per act (AR2); also the key of the no-parallel-proceedings lock (AR4).
    public var actReference: String
    public var respondent: String
    /// The day the act was done.
    public var actDate: CivilDate
    /// The day the applicant knew (or should have known) of the act.
    public var knownOn: CivilDate
    /// Whether the applicant was told of the right to review and its time limit (AR1 no-notice variant).
    public var rightsNotified: Bool
    /// The day the applicant learned of the right, when not told (AR1).
    public var learnedOfRightOn: CivilDate?
    /// The act concerns immovable property (20-year absolute bar instead of 5).
    public var immovableProperty: Bool
    /// Days lost to force majeure or another obstacle, which the window does not count (AR1).
    public var obstacleDays: Int
    /// A special law allows a longer window (AR1 "unless a law allows longer"), in days.
    public var statutoryWindowDays: Int?
    /// What kind of act it is: some must go to review before any suit (AR3).
    public var actCategory: ActCategory?

    public init(
        actReference: String, respondent: String, actDate: CivilDate, knownOn: CivilDate, rightsNotified: Bool = true,
        learnedOfRightOn: CivilDate? = nil, immovableProperty: Bool = false, obstacleDays: Int = 0,
        statutoryWindowDays: Int? = nil, actCategory: ActCategory? = nil
    ) {
        self.actReference = actReference
        self.respondent = respondent
        self.actDate = actDate
        self.knownOn = knownOn
        self.rightsNotified = rightsNotified
        self.learnedOfRightOn = learnedOfRightOn
        self.immovableProperty = immovableProperty
        self.obstacleDays = obstacleDays
        self.statutoryWindowDays = statutoryWindowDays
        self.actCategory = actCategory
    }
}

/// Kinds of administrative act that matter for routing (Administrative Review Law Art 23, AR3).
public enum ActCategory: String, Sendable, Hashable, Codable, CaseIterable {
    case onTheSpotPenalty
    /// A decision affecting acquired natural-resource rights.
    case naturalResourceRights
    /// An agency's failure to perform a statutory duty.
    case failureToPerformDuty
    case informationDisclosureRefusal
    /// A matter another law sends to review first.
    case reviewFirstByOtherLaw
    case other

    /// Review is mandatory before administrative litigation (AR3).
    public var requiresReviewFirst: Bool { self != .other }
}

/// A labour claim's dates, for the 1-year arbitration limitation (LD6).
public struct LabourClaim: Sendable, Hashable, Codable {
    /// The day the worker knew (or should have known) of the infringement.
    public var infringementKnownOn: CivilDate
    /// The last day the limitation was interrupted (a claim, a request for relief, the other side agreeing to
    /// perform): it runs afresh from the day after.
    public var interruptedOn: CivilDate?
    /// Days of force majeure during which it was suspended.
    public var suspendedDays: Int
    /// Wage arrears during employment: no limit while employed, then 1 year from the end of employment.
    public var wageArrears: Bool
    public var employmentEndedOn: CivilDate?

    public init(
        infringementKnownOn: CivilDate, interruptedOn: CivilDate? = nil, suspendedDays: Int = 0,
        wageArrears: Bool = false, employmentEndedOn: CivilDate? = nil
    ) {
        self.infringementKnownOn = infringementKnownOn
        self.interruptedOn = interruptedOn
        self.suspendedDays = suspendedDays
        self.wageArrears = wageArrears
        self.employmentEndedOn = employmentEndedOn
    }
}

/// A risk that a dispute escalates (PM7).
public enum RiskKind: String, Sendable, Hashable, Codable, CaseIterable {
    case massIncident, extremeAct, crime, publicDisorder

    /// Crime or public disorder must also be reported to the police.
    public var needsPolice: Bool { self == .crime || self == .publicDisorder }
}

/// Why a case moves up the ladder.
public enum EscalationReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// Mediation failed at this level and the parties agree to continue.
    case failedAtLevel
    /// Beyond this level: complex.
    case complex
    /// Beyond this level: the dispute crosses areas.
    case crossesAreas
    /// Marked major or complex (重大疑难复杂): may go to the top level.
    case majorOrComplex
    /// Flagged at risk of a mass incident, extreme act or crime (PM7): moved to the top level at once.
    case riskOfEscalation
}

public enum AgreementForm: String, Sendable, Hashable, Codable { case written, oral }

/// Who signs a written mediation agreement (PM10).
public enum Signer: Sendable, Hashable, Codable {
    case party(String)
    case mediator(PersonID)
    case committeeSeal
}

/// A mediation agreement (PM10).
public struct Agreement: Sendable, Hashable, Codable {
    public var form: AgreementForm
    public var terms: String
    public var signedParties: Set<String>
    public var mediatorSigned: Bool
    public var sealed: Bool
    /// When the agreement took effect: when reached (oral) or at the last signature or seal (written).
    public var effectiveAt: Instant?
    public var judicialConfirmationAppliedAt: Instant?
}

public enum HardshipCheckMethod: String, Sendable, Hashable, Codable { case dataSharing, integrityPledge }

/// The eight termination grounds of Legal Aid Law Art 48 (LA10).
public enum AidTerminationGround: String, Sendable, Hashable, Codable, CaseIterable {
    case obtainedByFraud, concealedFactsOrFalseEvidence, usedForIllegalActivity, noLongerQualifies
    case caseEndedOrWithdrawn, hiredOwnLawyer, recipientRequest, otherLegalGround
}

public enum ReviewProcedure: String, Sendable, Hashable, Codable { case standard, simplified }

/// The outcomes of an administrative review decision (AR7).
public enum ReviewOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case upheld, revoked, changed, confirmedIllegal, performanceOrdered, dismissed
}

/// One claim item of a labour award (LD11).
public struct AwardItem: Sendable, Hashable, Codable {
    /// The amount in yuan; `nil` for a non-monetary item.
    public var amountYuan: Int?
    /// The item concerns national labour standards (hours, rest, social insurance).
    public var labourStandards: Bool

    public init(amountYuan: Int?, labourStandards: Bool = false) {
        self.amountYuan = amountYuan
        self.labourStandards = labourStandards
    }
}

/// An arbitral award.
public struct Award: Sendable, Hashable, Codable {
    public var items: [AwardItem]
    /// The local monthly minimum wage, for the 12× cap of LD11.
    public var monthlyMinimumWageYuan: Int
    public var summary: String
    /// Computed by the engine (LD11): every item within the cap or about labour standards.
    public var isFinal: Bool

    public init(items: [AwardItem], monthlyMinimumWageYuan: Int, summary: String) {
        self.items = items
        self.monthlyMinimumWageYuan = monthlyMinimumWageYuan
        self.summary = summary
        self.isFinal = Award.classify(items, wage: monthlyMinimumWageYuan)
    }

    /// LD11: final when every item is about labour standards or a sum not above 12 × the monthly minimum wage.
    static func classify(_ items: [AwardItem], wage: Int) -> Bool {
        let (product, overflow) = wage.multipliedReportingOverflow(by: 12)
        let cap = overflow ? Int.max : product
        return !items.isEmpty
            && items.allSatisfy { item in
                item.labourStandards || (item.amountYuan.map { $0 <= cap } ?? false)
            }
    }
}

/// A citizen's evaluation of a closed case (一单一评).
public struct Evaluation: Sendable, Hashable, Codable {
    public var rating: Int
    public var comment: String?
    public var at: Instant
}
