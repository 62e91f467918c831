/// What is known about a legal aid case.
public struct LegalAidFacts: Sendable, Hashable, Codable {
    public var application: LegalAidApplication
    public var hardshipChecked: Bool = false
    public var hardshipQualifies: Bool = false
    public var provisional: Bool = false
    public var provider: PersonID?
    public var termination: AidTerminationGround?
    public var objectionFiledFrom: String?
    public var missingMaterials: [String] = []
    public var qualityScore: Int?
}

/// What is known about an administrative review case.
public struct ReviewFacts: Sendable, Hashable, Codable {
    public var application: ReviewApplication
    public var procedure: ReviewProcedure?
    public var deemedAccepted: Bool = false
    public var outcome: ReviewOutcome?
}

/// A case's current state: a pure fold of its events through its definition version.
public struct CaseState: Sendable, Hashable {
    public let id: CaseID
    public private(set) var kind: CaseKind
    /// The definition version the case was registered under, and keeps.
    public private(set) var definitionVersion: String
    /// The lifecycle state (a state name of the definition).
    public private(set) var state: String
    /// The number of events folded: the case stream's version.
    public private(set) var version: UInt64 = 0
    public private(set) var registeredAt: Instant
    public private(set) var receivedAt: Instant
    public private(set) var lastEventAt: Instant
    public private(set) var channel: Channel
    public private(set) var division: DivisionCode
    public private(set) var level: Level
    public private(set) var unit: UnitID
    public private(set) var owner: PersonID
    public private(set) var parties: [Party]
    public private(set) var disputeType: DisputeType
    public private(set) var summary: String
    public private(set) var arbitrationAgreement: Bool
    /// A labour claim's limitation dates (LD6).
    public private(set) var labourClaim: LabourClaim?
    public private(set) var links: [CaseLink]
    // Mediation
    public private(set) var mediators: [PersonID] = []
    public private(set) var refusedBy: [String] = []
    public private(set) var endedBy: String?
    public private(set) var majorOrComplex = false
    public private(set) var risk: RiskKind?
    public private(set) var reportedToGovernment = false
    public private(set) var reportedToPolice = false
    public private(set) var escalations = 0
    public private(set) var failure: Route?
    public private(set) var agreement: Agreement?
    /// Routes opened by a clock or refusal (LD4: arbitration; LD7/LD10: litigation).
    public private(set) var openedRoutes: [String] = []
    // Other kinds
    public private(set) var legalAid: LegalAidFacts?
    public private(set) var review: ReviewFacts?
    public private(set) var award: Award?
    public private(set) var answered = false
    /// The first hearing was held (CA4: objections to the agreement come before it).
    public private(set) var firstHearingHeld = false
    // Common
    public private(set) var deadlines: [DeadlineState] = []
    public private(set) var outcome: String?
    public private(set) var closedAt: Instant?
    public private(set) var evaluation: Evaluation?

    /// The party references.
    public var partyReferences: [String] { parties.map(\.reference) }

    public func deadline(_ id: String) -> DeadlineState? { deadlines.first { $0.id == id } }

    /// Starts a case from its `registered` event.
    init(
        id: CaseID, registration r: Registration, definitionVersion: String, level: Level, at: Instant,
        initialState: String
    ) {
        self.id = id
        kind = r.kind
        self.definitionVersion = definitionVersion
        state = initialState
        registeredAt = at
        receivedAt = r.receivedAt ?? at
        lastEventAt = at
        channel = r.channel
        division = r.division
        self.level = level
        unit = r.unit
        owner = r.owner
        parties = r.parties
        disputeType = r.disputeType
        summary = r.summary
        arbitrationAgreement = r.arbitrationAgreement
        labourClaim = r.labourClaim
        links = r.links
        if let application = r.legalAid { legalAid = LegalAidFacts(application: application) }
        if let application = r.review { review = ReviewFacts(application: application) }
        version = 1
    }

