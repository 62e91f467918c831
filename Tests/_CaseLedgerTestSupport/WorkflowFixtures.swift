public import CaseLedgerWorkflow

/// A small county for workflow tests, shaped like Jingyan (Leshan, Sichuan): two townships, three villages, and
/// the county's centre, bureau, aid centre, review body, commissions, court and hotline.
public enum County {
    public static let city = code("511100000000")
    public static let county = code("511124000000")
    public static let township1 = code("511124101000")
    public static let township2 = code("511124102000")
    public static let village1 = code("511124101001")
    public static let village2 = code("511124101002")
    public static let village3 = code("511124102001")

    static func code(_ text: String) -> DivisionCode {
        guard let code = DivisionCode(text) else { preconditionFailure("bad fixture code \(text)") }
        return code
    }

    public static let units: [ServiceUnit] = [
        ServiceUnit(id: "v1", name: "Village 1 committee", kind: .mediationCommittee, division: village1),
        ServiceUnit(id: "v2", name: "Village 2 committee", kind: .mediationCommittee, division: village2),
        ServiceUnit(id: "v3", name: "Village 3 committee", kind: .mediationCommittee, division: village3),
        ServiceUnit(id: "t1", name: "Township 1 committee", kind: .mediationCommittee, division: township1),
        ServiceUnit(id: "t2", name: "Township 2 committee", kind: .mediationCommittee, division: township2),
        ServiceUnit(id: "centre", name: "County coordination centre", kind: .serviceCentre, division: county),
        ServiceUnit(id: "bureau", name: "County justice bureau", kind: .justiceBureau, division: county),
        ServiceUnit(id: "aid", name: "County legal aid centre", kind: .legalAidCentre, division: county),
        ServiceUnit(id: "review", name: "County review body", kind: .reviewBody, division: county),
        ServiceUnit(
            id: "labour", name: "Labour arbitration commission", kind: .labourArbitrationCommission, division: county),
        ServiceUnit(
            id: "arbitration", name: "City arbitration commission", kind: .arbitrationCommission, division: city),
        ServiceUnit(id: "court", name: "County people's court", kind: .court, division: county),
        ServiceUnit(id: "hotline", name: "12348 desk", kind: .hotlineDesk, division: county),
    ]

    public static let persons: [Person] = [
        Person(id: "m-v1", name: "Mediator V1", roles: [.mediator, .staff], units: ["v1"]),
        Person(id: "m-v1b", name: "Mediator V1b", roles: [.mediator], units: ["v1"]),
        Person(id: "clerk-v1", name: "Clerk V1", roles: [.staff], units: ["v1"]),
        Person(id: "m-v2", name: "Mediator V2", roles: [.mediator, .staff], units: ["v2"]),
        Person(id: "m-v3", name: "Mediator V3", roles: [.mediator, .staff], units: ["v3"]),
        Person(id: "m-t1", name: "Mediator T1", roles: [.mediator, .staff], units: ["t1"]),
        Person(id: "m-t2", name: "Mediator T2", roles: [.mediator, .staff], units: ["t2"]),
        Person(id: "head-t1", name: "Head T1", roles: [.head, .staff], units: ["t1"]),
        Person(id: "m-county", name: "County mediator", roles: [.mediator, .staff], units: ["centre"]),
        Person(id: "bureau-head", name: "Bureau head", roles: [.head, .staff], units: ["bureau"]),
        Person(id: "aid-staff", name: "Aid officer", roles: [.staff], units: ["aid"]),
        Person(id: "aid-head", name: "Aid centre head", roles: [.head, .staff], units: ["aid"]),
        Person(id: "lawyer-1", name: "Lawyer One", roles: [.lawyer], units: []),
        Person(id: "lawyer-2", name: "Lawyer Two", roles: [.lawyer], units: []),
        Person(id: "review-officer", name: "Review officer", roles: [.staff, .adjudicator], units: ["review"]),
        Person(id: "review-head", name: "Review body head", roles: [.head, .staff], units: ["review"]),
        Person(id: "labour-clerk", name: "Labour clerk", roles: [.staff, .adjudicator], units: ["labour"]),
        Person(id: "labour-chair", name: "Labour chair", roles: [.head, .staff], units: ["labour"]),
        Person(id: "arb-clerk", name: "Arbitration clerk", roles: [.staff], units: ["arbitration"]),
        Person(id: "court-clerk", name: "Court clerk", roles: [.staff], units: ["court"]),
        Person(id: "hotline-agent", name: "Hotline agent", roles: [.staff], units: ["hotline"]),
        Person(id: "hotline-head", name: "Hotline head", roles: [.head, .staff], units: ["hotline"]),
        Person(id: "outsider", name: "Someone else", roles: [.staff], units: ["v3"]),
    ]

