import CaseLedgerWorkflow

/// A human-readable English sentence for one workflow event, for `caseledger replay`.
///
/// One exhaustive `switch` (no `default:`), so a new `CaseEvent` case fails to compile until it gets a sentence.
/// Instants are shown in the legal time zone (`LegalTime.format`); `actor` is named only where it reads naturally.
func sentence(for event: CaseEvent, actor: PersonID?) -> String {
    /// An instant in the legal time zone; implausible instants fall back to `Instant.description`.
    func when(_ instant: Instant) -> String {
        show(instant)
    }
    /// A period end's due time, marked when counted beyond the holiday calendar's coverage.
    func due(_ end: PeriodEnd) -> String {
        when(end.dueAt) + (end.provisional ? " (provisional)" : "")
    }
    /// A comma-separated list, or "none".
    func list(_ items: [String]) -> String {
        items.isEmpty ? "none" : items.joined(separator: ", ")
    }
    /// "1 party", "2 parties".
    func count(_ n: Int, _ one: String, _ many: String) -> String {
        "\(n) \(n == 1 ? one : many)"
    }
    let by = actor.map { " by \($0)" } ?? ""

    switch event {
    // Common
    case .registered(let r, let version, let level):
        let parties = count(r.parties.count, "party", "parties")
        return "Registered a \(r.disputeType.rawValue) dispute as \(r.kind.rawValue) at \(level.rawValue) level via "
            + "\(r.channel.rawValue), unit \(r.unit), owner \(r.owner), \(parties) (definition \(version))."
    case .handedOff(let toUnit, let toPerson, let level, let reason):
        return "Handed off to unit \(toUnit), person \(toPerson) at \(level.rawValue) level (reason: \(reason))."
    case .closed(let outcome):
        return "Closed the case\(by) (outcome: \(outcome))."
    case .evaluated(let rating, let comment):
        let text = comment.map { ": \($0)" } ?? ""
        return "Evaluated the case with rating \(rating)\(text)."
    case .referred(let route, let newCase, let exception):
        let text = exception.map { " (exception: \($0))" } ?? ""
        return "Referred to \(route.rawValue) as new case \(newCase)\(text)."
    case .legalAidAttached(let aidCase):
        return "Attached legal aid case \(aidCase)."
    case .custom(let command, let note):
        return "Ran custom command \(command)\(by): \(note)."
    // Mediation (PM)
    case .partyRefused(let party):
        return "Party \(party) refused mediation."
    case .mediationStarted(let mediators, let chosenByParties):
        let how = chosenByParties ? "chosen by the parties" : "assigned"
        return "Started mediation with mediators \(list(mediators.map { $0.rawValue })) (\(how))."
    case .mediationEndedByParty(let party):
        return "Ended mediation at the request of party \(party)."
    case .markedMajorOrComplex(let reason):
        return "Marked the case major or complex (reason: \(reason))."
    case .riskFlagged(let risk, let note):
        return "Flagged a risk of \(risk.rawValue): \(note)."
    case .reportedToGovernment(let authority):
        return "Reported the risk to the government: \(authority)."
    case .reportedToPolice(let station):
        return "Reported the risk to the police: \(station)."
    case .escalated(let fromLevel, let toLevel, let toUnit, let toPerson, let reason, let consentingParties):
        let consent = consentingParties.isEmpty ? "" : ", with the consent of \(list(consentingParties))"
        return "Escalated from \(fromLevel.rawValue) to \(toLevel.rawValue) (reason: \(reason.rawValue)) to unit "
            + "\(toUnit), person \(toPerson)\(consent)."
    case .mediationFailed(let rightsNotice, let suggestedRoute):
        return "Declared mediation failed, suggesting \(suggestedRoute.rawValue) (rights notice: \(rightsNotice))."
    case .agreementReached(let form, let terms):
        return "Reached a mediation agreement (\(form.rawValue)): \(terms)."
    case .agreementSigned(let signer):
        switch signer {
        case .party(let party):
            return "Party \(party) signed the mediation agreement."
        case .mediator(let mediator):
            return "Mediator \(mediator) signed the mediation agreement."
        case .committeeSeal:
            return "Sealed the mediation agreement with the committee seal."
        }
    case .agreementTookEffect(let effectiveAt):
        return "The mediation agreement took effect at \(when(effectiveAt))."
    case .judicialConfirmationApplied(let applicants, let court):
        return "Applied to \(court) for judicial confirmation (applicants: \(list(applicants)))."
    case .arbitrationOpened:
        return "Opened arbitration."
    // Legal aid (LA)
    case .materialsRequested(let missing):
        return "Requested missing materials: \(list(missing))."
    case .materialsSupplied:
        return "Recorded that the missing materials were supplied."
    case .applicationWithdrawn(let reason):
        return "Withdrew the application (reason: \(reason))."
    case .hardshipChecked(let method, let qualifies):
        let result = qualifies ? "the applicant qualifies" : "the applicant does not qualify"
        return "Checked financial hardship by \(method.rawValue): \(result)."
    case .aidApproved(let basis):
        return "Approved legal aid\(by) (basis: \(basis))."
    case .aidDenied(let reasons):
        return "Denied legal aid\(by) (reasons: \(reasons))."
    case .provisionalAidSuggested(let linkedDeadline):
        return "Suggested provisional legal aid because of the linked deadline at \(when(linkedDeadline))."
    case .provisionalAidGranted(let reason):
        return "Granted provisional legal aid (reason: \(reason))."
    case .aidProviderAssigned(let provider, let reason):
        let text = reason.map { " (reason: \($0))" } ?? ""
        return "Assigned aid provider \(provider)\(text)."
    case .aidTerminated(let ground, let note):
        return "Terminated legal aid on the ground \(ground.rawValue): \(note)."
    case .objectionFiled(let grounds):
        return "Filed an objection (grounds: \(grounds))."
    case .objectionDismissed(let reasons, let nextRoute):
        return "Dismissed the objection (reasons: \(reasons)); the next route is \(nextRoute.rawValue)."
    case .correctionOrdered(let reasons):
        return "Ordered a correction (reasons: \(reasons))."
    case .matterEnded:
        return "Reported that the aided matter ended."
    case .closingReportSubmitted(let report, let documents):
        return "Submitted the closing report with \(count(documents.count, "document", "documents")): \(report)."
    case .qualityReviewed(let score, let note):
        return "Reviewed the quality of the aid with score \(score): \(note)."
    // Administrative review (AR)
    case .correctionRequested(let items):
        return "Requested corrections to the application: \(list(items))."
    case .correctionSubmitted:
        return "Submitted the corrected application."
    case .deemedAbandoned:
        return "Deemed the application abandoned."
    case .reviewAccepted(let procedure, let deemed):
        let how = deemed ? " (deemed accepted)" : ""
        return "Accepted the review under the \(procedure.rawValue) procedure\(how)."
    case .filingRefused(let reasons):
        return "Refused the filing (reasons: \(reasons))."
    case .procedureConverted(let reason):
        return "Converted the review to the standard procedure (reason: \(reason))."
    case .reviewMediationStarted:
        return "Started review mediation."
    case .reviewMediationConcluded(let statement):
        return "Concluded review mediation: \(statement)."
    case .reviewMediationFailed:
        return "Review mediation failed."
    case .reviewSettled(let terms):
        return "Settled the review: \(terms)."
    case .reviewSuspended(let ground):
        return "Suspended the review (ground: \(ground))."
    case .reviewResumed:
        return "Resumed the review."
    case .reviewTerminated(let ground):
        return "Terminated the review (ground: \(ground))."
    case .reviewDecided(let outcome):
        return "Decided the review\(by): \(outcome.rawValue)."
    case .applicationServed(let respondent):
        return "Served the application on the respondent \(respondent)."
    case .respondentAnswered:
        return "Recorded the respondent's answer."
    // Arbitration and litigation (LD, CA, LT)
    case .arbitrationAccepted:
        return "Accepted the arbitration application."
    case .arbitrationRefused(let reasons):
        return "Refused the arbitration application (reasons: \(reasons))."
    case .arbitralMediationSucceeded(let statement):
        return "Arbitral mediation succeeded: \(statement)."
    case .arbitralMediationFailed:
        return "Arbitral mediation failed."
    case .awardIssued(let award):
        let finality = award.isFinal ? "final" : "non-final"
        let items = count(award.items.count, "item", "items")
        return "Issued a \(finality) award with \(items) (monthly minimum wage \(award.monthlyMinimumWageYuan) yuan): "
            + "\(award.summary)."
    case .litigationOpened(let rule):
        return "Opened litigation (rule: \(rule))."
    case .arbitrationAgreementDeemed(let note):
        return "Deemed an arbitration agreement to exist: \(note)."
    case .agreementValidityObjected(let grounds):
        return "Objected to the arbitration agreement's validity (grounds: \(grounds))."
    case .firstHearingHeld:
        return "Held the first hearing."
    case .agreementNotPerformed(let note):
        return "Recorded that the mediation agreement was not performed: \(note)."
    case .courtFilingRecorded(let court):
        return "Recorded the filing at \(court)."
    case .courtFilingRejected(let reasons):
        return "Recorded that the court rejected the filing (reasons: \(reasons))."
    // Consultation (WO)
    case .answered(let answer):
        return "Answered the consultation: \(answer)."
    case .convertedToCase(let newCase, let kind):
        return "Converted the consultation to \(kind.rawValue) case \(newCase)."
    // Clocks
    case .deadlineSet(let d):
        let fires = d.fires ? "" : ", recorded only (never fires)"
        let onBreach = d.onBreach.map { ", on breach \($0)" } ?? ""
        return "Started the clock \(d.id) (rule \(d.rule), in \(d.unit.rawValue)) at \(when(d.startedAt)), "
            + "due \(due(d.end))\(fires)\(onBreach)."
    case .deadlinePaused(let id):
        return "Paused the clock \(id)."
    case .deadlineResumed(let id, let end):
        return "Resumed the clock \(id), now due \(due(end))."
    case .deadlineExtended(let id, let period, let end, let approver, let noticeAt):
        let approved = approver.map { ", approved by \($0)" } ?? ""
        let notice = noticeAt.map { ", notice sent at \(when($0))" } ?? ""
        return "Extended the clock \(id) by \(period), now due \(due(end))\(approved)\(notice)."
    case .deadlineApproaching(let id, let dueAt):
        return "Warned that the clock \(id) is due at \(when(dueAt))."
    case .deadlineBreached(let id, let dueAt):
        return "Breached the clock \(id), which was due at \(when(dueAt))."
    case .deadlineStopped(let id):
        return "Stopped the clock \(id)."
    case .deadlineRecounted(let id, let end):
        return "Recounted the clock \(id) with the holiday calendar, now due \(due(end))."
    case .automaticCommandRefused(let command, let deadline, let rule, let reason):
        let ruleText = rule.map { " by rule \($0)" } ?? ""
        return "Refused the automatic command \(command) fired by the clock \(deadline)\(ruleText): \(reason)."
    }
}