    /// Folds a case's records, the first of which must be its registration.
    ///
    /// - Parameter definition: the definitions by version; the fold uses the one the case was registered under.
    /// - Throws: ``WorkflowError`` with code `corruptHistory` when a record cannot follow the ones before it, or
    ///   `noDefinition` when the case's version is not loaded.
    public static func fold(
        id: CaseID, records: some Sequence<WorkflowRecord>, definitions: DefinitionRegistry
    ) throws(WorkflowError) -> CaseState? {
        var state: CaseState?
        var definition: WorkflowDefinition?
        for record in records {
            if var current = state, let definition {
                try current.apply(record, definition: definition)
                state = current
            } else {
                guard case .registered(let registration, let version, let level) = record.event else {
                    throw WorkflowError(
                        .corruptHistory, case: id, "the first event is '\(record.event.name)', not 'registered'")
                }
                guard let found = definitions.definition(kind: registration.kind, version: version) else {
                    throw WorkflowError(
                        .noDefinition, case: id,
                        "the case was registered under \(registration.kind) definition '\(version)', which is not "
                            + "loaded; load that version to replay it")
                }
                definition = found
                state = CaseState(
                    id: id, registration: registration, definitionVersion: version, level: level, at: record.at,
                    initialState: found.initialState)
            }
        }
        return state
    }

