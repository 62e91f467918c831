/// Turns one command into records for one case (and the cases it creates), applying each record to a working
/// copy of the state as it goes, so later checks see earlier effects.
struct Decider {
    private(set) var state: CaseState
    let definition: WorkflowDefinition
    let context: DecisionContext
    private let startVersion: UInt64
    var records: [WorkflowRecord] = []
    var created: [Decision.CaseRecords] = []
    var createdStates: [CaseID: CaseState] = [:]
    var locks: [String: ProceedingLock]
    var changedLocks: Set<String> = []
    /// Who the records are attributed to: the command's actor, or the system while clocks fire.
    var currentActor: PersonID
    /// When a command fired by a breach starts clocks, they count from the breached clock's last day (the moment
    /// the law deems the act done), not from the tick's time.
    var clockStart: Instant?

    var id: CaseID { state.id }
    var now: Instant { context.now }

    init(state: CaseState, context: DecisionContext, startVersion: UInt64? = nil) throws(WorkflowError) {
        guard let definition = context.definitions.definition(kind: state.kind, version: state.definitionVersion)
        else {
            throw WorkflowError(
                .noDefinition, case: state.id,
                "\(state.kind) definition '\(state.definitionVersion)' is not loaded; load it to act on this case")
        }
        self.state = state
        self.definition = definition
        // Time never runs backwards for a case: a skewed or stepped-back clock cannot shorten its periods.
        var context = context
        context.now = max(context.now, state.lastEventAt)
        self.context = context
        self.startVersion = startVersion ?? state.version
        self.locks = context.locks
        self.currentActor = context.actor
    }

    // MARK: Errors

    func fail(_ code: WorkflowError.Code, rule: String? = nil, _ message: String) -> WorkflowError {
        WorkflowError(code, case: id, rule: rule, message)
    }

    func violation(_ rule: String, _ message: String) -> WorkflowError {
        WorkflowError(.ruleViolation, case: id, rule: rule, message)
    }

    // MARK: Output

    mutating func emit(_ event: CaseEvent, transition: String? = nil) throws(WorkflowError) {
        let record = WorkflowRecord(at: now, actor: currentActor, transition: transition, event: event)
        try state.apply(record, definition: definition)
        records.append(record)
    }

    mutating func finish() -> Decision {
        var cases = [Decision.CaseRecords(caseID: id, expectedVersion: startVersion, records: records)]
        cases.append(contentsOf: created)
        var states = createdStates
        states[id] = state
        return Decision(
            cases: cases, locks: changedLocks.sorted().compactMap { locks[$0] }, states: states)
    }

    // MARK: Registration

