/// One workflow event of a case, as stored in the log: when it happened, who did it, the transition it completes
/// (which the fold looks up in the case's definition version), and what happened.
public struct WorkflowRecord: Sendable, Hashable, Codable {
    /// The time of the command (from the injected clock).
    public var at: Instant
    public var actor: PersonID
    /// The command whose transition sets the case's next state; `nil` for events that leave the state alone.
    public var transition: String?
    public var event: CaseEvent

    public init(at: Instant, actor: PersonID, transition: String? = nil, event: CaseEvent) {
        self.at = at
        self.actor = actor
        self.transition = transition
        self.event = event
    }
}

/// What happened to a case.
public enum CaseEvent: Sendable, Hashable, Codable {
    // Common
    case registered(Registration, definitionVersion: String, level: Level)
    case handedOff(toUnit: UnitID, toPerson: PersonID, level: Level, reason: String)
    case closed(outcome: String)
    case evaluated(rating: Int, comment: String?)
    case referred(route: Route, newCase: CaseID, exception: String?)
    case legalAidAttached(aidCase: CaseID)
    case custom(command: String, note: String)
    // Mediation (PM)
    case partyRefused(party: String)
    case mediationStarted(mediators: [PersonID], chosenByParties: Bool)
    case mediationEndedByParty(party: String)
    case markedMajorOrComplex(reason: String)
    case riskFlagged(risk: RiskKind, note: String)
    case reportedToGovernment(authority: String)
    case reportedToPolice(station: String)
    case escalated(
        from: Level, to: Level, toUnit: UnitID, toPerson: PersonID, reason: EscalationReason,
        consentingParties: [String])
    case mediationFailed(rightsNotice: String, suggestedRoute: Route)
    case agreementReached(form: AgreementForm, terms: String)
    case agreementSigned(signer: Signer)
    case agreementTookEffect(effectiveAt: Instant)
    case judicialConfirmationApplied(applicants: [String], court: String)
    case arbitrationOpened
    // Legal aid (LA)
    case materialsRequested(missing: [String])
    case materialsSupplied
    case applicationWithdrawn(reason: String)
    case hardshipChecked(method: HardshipCheckMethod, qualifies: Bool)
    case aidApproved(basis: String)
    case aidDenied(reasons: String)
    case provisionalAidSuggested(linkedDeadline: Instant)
    case provisionalAidGranted(reason: String)
    case aidProviderAssigned(provider: PersonID, reason: String?)
    case aidTerminated(ground: AidTerminationGround, note: String)
    case objectionFiled(grounds: String)
    case objectionDismissed(reasons: String, nextRoute: Route)
    case correctionOrdered(reasons: String)
    case matterEnded
    case closingReportSubmitted(report: String, documents: [String])
    case qualityReviewed(score: Int, note: String)
    // Administrative review (AR)
    case correctionRequested(items: [String])
    case correctionSubmitted
    case deemedAbandoned
    case reviewAccepted(procedure: ReviewProcedure, deemed: Bool)
    case filingRefused(reasons: String)
    case procedureConverted(reason: String)
    case reviewMediationStarted
    case reviewMediationConcluded(statement: String)
    case reviewMediationFailed
    case reviewSettled(terms: String)
    case reviewSuspended(ground: String)
    case reviewResumed
    case reviewTerminated(ground: String)
    case reviewDecided(outcome: ReviewOutcome)
    case applicationServed(respondent: String)
    case respondentAnswered
    // Arbitration and litigation (LD, CA, LT)
    case arbitrationAccepted
    case arbitrationRefused(reasons: String)
    case arbitralMediationSucceeded(statement: String)
    case arbitralMediationFailed
    case awardIssued(Award)
    case litigationOpened(rule: String)
    case arbitrationAgreementDeemed(note: String)
    case agreementValidityObjected(grounds: String)
    case firstHearingHeld
    case agreementNotPerformed(note: String)
    case courtFilingRecorded(court: String)
    case courtFilingRejected(reasons: String)
    // Consultation (WO)
    case answered(answer: String)
    case convertedToCase(newCase: CaseID, kind: CaseKind)
    // Clocks
    case deadlineSet(DeadlineState)
    case deadlinePaused(id: String)
    case deadlineResumed(id: String, end: PeriodEnd)
    case deadlineExtended(id: String, by: Period, end: PeriodEnd, approver: PersonID?, noticeAt: Instant?)
    case deadlineApproaching(id: String, dueAt: Instant)
    case deadlineBreached(id: String, dueAt: Instant)
    case deadlineStopped(id: String)
    /// A provisional end counted again once the holiday calendar covers its year.
    case deadlineRecounted(id: String, end: PeriodEnd)
    /// The command a breach fires was refused by a rule (e.g. AR4 on a deemed acceptance); the breach stands.
    case automaticCommandRefused(command: String, deadline: String, rule: String?, reason: String)

    /// The schema version this release writes for the event's type, and the only one it folds: older stored
    /// versions must be upcast to it (``currentSchemaVersion(ofType:)``).
    public var schemaVersion: UInt32 { Self.currentSchemaVersion(ofType: name) }

    /// The schema version this release writes and folds for events of the log type `type` (an event ``name``).
    ///
    /// Every type is at version 1 until a release changes the shape of its payload: that release lists the type in
    /// `changedSchemas` with the next version and ships an upcaster from the previous one, so stores it did not
    /// write are read in the new shape, and events it writes are never upcast again.
    public static func currentSchemaVersion(ofType type: String) -> UInt32 {
        changedSchemas.isEmpty ? 1 : changedSchemas[type] ?? 1
    }

