/// The no-parallel-proceedings lock on one contested administrative act (AR4).
public struct ProceedingLock: Sendable, Hashable, Codable {
    public enum Holder: String, Sendable, Hashable, Codable { case review, litigation }
    public var act: String
    public var holder: Holder?
    public var holderCase: CaseID?

    public init(act: String, holder: Holder? = nil, holderCase: CaseID? = nil) {
        self.act = act
        self.holder = holder
        self.holderCase = holderCase
    }
}

/// What the decider needs besides the case: the directory, calendar, definitions, the time and the actor.
public struct DecisionContext: Sendable {
    public var directory: Directory
    public var calendar: HolidayCalendar
    public var definitions: DefinitionRegistry
    /// The command's time, from the injected clock. The decider never goes below the case's last event time.
    public var now: Instant
    public var actor: PersonID
    /// AR4 locks for the acts the command touches (see ``Workflow/actReferences(of:state:)``).
    public var locks: [String: ProceedingLock]
    /// Cases the command would create that exist already (the engine checks the log).
    public var existingCases: Set<CaseID>

    public init(
        directory: Directory, calendar: HolidayCalendar, definitions: DefinitionRegistry, now: Instant,
        actor: PersonID, locks: [String: ProceedingLock] = [:], existingCases: Set<CaseID> = []
    ) {
        self.directory = directory
        self.calendar = calendar
        self.definitions = definitions
        self.now = now
        self.actor = actor
        self.locks = locks
        self.existingCases = existingCases
    }
}

/// What a command decided: records per case (the command's case first), in order, and lock changes.
public struct Decision: Sendable, Hashable {
    public struct CaseRecords: Sendable, Hashable {
        public var caseID: CaseID
        /// The case's version before these records (0 for a new case).
        public var expectedVersion: UInt64
        public var records: [WorkflowRecord]
    }
    public var cases: [CaseRecords]
    /// AR4 locks as they must be after the command.
    public var locks: [ProceedingLock]
    /// The states after the records, by case.
    public var states: [CaseID: CaseState]

    public var isEmpty: Bool { cases.allSatisfy { $0.records.isEmpty } }

    public init(cases: [CaseRecords], locks: [ProceedingLock], states: [CaseID: CaseState]) {
        self.cases = cases
        self.locks = locks
        self.states = states
    }
}

/// The workflow engine's pure core: commands in, events out, no I/O, the clock passed in.
public enum Workflow {
    /// Decides a command against a case's current state (`nil` for a case that does not exist yet).
    ///
    /// Clocks that are due at `context.now` fire first (as `tick` would), then the command is checked against the
    /// case's definition version: the transition must be allowed in the current state, required fields present,
    /// the actor authorised and every guard satisfied. Only then are events produced.
    ///
    /// - Throws: ``WorkflowError`` naming the case and, where a rule decides, the rule.
    public static func decide(_ command: CaseCommand, for caseID: CaseID, state: CaseState?, context: DecisionContext)
        throws(WorkflowError) -> Decision
    {
        if case .register(let registration) = command {
            guard state == nil, !context.existingCases.contains(caseID) else {
                throw WorkflowError(.caseExists, case: caseID, "a case with this id is registered already")
            }
            var decider = try Decider.registering(caseID, registration, context: context, linkedFrom: nil)
            return try withinHeaderLimits(decider.finish())
        }
        guard let state else {
            throw WorkflowError(.unknownCase, case: caseID, "no case has this id; register it first")
        }
        var decider = try Decider(state: state, context: context)
        if !command.isSystem {
            try decider.fireDueClocks()
            try decider.requireNoBreachWaitingForTheCalendar()
        }
        try decider.handle(command)
        return try withinHeaderLimits(decider.finish())
    }

    /// Refuses a decision whose records would carry more than a record header holds: a case keeps at most 255
    /// mediators and 254 links; every text a record's header writes (the case's state name, owning unit's id and
    /// owner's id, the record's clock name, the people it names, the case it links to) is at most 255 bytes. The
    /// header would cut them without a trace, and the views read them from it. Only what the decision's records
    /// write is checked, so a case that holds a long id from before (a stopped clock, say) is not stranded by it.
    static func withinHeaderLimits(_ decision: Decision) throws(WorkflowError) -> Decision {
        for (id, state) in decision.states {
            guard state.mediators.count <= 255 else {
                throw WorkflowError(.invalidField, case: id, "a case holds at most 255 mediators")
            }
            guard state.links.count <= 254 else {
                throw WorkflowError(.invalidField, case: id, "a case holds at most 254 links to other cases")
            }
        }
        for c in decision.cases {
            guard let after = decision.states[c.caseID] else { continue }
            for record in c.records {
                if let overflow = RecordHeader(record: record, state: after, closed: false).overflow {
                    throw WorkflowError(
                        .invalidField, case: c.caseID,
                        overflow + ": shorten it in the directory, the definitions or the command")
                }
            }
        }
        return decision
    }

    /// Fires every clock of the case that is due at `context.now`: approaching warnings, breaches, and the
    /// commands definitions attach to breaches (deemed acceptance, arbitration or litigation opening). Returns
    /// `nil` when nothing is due. Deterministic: the same state and time give the same records.
    public static func tick(_ state: CaseState, context: DecisionContext) throws(WorkflowError) -> Decision? {
        var decider = try Decider(state: state, context: context)
        try decider.fireDueClocks()
        let decision = decider.finish()
        return decision.isEmpty ? nil : decision
    }

    /// The act references whose AR4 locks a command needs.
    public static func actReferences(of command: CaseCommand, state: CaseState?) -> [String] {
        var acts: [String] = []
        if let act = state?.review?.application.actReference { acts.append(act) }
        switch command {
        case .register(let r): if let act = r.review?.actReference { acts.append(act) }
        case .refer(let referral): if let act = referral.review?.actReference { acts.append(act) }
        case .convertToCase(_, let r): if let act = r.review?.actReference { acts.append(act) }
        default: break
        }
        return acts
    }

    /// The earliest instant at which a clock of the case needs a tick, or `nil` when none.
    public static func nextDue(_ state: CaseState) -> Instant? {
        state.deadlines.filter { $0.status == .running && $0.fires }.map { d in
            if let w = d.warnAt, !d.warned, w < d.dueAt { return w }
            return d.dueAt
        }.min()
    }
}

extension CaseCommand {
    /// Commands only the clock issues.
    var isSystem: Bool {
        switch self {
        case .deemAccept, .deemAbandoned, .openArbitration, .openLitigation: return true
        default: return false
        }
    }
}
