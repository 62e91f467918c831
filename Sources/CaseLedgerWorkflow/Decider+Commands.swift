extension Decider {
    /// Checks and applies one command to this case.
    mutating func handle(_ command: CaseCommand) throws(WorkflowError) {
        let name = command.name
        let directory = context.directory
        // Who may issue it.
        if command.isSystem {
            guard currentActor == .system else {
                throw fail(.notAuthorized, "'\(name)' is issued by the clock only, not by '\(currentActor)'")
            }
        } else if case .evaluate = command {
            let party = currentActor.rawValue.hasPrefix("party:") ? String(currentActor.rawValue.dropFirst(6)) : nil
            guard party.map(state.partyReferences.contains) == true || directory.mayAct(currentActor, for: state.unit)
            else {
                throw fail(
                    .notAuthorized,
                    "'\(currentActor)' is neither a party (party:<reference>) nor staff of unit '\(state.unit)'")
            }
        } else {
            guard directory.person(currentActor) != nil else {
                throw fail(.unknownPerson, "actor '\(currentActor)' is not in the directory")
            }
            guard directory.mayAct(currentActor, for: state.unit) else {
                throw fail(
                    .notAuthorized,
                    "'\(currentActor)' has no authority for unit '\(state.unit)', which owns the case")
            }
        }
        // Closed cases take only their evaluation.
        if definition.isTerminal(state.state), name != "evaluate" {
            throw fail(
                .caseClosed, rule: "EVAL",
                "the case is closed (\(state.state)); a closed case accepts only its one evaluation, not '\(name)'")
        }
        guard let transition = definition.transition(name, from: state.state) else {
            let elsewhere = definition.transitions.filter { $0.command == name }
            if elsewhere.isEmpty {
                throw fail(
                    .wrongKind,
                    "'\(name)' does not apply to a \(state.kind) case (definition \(definition.version))")
            }
            let states = Set(elsewhere.flatMap(\.from)).sorted().joined(separator: ", ")
            let rules = Set(elsewhere.flatMap(\.rules)).sorted().joined(separator: ", ")
            throw fail(
                .transitionNotAllowed, rule: rules.isEmpty ? nil : rules,
                "'\(name)' is not allowed in state '\(state.state)'; it is allowed in: \(states)")
        }
        let fields = command.textFields
        for field in transition.requires where (fields[field] ?? "").isEmpty {
            throw fail(.missingField, rule: transition.rules.first, "'\(name)' needs a non-empty '\(field)'")
        }
        for g in transition.guards {
            guard let check = Guard(rawValue: g) else { continue }
            try self.check(check, command)
        }
        let before = records.count
        try apply(command, transition: transition)
        try updateClocks(after: records[before...].map(\.event.name))
        // The review lock ends with the decision (the 15-day window to sue opens then, AR11) or the case.
        if state.kind == .administrativeReview, definition.isTerminal(state.state) || state.state == "decided",
            let act = state.review?.application.actReference, locks[act]?.holderCase == id
        {
            setLock(ProceedingLock(act: act))
        }
    }

    mutating func setLock(_ lock: ProceedingLock) {
        locks[lock.act] = lock
        changedLocks.insert(lock.act)
    }

    func isParty(_ reference: String) -> Bool { state.partyReferences.contains(reference) }

    func requireParty(_ reference: String, rule: String? = nil) throws(WorkflowError) {
        guard isParty(reference) else {
            throw fail(.invalidField, rule: rule, "'\(reference)' is not a party to this case")
        }
    }

    func requireAllConsent(_ consenting: [String], rule: String, _ what: String) throws(WorkflowError) {
        let missing = state.partyReferences.filter { !consenting.contains($0) }
        for c in consenting where !isParty(c) {
            throw fail(.invalidField, rule: rule, "'\(c)' is not a party to this case")
        }
        guard missing.isEmpty else {
            throw violation(
                rule, "\(what) needs every party's consent; missing: \(missing.joined(separator: ", "))")
        }
    }

    // MARK: Guards

    private mutating func check(_ g: Guard, _ command: CaseCommand) throws(WorkflowError) {
        let directory = context.directory
        switch g {
        case .noPartyRefused:
            if let party = state.refusedBy.first {
                throw violation("PM4", "party '\(party)' refused mediation, so mediation may not take place")
            }
            if let party = state.endedBy {
                throw violation(
                    "PM4",
                    "party '\(party)' ended the mediation; it starts again only after an escalation they consent to")
            }
        case .mediatorsOfCommittee:
            guard case .startMediation(let mediators, _) = command else { return }
            guard !mediators.isEmpty else { throw fail(.missingField, rule: "PM3", "name at least one mediator") }
            for m in mediators {
                guard let person = directory.person(m) else {
                    throw fail(.unknownPerson, rule: "PM2", "mediator '\(m)' is not in the directory")
                }
                guard person.roles.contains(.mediator), person.units.contains(state.unit) else {
                    throw violation("PM2", "'\(m)' is not a mediator of committee '\(state.unit)'")
                }
            }
        case .ladderStep:
            if case .escalate(let e) = command { try checkEscalation(e) }
        case .riskReported:
            guard case .flagRisk(let report) = command else { return }
            guard !report.government.isEmpty else {
                throw fail(.missingField, rule: "PM7", "a risk report must name the local government told")
            }
            if report.risk.needsPolice, (report.police ?? "").isEmpty {
                throw fail(
                    .missingField, rule: "PM7",
                    "a \(report.risk) risk must also be reported to the police; name the station")
            }
            guard let top = definition.ladder.last else { return }
            try checkTarget(report.toUnit, report.toPerson, level: top, rule: "PM7")
        case .routeAllowed:
            switch command {
            case .declareFailure(_, let route): try checkRoute(route, exception: nil)
            case .refer(let referral): try checkRoute(referral.route, exception: referral.exception)
            default: return
            }
        case .agreementEffective:
            guard state.agreement?.effectiveAt != nil else {
                throw violation(
                    "PM10",
                    "the agreement has not taken effect: every party, the mediator and the committee seal must sign")
            }
        case .judicialConfirmation:
            guard case .applyJudicialConfirmation(let applicants, _) = command else { return }
            guard let agreement = state.agreement, agreement.effectiveAt != nil else {
                throw violation("PM10", "the agreement has not taken effect")
            }
            if state.disputeType.excludedFromJudicialConfirmation {
                throw violation(
                    "PM11", "judicial confirmation is not available for \(state.disputeType) matters")
            }
            try requireAllConsent(applicants, rule: "PM11", "judicial confirmation (a joint application)")
            guard let clock = state.deadline("PM11.confirmation"), clock.isOpen || clock.status == .breached else {
                throw violation("PM11", "no judicial-confirmation window is open")
            }
            guard now <= clock.dueAt, clock.status != .breached else {
                throw violation(
                    "PM11",
                    "the 30-day window to apply for judicial confirmation ended at \(clock.dueAt)")
            }
        case .arbitrationOpen:
            guard state.failure != nil || state.openedRoutes.contains("arbitration") else {
                throw violation(
                    "LD4",
                    "arbitration opens after 15 days without agreement or when mediation fails; declare the failure "
                        + "or wait for the clock")
            }
        case .hardshipEstablished:
            guard let aid = state.legalAid else { return }
            if aid.application.noConditionGround != nil { return }
            if aid.application.exemption != nil {
                guard !(aid.application.exemptionEvidence ?? "").isEmpty else {
                    throw violation("LA5", "the hardship exemption needs its supporting documents")
                }
                return
            }
            guard aid.hardshipChecked else {
                throw violation(
                    "LA4",
                    "record the hardship check (data sharing or integrity pledge) before approving; the matter is "
                        + "not an Art 32 no-condition matter and no Art 42 exemption applies")
            }
            guard aid.hardshipQualifies else {
                throw violation("LA4", "the hardship check found the applicant does not qualify")
            }
        case .provisionalAidAllowed:
            guard let aid = state.legalAid else { return }
            if aid.application.urgent { return }
            guard let linked = aid.application.linkedDeadline else {
                throw violation("LA7", "provisional aid needs a linked deadline under 7 days away or urgency")
            }
            let left = linked.microsecondsSinceEpoch - now.microsecondsSinceEpoch
            guard left < 7 * Instant.microsecondsPerDay else {
                throw violation(
                    "LA7", "the linked deadline \(linked) is 7 or more days away; decide the application normally")
            }
        case .providerIsLawyer:
            let provider: PersonID
            switch command {
            case .assignProvider(let p), .reassignProvider(let p, _): provider = p
            default: return
            }
            guard let person = directory.person(provider) else {
                throw fail(.unknownPerson, rule: "LA6", "aid provider '\(provider)' is not in the directory")
            }
            guard person.roles.contains(.lawyer) else {
                throw violation("LA6", "'\(provider)' is not a lawyer or legal worker who can provide aid")
            }
            if case .reassignProvider(let p, _) = command, p == state.legalAid?.provider {
                throw fail(.invalidField, rule: "LA9", "'\(p)' is already the provider")
            }
        case .justiceBureauDecides:
            guard let person = directory.person(currentActor), let centre = directory.unit(state.unit) else {
                throw fail(.notAuthorized, rule: "LA11", "the objection is decided by the justice bureau")
            }
            // The bureau that set up the centre: the justice bureau of the centre's own division, through its head.
            let isBureau =
                person.roles.contains(.head)
                && person.units.contains { id in
                    guard let u = directory.unit(id) else { return false }
                    return u.kind == .justiceBureau && u.division == centre.division
                }
            guard isBureau else {
                throw violation(
                    "LA11",
                    "an objection is decided by the justice bureau that set up the centre, not by '\(currentActor)'")
            }
        case .correctionOnce:
            if state.deadline("AR5.correction") != nil {
                throw violation(
                    "AR5", "a correction notice must list everything at once; one was sent already")
            }
        case .noParallelProceedings:
            guard let act = state.review?.application.actReference else { return }
            let mine: ProceedingLock.Holder = state.kind == .administrativeReview ? .review : .litigation
            if let lock = locks[act], let holder = lock.holder, holder != mine, lock.holderCase != id {
                throw violation(
                    "AR4",
                    "act '\(act)' is already under \(holder) (case \(lock.holderCase?.rawValue ?? "?")); parallel "
                        + "proceedings are not allowed")
            }
        case .simplifiedProcedure:
            guard state.review?.procedure == .simplified else {
                throw violation("AR7", "only a simplified-procedure review can be converted to the standard one")
            }
        case .arbitrable:
            if state.disputeType.isFamilyOrStatus || state.disputeType == .administrativeAct
                || state.disputeType == .labour
            {
                throw violation(
                    "CA1", "\(state.disputeType) disputes are not arbitrable by an arbitration commission")
            }
        case .arbitrationAgreement:
            guard state.arbitrationAgreement else {
                throw violation("CA2", "no arbitration agreement: without one the commission refuses the case")
            }
        }
    }

    /// A unit and person at `level` that cover the dispute's place.
    private func checkTarget(_ unitID: UnitID, _ person: PersonID, level: Level, rule: String) throws(WorkflowError) {
        guard let unit = context.directory.unit(unitID) else {
            throw fail(.unknownUnit, rule: rule, "unit '\(unitID)' is not in the directory")
        }
        guard Decider.unitKinds(for: state.kind).contains(unit.kind) else {
            throw fail(.invalidField, rule: rule, "unit '\(unitID)' is a \(unit.kind), not a mediation unit")
        }
        guard unit.level == level else {
            throw violation(rule, "unit '\(unitID)' is at \(unit.level) level; this step goes to \(level) level")
        }
        guard unit.division.contains(state.division) else {
            throw violation(
                rule, "unit '\(unitID)' (\(unit.division)) does not cover the dispute's place \(state.division)")
        }
        guard context.directory.mayAct(person, for: unitID) else {
            throw fail(.notAuthorized, rule: rule, "'\(person)' does not belong to unit '\(unitID)'")
        }
    }

    private func checkEscalation(_ e: Escalation) throws(WorkflowError) {
        try requireAllConsent(e.consentingParties, rule: "PM4", "escalation")
        guard let next = definition.level(above: state.level) else {
            throw violation(
                "PM12",
                "the case is at \(state.level) level, the top of the ladder "
                    + definition.ladder.map(\.rawValue).joined(separator: " → ") + "; nothing escalates above it")
        }
        guard let target = context.directory.unit(e.toUnit) else {
            throw fail(.unknownUnit, rule: "PM12", "unit '\(e.toUnit)' is not in the directory")
        }
        switch e.reason {
        case .failedAtLevel:
            guard state.failure != nil || state.state == "failed" else {
                throw violation("PM12", "mediation has not failed at \(state.level) level; declare the failure first")
            }
        case .complex, .crossesAreas:
            break
        case .majorOrComplex:
            guard state.majorOrComplex else {
                throw violation("PM12", "mark the case major or complex before moving it to the top level")
            }
        case .riskOfEscalation:
            throw violation("PM7", "a risk moves the case through flagRisk, which records the reports")
        }
        let top = definition.ladder.last ?? next
        let allowedTop = e.reason == .majorOrComplex
        if target.level != next && !(allowedTop && target.level == top) {
            if target.level > next {
                throw violation(
                    "PM12",
                    "the case is at \(state.level) level; a jump to \(target.level) needs a risk flag (PM7) or a "
                        + "major-or-complex mark; otherwise it moves one level, to \(next)")
            }
            throw violation("PM12", "escalation goes up: the case is at \(state.level), the next level is \(next)")
        }
        try checkTarget(e.toUnit, e.toPerson, level: target.level, rule: "PM12")
    }

    /// legal-rules.md §2: where a dispute may go when mediation fails.
    private func checkRoute(_ route: Route, exception: String?) throws(WorkflowError) {
        let type = state.disputeType
        func refuse(_ rule: String, _ why: String) -> WorkflowError {
            violation(rule, "\(type) dispute cannot go to \(route): \(why)")
        }
        if type == .labour {
            if route == .labourArbitration { return }
            if route == .civilLitigation, let exception, !exception.isEmpty { return }
            throw refuse(
                "LD2", "labour arbitration comes before any court case (give the statutory exception if one applies)")
        }
        if route == .labourArbitration { throw refuse("LD1", "it is not a labour dispute") }
        if type == .administrativeAct {
            guard route == .administrativeReview || route == .administrativeLitigation else {
                throw refuse(
                    "ROUTING", "a dispute over an administrative act goes to administrative review or litigation")
            }
            return
        }
        if route == .administrativeReview || route == .administrativeLitigation {
            throw refuse("ROUTING", "only disputes over an administrative act go there")
        }
        if type.isFamilyOrStatus {
            guard route == .civilLitigation else {
                throw refuse("CA1", "family, succession, support and guardianship go to court, never to arbitration")
            }
            return
        }
        if type == .landOwnership {
            guard route == .administrativeAdjudication || route == .civilLitigation else {
                throw refuse("ROUTING", "ownership of land, forest or resources goes to administrative adjudication")
            }
            return
        }
        if route == .administrativeAdjudication { throw refuse("ROUTING", "only resource-ownership disputes go there") }
        if state.arbitrationAgreement {
            guard route == .commercialArbitration else {
                throw refuse("CA2", "with a valid arbitration agreement the court refuses the suit; go to arbitration")
            }
            return
        }
        if route == .commercialArbitration { throw refuse("CA2", "there is no arbitration agreement") }
    }
}