    /// The types whose payload changed since version 1, with their current version. None so far.
    private static let changedSchemas: [String: UInt32] = [:]

    /// The event's name, used as the log's event type.
    public var name: String {
        switch self {
        case .registered: return "registered"
        case .handedOff: return "handedOff"
        case .closed: return "closed"
        case .evaluated: return "evaluated"
        case .referred: return "referred"
        case .legalAidAttached: return "legalAidAttached"
        case .custom: return "custom"
        case .partyRefused: return "partyRefused"
        case .mediationStarted: return "mediationStarted"
        case .mediationEndedByParty: return "mediationEndedByParty"
        case .markedMajorOrComplex: return "markedMajorOrComplex"
        case .riskFlagged: return "riskFlagged"
        case .reportedToGovernment: return "reportedToGovernment"
        case .reportedToPolice: return "reportedToPolice"
        case .escalated: return "escalated"
        case .mediationFailed: return "mediationFailed"
        case .agreementReached: return "agreementReached"
        case .agreementSigned: return "agreementSigned"
        case .agreementTookEffect: return "agreementTookEffect"
        case .judicialConfirmationApplied: return "judicialConfirmationApplied"
        case .arbitrationOpened: return "arbitrationOpened"
        case .materialsRequested: return "materialsRequested"
        case .materialsSupplied: return "materialsSupplied"
        case .applicationWithdrawn: return "applicationWithdrawn"
        case .hardshipChecked: return "hardshipChecked"
        case .aidApproved: return "aidApproved"
        case .aidDenied: return "aidDenied"
        case .provisionalAidSuggested: return "provisionalAidSuggested"
        case .provisionalAidGranted: return "provisionalAidGranted"
        case .aidProviderAssigned: return "aidProviderAssigned"
        case .aidTerminated: return "aidTerminated"
        case .objectionFiled: return "objectionFiled"
        case .objectionDismissed: return "objectionDismissed"
        case .correctionOrdered: return "correctionOrdered"
        case .matterEnded: return "matterEnded"
        case .closingReportSubmitted: return "closingReportSubmitted"
        case .qualityReviewed: return "qualityReviewed"
        case .correctionRequested: return "correctionRequested"
        case .correctionSubmitted: return "correctionSubmitted"
        case .deemedAbandoned: return "deemedAbandoned"
        case .reviewAccepted: return "reviewAccepted"
        case .filingRefused: return "filingRefused"
        case .procedureConverted: return "procedureConverted"
        case .reviewMediationStarted: return "reviewMediationStarted"
        case .reviewMediationConcluded: return "reviewMediationConcluded"
        case .reviewMediationFailed: return "reviewMediationFailed"
        case .reviewSettled: return "reviewSettled"
        case .reviewSuspended: return "reviewSuspended"
        case .reviewResumed: return "reviewResumed"
        case .reviewTerminated: return "reviewTerminated"
        case .reviewDecided: return "reviewDecided"
        case .applicationServed: return "applicationServed"
        case .respondentAnswered: return "respondentAnswered"
        case .arbitrationAccepted: return "arbitrationAccepted"
        case .arbitrationRefused: return "arbitrationRefused"
        case .arbitralMediationSucceeded: return "arbitralMediationSucceeded"
        case .arbitralMediationFailed: return "arbitralMediationFailed"
        case .awardIssued: return "awardIssued"
        case .litigationOpened: return "litigationOpened"
        case .arbitrationAgreementDeemed: return "arbitrationAgreementDeemed"
        case .agreementValidityObjected: return "agreementValidityObjected"
        case .firstHearingHeld: return "firstHearingHeld"
        case .agreementNotPerformed: return "agreementNotPerformed"
        case .courtFilingRecorded: return "courtFilingRecorded"
        case .courtFilingRejected: return "courtFilingRejected"
        case .answered: return "answered"
        case .convertedToCase: return "convertedToCase"
        case .deadlineSet: return "deadlineSet"
        case .deadlinePaused: return "deadlinePaused"
        case .deadlineResumed: return "deadlineResumed"
        case .deadlineExtended: return "deadlineExtended"
        case .deadlineApproaching: return "deadlineApproaching"
        case .deadlineBreached: return "deadlineBreached"
        case .deadlineStopped: return "deadlineStopped"
        case .deadlineRecounted: return "deadlineRecounted"
        case .automaticCommandRefused: return "automaticCommandRefused"
        }
    }
}

/// A running (or finished) statutory clock of a case, as stored in the log.
public struct DeadlineState: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable { case running, paused, stopped, breached }

    public var id: String
    public var rule: String
    public var unit: PeriodUnit
    public var startedAt: Instant
    public var end: PeriodEnd
    /// How long before the end the `approaching` warning is due (microseconds); `nil` for none.
    public var warnLead: Int64?
    public var status: Status
    public var pausedAt: Instant?
    public var warned: Bool
    public var extensionsUsed: Int
    /// `false` for a party's window, which is recorded but never fires.
    public var fires: Bool
    public var onBreach: String?

    public var dueAt: Instant { end.dueAt }
    /// When the `approaching` warning is due.
    public var warnAt: Instant? {
        warnLead.map { Instant(microsecondsSinceEpoch: end.dueAt.microsecondsSinceEpoch - $0) }
    }
    /// Whether the clock is still counting or paused (not met, not breached).
    public var isOpen: Bool { status == .running || status == .paused }
}