    /// Applies one record that follows the case's history.
    public mutating func apply(_ record: WorkflowRecord, definition: WorkflowDefinition) throws(WorkflowError) {
        if let command = record.transition {
            guard let transition = definition.transition(command, from: state) else {
                throw WorkflowError(
                    .corruptHistory, case: id,
                    "event '\(record.event.name)' completes '\(command)', which \(kind) \(definitionVersion) does "
                        + "not allow in state '\(state)'")
            }
            if let to = transition.to { state = to }
        }
        version += 1
        lastEventAt = max(lastEventAt, record.at)
        let at = record.at
        switch record.event {
        case .registered:
            throw WorkflowError(.corruptHistory, case: id, "a second 'registered' event at version \(version)")
        case .handedOff(let toUnit, let toPerson, let level, _):
            unit = toUnit
            owner = toPerson
            self.level = level
        case .closed(let outcome):
            self.outcome = outcome
            closedAt = at
        case .evaluated(let rating, let comment):
            evaluation = Evaluation(rating: rating, comment: comment, at: at)
        case .referred(_, let newCase, _):
            links.append(CaseLink(.referredTo, newCase))
        case .legalAidAttached(let aidCase):
            links.append(CaseLink(.legalAid, aidCase))
        case .custom: break
        case .partyRefused(let party):
            if !refusedBy.contains(party) { refusedBy.append(party) }
        case .mediationStarted(let mediators, _):
            self.mediators = mediators
        case .mediationEndedByParty(let party):
            endedBy = party
        case .markedMajorOrComplex:
            majorOrComplex = true
        case .riskFlagged(let risk, _):
            self.risk = risk
        case .reportedToGovernment:
            reportedToGovernment = true
        case .reportedToPolice:
            reportedToPolice = true
        case .escalated(_, let to, let toUnit, let toPerson, let reason, let consenting):
            level = to
            unit = toUnit
            owner = toPerson
            escalations += 1
            mediators = []
            failure = nil
            // A consented escalation continues mediation; a risk move (PM7) does not override a party's ending.
            if reason != .riskOfEscalation { endedBy = nil }
            // Consenting to go on at the next level withdraws a party's earlier refusal (PM4).
            refusedBy.removeAll { consenting.contains($0) }
        case .mediationFailed(_, let route):
            failure = route
        case .agreementReached(let form, let terms):
            agreement = Agreement(
                form: form, terms: terms, signedParties: [], mediatorSigned: false, sealed: false,
                effectiveAt: nil, judicialConfirmationAppliedAt: nil)
        case .agreementSigned(let signer):
            switch signer {
            case .party(let party): agreement?.signedParties.insert(party)
            case .mediator: agreement?.mediatorSigned = true
            case .committeeSeal: agreement?.sealed = true
            }
        case .agreementTookEffect(let effectiveAt):
            agreement?.effectiveAt = effectiveAt
        case .judicialConfirmationApplied:
            agreement?.judicialConfirmationAppliedAt = at
        case .arbitrationOpened:
            if !openedRoutes.contains("arbitration") { openedRoutes.append("arbitration") }
        case .litigationOpened:
            if !openedRoutes.contains("litigation") { openedRoutes.append("litigation") }
        case .materialsRequested(let missing):
            legalAid?.missingMaterials = missing
        case .materialsSupplied:
            legalAid?.missingMaterials = []
        case .applicationWithdrawn(let reason):
            outcome = "withdrawn: \(reason)"
        case .hardshipChecked(_, let qualifies):
            legalAid?.hardshipChecked = true
            legalAid?.hardshipQualifies = qualifies
        case .aidApproved, .provisionalAidSuggested, .aidDenied, .objectionFiled, .correctionOrdered, .matterEnded:
            break
        case .provisionalAidGranted:
            legalAid?.provisional = true
        case .aidProviderAssigned(let provider, _):
            legalAid?.provider = provider
        case .aidTerminated(let ground, _):
            legalAid?.termination = ground
        case .objectionDismissed: break
        case .closingReportSubmitted: break
        case .qualityReviewed(let score, _):
            legalAid?.qualityScore = score
        case .correctionRequested, .correctionSubmitted, .deemedAbandoned, .filingRefused, .reviewMediationStarted,
            .reviewMediationConcluded, .reviewMediationFailed, .reviewSettled, .reviewSuspended, .reviewResumed,
            .reviewTerminated:
            break
        case .reviewAccepted(let procedure, let deemed):
            review?.procedure = procedure
            review?.deemedAccepted = deemed
        case .procedureConverted:
            review?.procedure = .standard
        case .reviewDecided(let outcome):
            review?.outcome = outcome
        case .arbitrationAccepted, .arbitrationRefused, .arbitralMediationSucceeded, .arbitralMediationFailed,
            .courtFilingRecorded, .courtFilingRejected:
            break
        case .arbitrationAgreementDeemed:
            arbitrationAgreement = true
        case .awardIssued(let award):
            self.award = award
        case .answered:
            answered = true
        case .convertedToCase(let newCase, _):
            links.append(CaseLink(.convertedTo, newCase))
        case .deadlineSet(let deadline):
            deadlines.removeAll { $0.id == deadline.id }
            deadlines.append(deadline)
        case .deadlinePaused(let id):
            update(id) {
                $0.status = .paused
                $0.pausedAt = at
            }
        case .deadlineResumed(let id, let end):
            update(id) {
                $0.status = .running
                $0.pausedAt = nil
                // The warning is owed again only for a new end: a pause within one day moves nothing.
                if $0.end.dueAt != end.dueAt { $0.warned = false }
                $0.end = end
            }
        case .deadlineExtended(let id, _, let end, _, _):
            update(id) {
                $0.end = end
                $0.extensionsUsed += 1
                $0.warned = false
                if $0.status == .breached { $0.status = .running }
            }
        case .deadlineApproaching(let id, _):
            update(id) { $0.warned = true }
        case .deadlineBreached(let id, _):
            update(id) { $0.status = .breached }
        case .deadlineStopped(let id):
            update(id) { $0.status = .stopped }
        case .automaticCommandRefused, .applicationServed, .respondentAnswered, .agreementValidityObjected,
            .agreementNotPerformed:
            break
        case .firstHearingHeld:
            firstHearingHeld = true
        case .deadlineRecounted(let id, let end):
            update(id) {
                if $0.end.dueAt != end.dueAt { $0.warned = false }
                $0.end = end
            }
        }
    }

    private mutating func update(_ id: String, _ change: (inout DeadlineState) -> Void) {
        if let index = deadlines.firstIndex(where: { $0.id == id }) { change(&deadlines[index]) }
    }

    /// Whether the case is in a terminal state.
    public func isClosed(under definition: WorkflowDefinition) -> Bool { definition.isTerminal(state) }
}