    static func registering(
        _ caseID: CaseID, _ r: Registration, context: DecisionContext, linkedFrom: CaseID?
    ) throws(WorkflowError) -> Decider {
        func fail(_ code: WorkflowError.Code, rule: String? = nil, _ message: String) -> WorkflowError {
            WorkflowError(code, case: caseID, rule: rule, message)
        }
        guard let definition = context.definitions.inForce(kind: r.kind, on: LegalTime.date(of: context.now)) else {
            throw fail(.noDefinition, "no \(r.kind) definition is in force on \(LegalTime.date(of: context.now))")
        }
        guard let unit = context.directory.unit(r.unit) else {
            throw fail(.unknownUnit, "unit '\(r.unit)' is not in the directory")
        }
        guard context.directory.person(r.owner) != nil else {
            throw fail(.unknownPerson, "responsible person '\(r.owner)' is not in the directory")
        }
        guard context.directory.mayAct(r.owner, for: r.unit) else {
            throw fail(
                .notAuthorized,
                "the responsible person '\(r.owner)' does not belong to unit '\(r.unit)' (first-inquiry responsibility "
                    + "needs an owner of the registering unit)")
        }
        if linkedFrom == nil, context.actor != .system, !context.directory.mayAct(context.actor, for: r.unit) {
            throw fail(.notAuthorized, "'\(context.actor)' may not register cases for unit '\(r.unit)'")
        }
        let allowed = Decider.unitKinds(for: r.kind)
        guard allowed.contains(unit.kind) else {
            throw fail(
                .invalidField,
                "unit '\(r.unit)' is a \(unit.kind); a \(r.kind) case is registered at a "
                    + allowed.map(\.rawValue).sorted().joined(separator: " or "))
        }
        guard !r.parties.isEmpty else { throw fail(.missingField, "a case needs at least one party") }
        guard Set(r.parties.map(\.reference)).count == r.parties.count,
            r.parties.allSatisfy({ !$0.reference.isEmpty })
        else { throw fail(.invalidField, "party references must be non-empty and distinct") }
        // Each event's record header carries up to 255 parties, each reference and name up to 255 bytes, and the
        // views read the parties from it: more would be cut without a trace.
        guard r.parties.count <= 255 else {
            throw fail(
                .invalidField,
                "\(r.parties.count) parties; a case holds at most 255: for a collective claim, register the "
                    + "representatives the parties elect")
        }
        guard r.parties.allSatisfy({ $0.reference.utf8.count <= 255 && $0.name.utf8.count <= 255 }) else {
            throw fail(.invalidField, "a party's reference or name is over 255 bytes of UTF-8")
        }
        guard !r.summary.isEmpty else { throw fail(.missingField, "summary is empty") }
        if let received = r.receivedAt {
            guard received.isPlausible, received <= context.now.adding(days: 1) else {
                throw fail(.invalidField, "receivedAt \(received) is in the future or not a plausible date")
            }
        }
        if let linked = r.legalAid?.linkedDeadline, !linked.isPlausible {
            throw fail(.invalidField, rule: "LA7", "the linked deadline is not a plausible date")
        }
        if let a = r.review {
            let years = 1900...2200
            guard years.contains(a.actDate.year), years.contains(a.knownOn.year),
                a.learnedOfRightOn.map({ years.contains($0.year) }) ?? true
            else { throw fail(.invalidField, rule: "AR1", "a date of the application is not plausible") }
            guard a.actDate <= a.knownOn else {
                throw fail(
                    .invalidField, rule: "AR1",
                    "the applicant cannot know of the act (\(a.knownOn)) before it was done (\(a.actDate))")
            }
            if let learned = a.learnedOfRightOn, learned < a.knownOn {
                throw fail(.invalidField, rule: "AR1", "the right cannot be learned of before the act was known")
            }
            guard (0...3650).contains(a.obstacleDays) else {
                throw fail(.invalidField, rule: "AR1", "obstacleDays is \(a.obstacleDays); use 0 to 3650")
            }
            if let days = a.statutoryWindowDays, !(60...36_500).contains(days) {
                throw fail(
                    .invalidField, rule: "AR1",
                    "statutoryWindowDays is \(days); only a law allowing longer than 60 days changes the window")
            }
        }
        var level = unit.level
        if r.kind.isMediation {
            guard definition.ladder.contains(unit.level) else {
                throw fail(
                    .ruleViolation, rule: "PM12",
                    "unit '\(r.unit)' is at \(unit.level) level, which is not on the escalation ladder "
                        + definition.ladder.map(\.rawValue).joined(separator: " → "))
            }
            guard unit.division.contains(r.division) || r.division.contains(unit.division) else {
                throw fail(
                    .ruleViolation, rule: "PM12",
                    "unit '\(r.unit)' (\(unit.division)) does not cover the dispute's place \(r.division)")
            }
        } else {
            level = unit.division.level
        }
        switch r.kind {
        case .labourMediation, .labourArbitration:
            guard r.disputeType == .labour else {
                throw fail(
                    .ruleViolation, rule: "LD1", "a \(r.kind) case needs a labour dispute, not \(r.disputeType)")
            }
            if r.kind == .labourArbitration, let claim = r.labourClaim {
                try Decider.checkLabourLimitation(claim, received: r.receivedAt ?? context.now, context, caseID)
            }
        case .legalAid:
            guard let application = r.legalAid else {
                throw fail(.missingField, "a legal aid case needs its application (legalAid)")
            }
            guard unit.division.contains(r.division) else {
                throw fail(
                    .ruleViolation, rule: "LA1",
                    "legal aid centre '\(r.unit)' (\(unit.division)) does not serve \(r.division), where the matter "
                        + "is handled; apply to the centre there")
            }
            if application.exemption != nil, (application.exemptionEvidence ?? "").isEmpty {
                throw fail(
                    .ruleViolation, rule: "LA5",
                    "an exemption from the hardship check needs its supporting documents (exemptionEvidence)")
            }
        case .administrativeReview:
            guard let application = r.review else {
                throw fail(.missingField, "an administrative review case needs its application (review)")
            }
            guard !application.actReference.isEmpty else {
                throw fail(.missingField, "the contested act's reference is empty (one case per act, AR2)")
            }
            try Decider.checkReviewWindow(application, received: r.receivedAt ?? context.now, context, caseID)
            if let lock = context.locks[application.actReference], lock.holder == .litigation {
                throw fail(
                    .ruleViolation, rule: "AR4",
                    "a court has accepted a suit on act '\(application.actReference)' (case "
                        + "\(lock.holderCase?.rawValue ?? "?")); no review may be filed")
            }
        default: break
        }
        let initial = WorkflowRecord(
            at: context.now, actor: context.actor,
            event: .registered(r, definitionVersion: definition.version, level: level))
        let state = CaseState(
            id: caseID, registration: r, definitionVersion: definition.version, level: level, at: context.now,
            initialState: definition.initialState)
        var decider = try Decider(state: state, context: context, startVersion: 0)
        decider.records = [initial]
        if let application = r.legalAid, let linked = application.linkedDeadline,
            linked.microsecondsSinceEpoch - context.now.microsecondsSinceEpoch < 7 * Instant.microsecondsPerDay
        {
            try decider.emit(.provisionalAidSuggested(linkedDeadline: linked))
        }
        try decider.updateClocks(after: ["registered"] + decider.records.dropFirst().map(\.event.name))
        return decider
    }

