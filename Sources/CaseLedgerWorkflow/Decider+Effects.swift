extension Decider {
    /// Emits the events of an accepted command. The first event carries the transition.
    mutating func apply(_ command: CaseCommand, transition spec: TransitionSpec) throws(WorkflowError) {
        let t = spec.command
        let directory = context.directory
        switch command {
        case .register:
            throw fail(.caseExists, "the case is registered already")
        case .handOff(let toUnit, let toPerson, let reason):
            guard let unit = directory.unit(toUnit) else {
                throw fail(.unknownUnit, "unit '\(toUnit)' is not in the directory")
            }
            guard directory.mayAct(toPerson, for: toUnit) else {
                throw fail(.notAuthorized, "'\(toPerson)' does not belong to unit '\(toUnit)'")
            }
            guard Decider.unitKinds(for: state.kind).contains(unit.kind) else {
                throw fail(.invalidField, "unit '\(toUnit)' is a \(unit.kind) and cannot own a \(state.kind) case")
            }
            if state.kind.isMediation, unit.level != state.level {
                throw violation(
                    "PM12", "a hand-off keeps the case at \(state.level) level; moving levels is an escalation")
            }
            if state.kind == .legalAid, !unit.division.contains(state.division) {
                throw violation(
                    "LA1", "centre '\(toUnit)' (\(unit.division)) does not serve \(state.division), where the matter is"
                )
            }
            if state.kind.isMediation, !unit.division.contains(state.division) {
                throw violation(
                    "PM12", "unit '\(toUnit)' (\(unit.division)) does not cover the dispute's place \(state.division)")
            }
            guard toUnit != state.unit || toPerson != state.owner else {
                throw fail(.invalidField, "the case is already owned by '\(toPerson)' of '\(toUnit)'")
            }
            let level = state.kind.isMediation ? state.level : unit.division.level
            try emit(.handedOff(toUnit: toUnit, toPerson: toPerson, level: level, reason: reason), transition: t)
        case .close(let outcome):
            try emit(.closed(outcome: outcome), transition: t)
        case .evaluate(let rating, let comment):
            guard (1...5).contains(rating) else {
                throw fail(.invalidField, rule: "EVAL", "a rating is 1 to 5, not \(rating)")
            }
            guard state.evaluation == nil else {
                throw violation("EVAL", "the case has its evaluation already; each case takes exactly one")
            }
            try emit(.evaluated(rating: rating, comment: comment), transition: t)
        case .extendDeadline(let x):
            try extend(x, transition: t)
        case .custom(let name, let note):
            guard Decider.builtInCommands.contains(name) == false else {
                throw fail(.invalidField, "'\(name)' is a built-in command; send it as such")
            }
            try emit(.custom(command: name, note: note), transition: t)
        case .refuseMediation(let party):
            try requireParty(party, rule: "PM4")
            try emit(.partyRefused(party: party), transition: t)
        case .startMediation(let mediators, let chosen):
            try emit(.mediationStarted(mediators: mediators, chosenByParties: chosen), transition: t)
        case .endMediationAtPartyRequest(let party):
            try requireParty(party, rule: "PM4")
            try emit(.mediationEndedByParty(party: party), transition: t)
        case .markMajorOrComplex(let reason):
            try emit(.markedMajorOrComplex(reason: reason), transition: t)
        case .flagRisk(let report):
            try emit(.riskFlagged(risk: report.risk, note: report.note), transition: t)
            try emit(.reportedToGovernment(authority: report.government))
            if let police = report.police, !police.isEmpty { try emit(.reportedToPolice(station: police)) }
            let top = definition.ladder.last ?? state.level
            if state.level != top || state.unit != report.toUnit {
                try emit(
                    .escalated(
                        from: state.level, to: top, toUnit: report.toUnit, toPerson: report.toPerson,
                        reason: .riskOfEscalation, consentingParties: []))
            }
        case .escalate(let e):
            guard let target = directory.unit(e.toUnit) else {
                throw fail(.unknownUnit, "unit '\(e.toUnit)' is not in the directory")
            }
            try emit(
                .escalated(
                    from: state.level, to: target.level, toUnit: e.toUnit, toPerson: e.toPerson, reason: e.reason,
                    consentingParties: e.consentingParties), transition: t)
        case .declareFailure(let notice, let route):
            try emit(.mediationFailed(rightsNotice: notice, suggestedRoute: route), transition: t)
        case .reachAgreement(let form, let terms):
            try emit(.agreementReached(form: form, terms: terms), transition: t)
            if form == .oral { try emit(.agreementTookEffect(effectiveAt: now)) }
        case .signAgreement(let signer):
            guard let agreement = state.agreement, agreement.form == .written else {
                throw violation("PM10", "only a written agreement is signed; an oral one takes effect when reached")
            }
            guard agreement.effectiveAt == nil else {
                throw fail(.invalidField, rule: "PM10", "the agreement has taken effect already")
            }
            switch signer {
            case .party(let p):
                try requireParty(p, rule: "PM10")
                if agreement.signedParties.contains(p) {
                    throw fail(.invalidField, rule: "PM10", "party '\(p)' has signed already")
                }
            case .mediator(let m):
                guard state.mediators.contains(m) else {
                    throw violation("PM10", "'\(m)' is not a mediator of this case")
                }
                if agreement.mediatorSigned {
                    throw fail(.invalidField, rule: "PM10", "the mediator has signed already")
                }
            case .committeeSeal:
                if agreement.sealed { throw fail(.invalidField, rule: "PM10", "the seal is applied already") }
            }
            try emit(.agreementSigned(signer: signer), transition: t)
            if let a = state.agreement, a.mediatorSigned, a.sealed,
                Set(state.partyReferences).isSubset(of: a.signedParties)
            {
                try emit(.agreementTookEffect(effectiveAt: now))
            }
        case .applyJudicialConfirmation(let applicants, let court):
            try emit(.judicialConfirmationApplied(applicants: applicants, court: court), transition: t)
        case .refer(let referral):
            try refer(referral, transition: t)
        case .requestMaterials(let missing):
            guard !missing.isEmpty, missing.allSatisfy({ !$0.isEmpty }) else {
                throw fail(.missingField, rule: "LA6", "list every missing material at once")
            }
            try emit(.materialsRequested(missing: missing), transition: t)
        case .supplyMaterials:
            try emit(.materialsSupplied, transition: t)
        case .withdrawApplication(let reason):
            try emit(.applicationWithdrawn(reason: reason), transition: t)
            try emit(.closed(outcome: "withdrawn"))
        case .recordHardshipCheck(let method, let qualifies):
            try emit(.hardshipChecked(method: method, qualifies: qualifies), transition: t)
        case .approveAid:
            let basis: String
            if let ground = state.legalAid?.application.noConditionGround {
                basis = "no economic condition (Art 32): \(ground.rawValue)"
            } else if let exemption = state.legalAid?.application.exemption {
                basis = "exempt from hardship check (Art 42): \(exemption.rawValue)"
            } else {
                basis = "hardship check passed"
            }
            try emit(.aidApproved(basis: basis), transition: t)
        case .denyAid(let reasons):
            try emit(.aidDenied(reasons: reasons), transition: t)
        case .grantProvisionalAid(let reason):
            try emit(.provisionalAidGranted(reason: reason), transition: t)
        case .assignProvider(let provider):
            try emit(.aidProviderAssigned(provider: provider, reason: nil), transition: t)
        case .reassignProvider(let provider, let reason):
            try emit(.aidProviderAssigned(provider: provider, reason: reason), transition: t)
        case .terminateAid(let ground, let note):
            try emit(.aidTerminated(ground: ground, note: note), transition: t)
        case .fileObjection(let grounds):
            try emit(.objectionFiled(grounds: grounds), transition: t)
        case .dismissObjection(let reasons):
            try emit(.objectionDismissed(reasons: reasons, nextRoute: .administrativeReview), transition: t)
            try emit(.closed(outcome: "objection dismissed; administrative review or suit open (LA11)"))
        case .orderCorrection(let reasons):
            try emit(.correctionOrdered(reasons: reasons), transition: t)
        case .reportMatterEnded:
            try emit(.matterEnded, transition: t)
        case .submitClosingReport(let report, let documents):
            guard !documents.isEmpty else {
                throw fail(.missingField, rule: "LA12", "attach copies of the legal documents to the closing report")
            }
            try emit(.closingReportSubmitted(report: report, documents: documents), transition: t)
        case .recordQualityReview(let score, let note):
            guard (1...5).contains(score) else {
                throw fail(.invalidField, rule: "LA12", "a quality score is 1 to 5, not \(score)")
            }
            try emit(.qualityReviewed(score: score, note: note), transition: t)
            try emit(
                .closed(outcome: state.legalAid?.termination.map { "terminated: \($0.rawValue)" } ?? "aid completed"))
        case .requestCorrection(let items):
            guard !items.isEmpty, items.allSatisfy({ !$0.isEmpty }) else {
                throw fail(.missingField, rule: "AR5", "list everything to correct at once")
            }
            try emit(.correctionRequested(items: items), transition: t)
        case .submitCorrection:
            try emit(.correctionSubmitted, transition: t)
        case .deemAbandoned:
            try emit(.deemedAbandoned, transition: t)
            try emit(.closed(outcome: "abandoned: correction not made in time (AR5)"))
        case .acceptReview(let procedure):
            try acquireLock(.review)
            try emit(.reviewAccepted(procedure: procedure, deemed: false), transition: t)
        case .deemAccept:
            try acquireLock(.review)
            try emit(.reviewAccepted(procedure: .standard, deemed: true), transition: t)
        case .refuseFiling(let reasons):
            try emit(.filingRefused(reasons: reasons), transition: t)
        case .convertToStandard(let reason):
            try emit(.procedureConverted(reason: reason), transition: t)
        case .startReviewMediation:
            try emit(.reviewMediationStarted, transition: t)
        case .concludeReviewMediation(let statement):
            try emit(.reviewMediationConcluded(statement: statement), transition: t)
            try emit(.closed(outcome: "mediation statement (AR8)"))
        case .failReviewMediation:
            try emit(.reviewMediationFailed, transition: t)
        case .settleReview(let terms):
            try emit(.reviewSettled(terms: terms), transition: t)
            try emit(.closed(outcome: "withdrawn after settlement (AR8)"))
        case .suspendReview(let ground):
            try emit(.reviewSuspended(ground: ground), transition: t)
        case .resumeReview:
            try emit(.reviewResumed, transition: t)
        case .terminateReview(let ground):
            try emit(.reviewTerminated(ground: ground), transition: t)
            try emit(.closed(outcome: "terminated (AR9): \(ground)"))
        case .decideReview(let outcome):
            try emit(.reviewDecided(outcome: outcome), transition: t)
        case .acceptArbitration:
            try emit(.arbitrationAccepted, transition: t)
        case .refuseArbitration(let reasons):
            try emit(.arbitrationRefused(reasons: reasons), transition: t)
            if state.kind == .labourArbitration { try emit(.litigationOpened(rule: "LD7")) }
        case .recordArbitralMediation(let succeeded, let statement):
            if succeeded {
                guard !statement.isEmpty else {
                    throw fail(.missingField, rule: "LD9", "a successful mediation needs its mediation statement")
                }
                try emit(.arbitralMediationSucceeded(statement: statement), transition: t)
                try emit(.closed(outcome: "mediation statement (LD9)"))
            } else {
                try emit(.arbitralMediationFailed, transition: t)
            }
        case .issueAward(var award):
            guard award.items.allSatisfy({ ($0.amountYuan ?? 0) >= 0 && ($0.amountYuan ?? 0) <= 1_000_000_000_000 }),
                (0...10_000_000).contains(award.monthlyMinimumWageYuan)
            else {
                throw fail(.invalidField, rule: "LD11", "an award amount or the minimum wage is out of range")
            }
            if state.kind == .labourArbitration {
                guard award.monthlyMinimumWageYuan > 0, !award.items.isEmpty else {
                    throw fail(
                        .missingField, rule: "LD11",
                        "a labour award needs its items and the local monthly minimum wage to classify it")
                }
                award.isFinal = Award.classify(award.items, wage: award.monthlyMinimumWageYuan)
            } else {
                award.isFinal = true
            }
            try emit(.awardIssued(award), transition: t)
        case .recordDeemedAgreement(let note):
            try emit(.arbitrationAgreementDeemed(note: note), transition: t)
        case .objectToAgreement(let grounds):
            guard !state.firstHearingHeld else {
                throw violation(
                    "CA4",
                    "an objection to the arbitration agreement must be raised before the first hearing, which was held")
            }
            try emit(.agreementValidityObjected(grounds: grounds), transition: t)
        case .recordFirstHearing:
            guard !state.firstHearingHeld else {
                throw fail(.invalidField, rule: "CA4", "the first hearing is recorded already")
            }
            try emit(.firstHearingHeld, transition: t)
        case .recordNonPerformance(let note):
            try emit(.agreementNotPerformed(note: note), transition: t)
            if !state.openedRoutes.contains("arbitration") { try emit(.arbitrationOpened) }
        case .recordCourtFiling(let court):
            if state.review != nil { try acquireLock(.litigation) }
            try emit(.courtFilingRecorded(court: court), transition: t)
        case .rejectCourtFiling(let reasons):
            try emit(.courtFilingRejected(reasons: reasons), transition: t)
        case .serveApplication(let on):
            try emit(.applicationServed(respondent: on), transition: t)
        case .recordRespondentAnswer:
            try emit(.respondentAnswered, transition: t)
        case .answer(let text):
            try emit(.answered(answer: text), transition: t)
        case .convertToCase(let newCase, var registration):
            registration.links.append(CaseLink(.referredFrom, id))
            try create(newCase, registration)
            try emit(.convertedToCase(newCase: newCase, kind: registration.kind), transition: t)
            try emit(.closed(outcome: "converted to \(registration.kind) case \(newCase)"))
        case .openArbitration:
            try emit(.arbitrationOpened, transition: t)
        case .openLitigation:
            try emit(
                .litigationOpened(rule: state.deadline("LD10.award")?.status == .breached ? "LD10" : "LD7"),
                transition: t)
        }
    }

    private mutating func acquireLock(_ holder: ProceedingLock.Holder) throws(WorkflowError) {
        guard let act = state.review?.application.actReference else { return }
        if let lock = locks[act], let current = lock.holder, lock.holderCase != id {
            throw violation(
                "AR4",
                "act '\(act)' is already under \(current) (case \(lock.holderCase?.rawValue ?? "?")); parallel "
                    + "proceedings are not allowed")
        }
        setLock(ProceedingLock(act: act, holder: holder, holderCase: id))
    }

    private mutating func extend(_ x: DeadlineExtension, transition t: String) throws(WorkflowError) {
        guard let spec = definition.deadline(x.deadline) else {
            throw fail(.invalidField, "the case's definition has no clock '\(x.deadline)'")
        }
        guard let rules = spec.extensions else {
            throw violation(spec.rule, "clock \(spec.id) cannot be extended")
        }
        guard let clock = state.deadline(x.deadline), clock.isOpen || clock.status == .breached else {
            throw fail(.invalidField, rule: spec.rule, "clock \(spec.id) is not running")
        }
        if clock.status == .breached, spec.rule == "AR7", state.kind == .administrativeReview {
            throw violation(
                "AR7",
                "the review period ran out on \(clock.dueAt); it is extended only within it, and the applicant may "
                    + "now sue (AR11)")
        }
        if clock.status == .breached, let effect = spec.onBreach {
            throw violation(
                spec.rule,
                "clock \(spec.id) ran out and '\(effect)' took effect; an extension is granted within the period")
        }
        guard x.by.unit == rules.maximum.unit, x.by.amount > 0, x.by.amount <= rules.maximum.amount else {
            throw violation(spec.rule, "clock \(spec.id) may be extended by at most \(rules.maximum), not \(x.by)")
        }
        if let times = rules.times, clock.extensionsUsed >= times {
            throw violation(
                spec.rule, "clock \(spec.id) may be extended \(times == 1 ? "once" : "\(times) times") only")
        }
        if rules.requiresApprover {
            guard let approver = x.approver else {
                throw fail(.missingField, rule: spec.rule, "extending \(spec.id) needs the approving head")
            }
            // The head of the body that handles the case (AR7: the review body's; LD10: the commission's chair; LA6:
            // the legal aid centre's), not anyone who may act for it, such as a justice bureau's head.
            guard let person = context.directory.person(approver), person.roles.contains(.head),
                person.units.contains(state.unit)
            else {
                throw violation(
                    spec.rule,
                    "'\(approver)' is not a head of \(state.unit), which handles the case, and cannot approve")
            }
        }
        if let notice = x.noticeSentAt, !notice.isPlausible {
            throw fail(.invalidField, rule: spec.rule, "the notice time is not a plausible date")
        }
        if rules.requiresNotice, x.noticeSentAt == nil {
            throw fail(.missingField, rule: spec.rule, "extending \(spec.id) needs the written notice to the parties")
        }
        if rules.requiresConsent {
            try requireAllConsent(x.consentingParties, rule: spec.rule, "extending \(spec.id)")
        }
        let end: PeriodEnd
        do {
            end = try context.calendar.extend(clock.end, by: x.by)
        } catch {
            throw fail(.calendarNotCovered, rule: spec.rule, "clock \(spec.id) cannot be extended: \(error.message)")
        }
        try emit(
            .deadlineExtended(id: spec.id, by: x.by, end: end, approver: x.approver, noticeAt: x.noticeSentAt),
            transition: t)
    }

    /// A referral: closes this case and registers the linked case (and a legal aid case) in the same decision.
    private mutating func refer(_ referral: Referral, transition t: String) throws(WorkflowError) {
        let kind = referral.route.caseKind
        var review = referral.review
        if referral.route == .administrativeReview || referral.route == .administrativeLitigation {
            guard let r = review, !r.actReference.isEmpty else {
                throw fail(
                    .missingField, rule: "AR4",
                    "a referral over an administrative act names the act (review) for the no-parallel-proceedings lock")
            }
            if referral.route == .administrativeLitigation, let category = r.actCategory, category.requiresReviewFirst {
                throw violation(
                    "AR3",
                    "a \(category) must go to administrative review before any suit (Administrative Review Law Art 23)")
            }
            if referral.route == .administrativeLitigation, let lock = locks[r.actReference], lock.holder == .review {
                throw violation(
                    "AR4",
                    "act '\(r.actReference)' is under administrative review (case \(lock.holderCase?.rawValue ?? "?")); "
                        + "no suit may be filed during review")
            }
        } else {
            review = nil
        }
        // LD6: applying to a labour-dispute mediation body is a request for relief, which interrupts the limitation
        // (it runs afresh from the day the application was received), provided the limitation was still running
        // then: an expired one is not revived.
        var claim = state.labourClaim
        // Any mediation of a labour dispute: people's mediation committees are among LD2's mediation bodies too.
        if state.disputeType == .labour, kind == .labourArbitration, var interrupted = claim {
            var inTime = true
            do throws(WorkflowError) {
                try Decider.checkLabourLimitation(interrupted, received: state.receivedAt, context, id)
            } catch  where error.code == .ruleViolation {
                inTime = false
            }
            if inTime {
                let applied = LegalTime.date(of: state.receivedAt)
                interrupted.interruptedOn = max(interrupted.interruptedOn ?? applied, applied)
                claim = interrupted
            }
        }
        var registration = Registration(
            kind: kind, channel: .internalReferral, unit: referral.toUnit, owner: referral.toPerson,
            division: state.division, parties: state.parties, disputeType: state.disputeType,
            summary: state.summary, review: review, arbitrationAgreement: state.arbitrationAgreement,
            labourClaim: claim, links: [CaseLink(.referredFrom, id)])
        if let aid = referral.legalAid { registration.links.append(CaseLink(.legalAid, aid.aidCase)) }
        try create(referral.newCase, registration)
        if let aid = referral.legalAid {
            var application = aid.application
            application.forCase = referral.newCase
            let aidRegistration = Registration(
                kind: .legalAid, channel: .internalReferral, unit: aid.centre, owner: aid.owner,
                division: state.division,
                parties: state.parties.filter { $0.role != .respondent && $0.role != .employer },
                disputeType: state.disputeType, summary: state.summary, legalAid: application,
                links: [CaseLink(.aidFor, referral.newCase)])
            try create(aid.aidCase, aidRegistration)
        }
        try emit(
            .referred(route: referral.route, newCase: referral.newCase, exception: referral.exception), transition: t)
        if let aid = referral.legalAid { try emit(.legalAidAttached(aidCase: aid.aidCase)) }
        try emit(.closed(outcome: "failed, referred to \(referral.route.rawValue)"))
    }

    /// Registers a linked case inside this decision.
    private mutating func create(_ caseID: CaseID, _ registration: Registration) throws(WorkflowError) {
        guard caseID != id, !context.existingCases.contains(caseID), createdStates[caseID] == nil else {
            throw WorkflowError(.caseExists, case: caseID, "a case with this id exists already")
        }
        var child = try Decider.registering(caseID, registration, context: context, linkedFrom: id)
        let decision = child.finish()
        for c in decision.cases {
            created.append(c)
        }
        for (key, value) in decision.states { createdStates[key] = value }
    }

    static let builtInCommands: Set<String> = [
        "register", "handOff", "close", "evaluate", "extendDeadline", "refuseMediation", "startMediation",
        "endMediationAtPartyRequest", "markMajorOrComplex", "flagRisk", "escalate", "declareFailure",
        "reachAgreement", "signAgreement", "applyJudicialConfirmation", "refer", "requestMaterials",
        "supplyMaterials", "withdrawApplication", "recordHardshipCheck", "approveAid", "denyAid",
        "grantProvisionalAid", "assignProvider", "reassignProvider", "terminateAid", "fileObjection",
        "dismissObjection", "orderCorrection", "reportMatterEnded", "submitClosingReport", "recordQualityReview",
        "requestCorrection", "submitCorrection", "acceptReview", "refuseFiling", "convertToStandard",
        "startReviewMediation", "concludeReviewMediation", "failReviewMediation", "settleReview", "suspendReview",
        "resumeReview", "terminateReview", "decideReview", "serveApplication", "recordRespondentAnswer",
        "acceptArbitration", "refuseArbitration",
        "recordArbitralMediationSuccess", "recordArbitralMediationFailure", "issueAward", "recordDeemedAgreement",
        "recordCourtFiling", "rejectCourtFiling", "objectToAgreement", "recordFirstHearing", "recordNonPerformance",
        "answer", "convertToCase", "deemAccept", "deemAbandoned",
        "openArbitration", "openLitigation",
    ]
}