    public static let directory = Directory(units: units, persons: persons)

    public static let parties = [
        Party(reference: "p-a", name: "Zhang San", role: .applicant),
        Party(reference: "p-b", name: "Li Si", role: .respondent),
    ]
    public static let bothParties = ["p-a", "p-b"]

    /// A registration of `kind` at `unit`, owned by `owner`, about a dispute in village 1.
    public static func registration(
        _ kind: CaseKind, unit: UnitID, owner: PersonID, dispute: DisputeType = .neighbour,
        division: DivisionCode = village1, channel: Channel = .window, receivedAt: Instant? = nil,
        legalAid: LegalAidApplication? = nil, review: ReviewApplication? = nil, arbitrationAgreement: Bool = false
    ) -> Registration {
        Registration(
            kind: kind, channel: channel, unit: unit, owner: owner, division: division, parties: parties,
            disputeType: dispute, summary: "a \(dispute) dispute", receivedAt: receivedAt, legalAid: legalAid,
            review: review, arbitrationAgreement: arbitrationAgreement)
    }

    /// 09:00 local on a date.
    public static func at(_ y: Int, _ m: Int, _ d: Int, hour: Int = 9) -> Instant {
        guard let date = CivilDate(year: y, month: m, day: d) else { preconditionFailure("bad date") }
        return LegalTime.instant(date, hour: hour)
    }

    public static func date(_ y: Int, _ m: Int, _ d: Int) -> CivilDate {
        guard let date = CivilDate(year: y, month: m, day: d) else { preconditionFailure("bad date") }
        return date
    }
}

/// An in-memory store for the pure workflow: applies decisions as the engine would, without a log. Used by the
/// rule tests and the property tests; the engine tests use the real log.
public struct WorkflowHarness {
    public var directory: Directory
    public var calendar: HolidayCalendar
    public var definitions: DefinitionRegistry
    public private(set) var states: [CaseID: CaseState] = [:]
    public private(set) var histories: [CaseID: [WorkflowRecord]] = [:]
    public private(set) var locks: [String: ProceedingLock] = [:]
    public var now: Instant

    public init(
        now: Instant, calendar: HolidayCalendar, definitions: DefinitionRegistry,
        directory: Directory = County.directory
    ) {
        self.now = now
        self.calendar = calendar
        self.definitions = definitions
        self.directory = directory
    }

    public func context(_ actor: PersonID) -> DecisionContext {
        DecisionContext(
            directory: directory, calendar: calendar, definitions: definitions, now: now, actor: actor, locks: locks,
            existingCases: Set(states.keys))
    }

    /// Runs a command; on success stores its records and returns the decision.
    @discardableResult
    public mutating func run(_ command: CaseCommand, on id: CaseID, by actor: PersonID) throws(WorkflowError)
        -> Decision
    {
        let decision = try Workflow.decide(command, for: id, state: states[id], context: context(actor))
        store(decision)
        return decision
    }

    /// Fires due clocks on every case at `now`.
    @discardableResult
    public mutating func tick() throws(WorkflowError) -> [Decision] {
        var decisions: [Decision] = []
        for id in states.keys.sorted() {
            guard let state = states[id] else { continue }
            if let decision = try Workflow.tick(state, context: context(.system)) {
                store(decision)
                decisions.append(decision)
            }
        }
        return decisions
    }

    private mutating func store(_ decision: Decision) {
        for c in decision.cases {
            histories[c.caseID, default: []] += c.records
        }
        for (id, state) in decision.states { states[id] = state }
        for lock in decision.locks { locks[lock.act] = lock }
    }

    public func state(_ id: CaseID) -> CaseState? { states[id] }

    public mutating func advance(days: Int64) { now = now.adding(days: days) }
}

/// A small seeded random number generator (SplitMix64), so property tests repeat exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