    static func unitKinds(for kind: CaseKind) -> Set<UnitKind> {
        switch kind {
        case .peopleMediation, .labourMediation: return [.mediationCommittee, .serviceCentre, .justiceOffice]
        case .legalAid: return [.legalAidCentre]
        case .administrativeReview: return [.reviewBody]
        case .labourArbitration: return [.labourArbitrationCommission]
        case .commercialArbitration: return [.arbitrationCommission]
        case .litigation: return [.court]
        case .consultation: return [.hotlineDesk, .serviceCentre, .justiceOffice, .justiceBureau]
        }
    }

    /// AR1: 60 days from knowing of the act (or longer by law), the obstacle days not counted; without notice of
    /// the right, from learning of it but within 1 year of knowing the act; never beyond 5 (20 for immovable
    /// property) years from the act.
    static func checkReviewWindow(
        _ a: ReviewApplication, received: Instant, _ context: DecisionContext, _ caseID: CaseID
    ) throws(WorkflowError) {
        let calendar = context.calendar
        let receivedOn = LegalTime.date(of: received)
        let days = a.statutoryWindowDays ?? 60
        let nominal: CivilDate
        if a.rightsNotified {
            nominal = a.knownOn.adding(days: days + a.obstacleDays)
        } else {
            let start = a.learnedOfRightOn ?? a.knownOn
            let byRight = start.adding(days: days + a.obstacleDays)
            let cap = a.knownOn.adding(months: 12).adding(days: a.obstacleDays)
            nominal = min(byRight, cap)
        }
        // Only the days up to the application's are looked up: a window ending in a year the calendar does not
        // cover yet is met by an application before its nominal last day.
        let onTime: Bool
        let lastDay: CivilDate
        do {
            onTime = try calendar.isWithin(receivedOn, periodEndingOn: nominal)
            lastDay = onTime ? nominal : try calendar.rolledForward(nominal)
        } catch {
            throw WorkflowError(
                .calendarNotCovered, case: caseID, rule: "AR1", "the review window cannot be counted: \(error.message)")
        }
        let absolute = a.actDate.adding(months: 12 * (a.immovableProperty ? 20 : 5))
        if receivedOn > absolute {
            throw WorkflowError(
                .ruleViolation, case: caseID, rule: "AR1",
                "the act of \(a.actDate) is more than \(a.immovableProperty ? 20 : 5) years old; review is barred")
        }
        if !onTime {
            throw WorkflowError(
                .ruleViolation, case: caseID, rule: "AR1",
                "the application received on \(receivedOn) is past the review window, which ended on \(lastDay) ("
                    + (a.rightsNotified
                        ? "\(days) days from \(a.knownOn)"
                        : "no notice of the right: capped at 1 year from \(a.knownOn)")
                    + ")")
        }
    }

    /// LD6: one year from knowing of the infringement, run afresh after an interruption, suspended days not
    /// counted; wage arrears have no limit during employment and one year after it ends.
    static func checkLabourLimitation(
        _ claim: LabourClaim, received: Instant, _ context: DecisionContext, _ caseID: CaseID
    ) throws(WorkflowError) {
        guard (0...3650).contains(claim.suspendedDays),
            [claim.infringementKnownOn, claim.interruptedOn, claim.employmentEndedOn].allSatisfy({
                $0.map { (1900...2200).contains($0.year) } ?? true
            })
        else {
            throw WorkflowError(
                .invalidField, case: caseID, rule: "LD6", "a date or suspended-day count of the claim is not plausible")
        }
        let start: CivilDate
        if claim.wageArrears {
            guard let ended = claim.employmentEndedOn else { return }  // still employed: no limit
            start = max(ended, claim.interruptedOn ?? ended)
        } else {
            start = max(claim.infringementKnownOn, claim.interruptedOn ?? claim.infringementKnownOn)
        }
        let nominal = start.adding(months: 12).adding(days: claim.suspendedDays)
        let receivedOn = LegalTime.date(of: received)
        // Only the days up to the application's are looked up: a limitation ending in a year the calendar does not
        // cover yet is met by an application before its nominal last day.
        let lastDay: CivilDate
        do {
            lastDay =
                try context.calendar.isWithin(receivedOn, periodEndingOn: nominal)
                ? receivedOn : try context.calendar.rolledForward(nominal)
        } catch {
            throw WorkflowError(
                .calendarNotCovered, case: caseID, rule: "LD6", "the limitation cannot be counted: \(error.message)")
        }
        if receivedOn > lastDay {
            throw WorkflowError(
                .ruleViolation, case: caseID, rule: "LD6",
                "the 1-year arbitration limitation ended on \(lastDay) (counted from \(start)); the application of "
                    + "\(receivedOn) is too late unless an interruption or suspension is recorded")
        }
    }

    // MARK: Clocks

    /// Sets the clock `spec` running from the receipt, ``clockStart`` or now.
    mutating func start(_ spec: DeadlineSpec) throws(WorkflowError) {
        let start = spec.fromReceipt ? state.receivedAt : (clockStart ?? now)
        let end: PeriodEnd
        do {
            end = try context.calendar.end(of: spec.period, from: start)
        } catch {
            throw fail(.calendarNotCovered, rule: spec.rule, "clock \(spec.id) cannot be set: \(error.message)")
        }
        let lead = spec.warnBefore.map { Int64($0.amount) * Decider.microseconds(per: $0.unit) }
        let deadline = DeadlineState(
            id: spec.id, rule: spec.rule, unit: spec.period.unit, startedAt: start, end: end,
            warnLead: lead, status: .running, pausedAt: nil, warned: false, extensionsUsed: 0, fires: spec.fires,
            onBreach: spec.onBreach)
        try emit(.deadlineSet(deadline))
    }

    /// Starts, stops, pauses and resumes clocks after events named `names` moved the case.
    mutating func updateClocks(after names: [String]) throws(WorkflowError) {
        let terminal = definition.isTerminal(state.state)
        var started = Set<String>()
        for spec in definition.deadlines where spec.startsOn.contains(where: names.contains) {
            if let condition = spec.condition, DeadlineCondition(rawValue: condition)?.holds(on: state) != true {
                continue
            }
            if terminal && spec.fires { continue }
            try start(spec)
            started.insert(spec.id)
        }
        // A breached clock is still owed: the command that fulfils its duty late stops it too (the breach stays
        // recorded), so it leaves the overdue lists.
        for deadline in state.deadlines
        where (deadline.isOpen || deadline.status == .breached) && !started.contains(deadline.id) {
            guard let spec = definition.deadline(deadline.id) else { continue }
            if (terminal && deadline.fires) || spec.stopsIn.contains(state.state)
                || spec.stopsOn.contains(where: names.contains)
            {
                try emit(.deadlineStopped(id: deadline.id))
            } else if deadline.status == .running, spec.pausedIn.contains(state.state) {
                try emit(.deadlinePaused(id: deadline.id))
            } else if deadline.status == .paused, !spec.pausedIn.contains(state.state), let pausedAt = deadline.pausedAt
            {
                let end: PeriodEnd
                do {
                    end = try context.calendar.resume(
                        deadline.end, unit: deadline.unit, pausedAt: pausedAt, resumedAt: now)
                } catch {
                    throw fail(.calendarNotCovered, rule: spec.rule, "clock \(spec.id) cannot resume: \(error.message)")
                }
                try emit(.deadlineResumed(id: deadline.id, end: end))
            }
        }
    }

    static func microseconds(per unit: PeriodUnit) -> Int64 {
        switch unit {
        case .hours: return Instant.microsecondsPerHour
        case .days, .workingDays: return Instant.microsecondsPerDay
        case .months: return 30 * Instant.microsecondsPerDay
        case .years: return 365 * Instant.microsecondsPerDay
        }
    }

    /// Fires the warnings and breaches due at `now`, earliest first, and the commands attached to breaches.
    mutating func fireDueClocks() throws(WorkflowError) {
        try recountProvisionalClocks()
        // A command a breach fires may start clocks that are already due (a deemed acceptance days late): fire
        // those too, pass by pass, until nothing is due, so one tick leaves nothing behind for the next.
        for _ in 0..<16 {
            let before = records.count
            try fireDueClocksOnce()
            if records.count == before { return }
        }
    }

    private mutating func fireDueClocksOnce() throws(WorkflowError) {
        let due = state.deadlines.filter { $0.status == .running && $0.fires }
            .sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
        for snapshot in due {
            guard let deadline = state.deadline(snapshot.id), deadline.status == .running else { continue }
            if let warnAt = deadline.warnAt, !deadline.warned, now >= warnAt, now < deadline.dueAt {
                try asSystem { (d: inout Decider) throws(WorkflowError) in
                    try d.emit(.deadlineApproaching(id: deadline.id, dueAt: deadline.dueAt))
                }
            }
            guard now >= deadline.dueAt else { continue }
            // The breach is decided on a copy: when its command needs a calendar year that is not loaded (the
            // `refuse` policy), nothing is written and the clock stays due, so a tick after the year is loaded fires
            // it, its clocks counted from the same instant. Refusing it would lose the legal effect for good.
            var attempt = self
            var waitsForCalendar = false
            try attempt.asSystem { (d: inout Decider) throws(WorkflowError) in
                try d.emit(.deadlineBreached(id: deadline.id, dueAt: deadline.dueAt))
                try d.updateClocks(after: ["deadlineBreached"])
                if deadline.rule == "AR7", d.state.kind == .administrativeReview {
                    do throws(WorkflowError) {
                        try d.reviewPeriodExpired(deadline)
                    } catch  where error.code == .calendarNotCovered {
                        waitsForCalendar = true
                        return
                    }
                }
                guard let commandName = deadline.onBreach, let command = Decider.systemCommand(commandName),
                    d.definition.transition(commandName, from: d.state.state) != nil
                else { return }
                // The breach's command is tried on a copy: when a rule refuses it (another proceeding holds the act),
                // the refusal is recorded and nothing else changes, so one case can never block the tick or its own
                // later commands.
                var trial = d
                trial.clockStart = Instant(microsecondsSinceEpoch: deadline.dueAt.microsecondsSinceEpoch - 1)
                do throws(WorkflowError) {
                    try trial.handle(command)
                    trial.clockStart = nil
                    d = trial
                } catch  where error.code == .calendarNotCovered {
                    waitsForCalendar = true
                } catch {
                    try d.emit(
                        .automaticCommandRefused(
                            command: commandName, deadline: deadline.id, rule: error.rule, reason: error.message))
                }
            }
            if !waitsForCalendar { self = attempt }
        }
    }

    /// Refuses a person's command while a clock of the case is past its end but its breach waits for the holiday
    /// calendar (``fireDueClocks()`` wrote nothing for it): deciding on would treat the clock as still running (a
    /// settlement would stop it as met, a pause would pause a period that ran out).
    func requireNoBreachWaitingForTheCalendar() throws(WorkflowError) {
        guard let waiting = state.deadlines.first(where: { $0.status == .running && $0.fires && now >= $0.dueAt })
        else { return }
        throw fail(
            .calendarNotCovered, rule: waiting.rule,
            "clock \(waiting.id) ran out at \(waiting.dueAt), and what its end sets off needs a holiday-calendar year "
                + "that is not loaded; load that year's notice (updateCalendar), then the case can go on")
    }

    /// AR11: a review period that runs out without a decision ends the review's hold on the act (AR4 bars a suit
    /// only during review), and the applicant's 15 days to sue run from the period's last day, as from a decision.
    mutating func reviewPeriodExpired(_ period: DeadlineState) throws(WorkflowError) {
        if let act = state.review?.application.actReference, let lock = locks[act], lock.holder == .review,
            lock.holderCase == id
        {
            setLock(ProceedingLock(act: act))
        }
        guard let suit = definition.deadline("AR11.suit") else { return }
        let saved = clockStart
        clockStart = Instant(microsecondsSinceEpoch: period.dueAt.microsecondsSinceEpoch - 1)
        defer { clockStart = saved }
        try start(suit)
    }

    /// Day, month and year clocks counted provisionally (a year the calendar did not cover) are counted again once
    /// the calendar covers their last day. Working-day clocks keep their provisional end (documented).
    mutating func recountProvisionalClocks() throws(WorkflowError) {
        for deadline in state.deadlines where deadline.isOpen && deadline.end.provisional {
            guard deadline.unit != .workingDays, deadline.unit != .hours,
                context.calendar.years[deadline.end.nominalLastDay.year] != nil
            else { continue }
            var calendar = context.calendar
            calendar.beyondCoverage = .refuse
            guard let end = try? calendar.settle(deadline.end.nominalLastDay), !end.provisional else { continue }
            try asSystem { (d: inout Decider) throws(WorkflowError) in
                try d.emit(.deadlineRecounted(id: deadline.id, end: end))
            }
        }
    }

    mutating func asSystem(_ body: (inout Decider) throws(WorkflowError) -> Void) throws(WorkflowError) {
        let saved = currentActor
        currentActor = .system
        defer { currentActor = saved }
        try body(&self)
    }

    static func systemCommand(_ name: String) -> CaseCommand? {
        switch name {
        case "deemAccept": return .deemAccept
        case "deemAbandoned": return .deemAbandoned
        case "openArbitration": return .openArbitration
        case "openLitigation": return .openLitigation
        default: return nil
        }
    }
}
