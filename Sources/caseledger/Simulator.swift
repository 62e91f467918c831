import CaseLedger
import CaseLedgerLog
import CaseLedgerWorkflow
import HeapModule
import Synchronization

/// A seeded, deterministic caseload of one county or a whole city over a date range, run command by command through
/// the workflow engine, so every rule holds: the engine refuses anything a rule forbids, and the simulator counts
/// such refusals (its scripts are meant to cause none).
///
/// The shape follows `domain.md` §7 (Jingyan: one county centre, 15 township stations, about 120 village rooms):
/// per county, 15 townships of 8 villages each, a mediation committee in each, the county's coordination centre,
/// legal aid centre, review body, labour arbitration commission, court and 12348 desk; and the city's commercial
/// arbitration commission (also for a single county, whose contract disputes go there).
struct Simulation {
    struct Plan {
        var cases: Int
        var seed: UInt64
        var from: CivilDate
        var to: CivilDate
        var counties: Int
    }

    struct Report {
        var casesRegistered = 0
        var commands = 0
        var refused: [String: Int] = [:]
        var firstRefusals: [String] = []
        var tickEvents = 0
        var escalated: [CaseID] = []
        var events: UInt64 = 0
        var refusedTotal: Int { refused.values.reduce(0, +) }
    }

    /// One command at a moment of the simulated time; steps run in order of time, then case, then the case's order.
    struct Step: Comparable {
        static func < (a: Step, b: Step) -> Bool { (a.at, a.caseID, a.order) < (b.at, b.caseID, b.order) }
        static func == (a: Step, b: Step) -> Bool { (a.at, a.caseID, a.order) == (b.at, b.caseID, b.order) }

        var at: Instant
        var order: Int
        var caseID: CaseID
        var actor: PersonID
        var command: CaseCommand
    }

    let plan: Plan
    let hierarchy: Hierarchy
    /// Working days of the official calendar (holidays off, swapped weekend days on); beyond its years, weekdays.
    let isWorkingDay: @Sendable (CivilDate) -> Bool

    init(plan: Plan, calendar: HolidayCalendar) throws {
        self.plan = plan
        hierarchy = try Hierarchy(counties: plan.counties)
        isWorkingDay = { date in (try? calendar.isWorkingDay(date)) ?? !date.isWeekend }
    }

    // MARK: The hierarchy

    struct County {
        var index: Int
        var prefix: String
        var code: DivisionCode
        var townships: [(code: DivisionCode, unit: UnitID, mediator: PersonID, villages: [Village])]
        var centre: UnitID { UnitID("\(prefix)-centre") }
        var aid: UnitID { UnitID("\(prefix)-aid") }
        var review: UnitID { UnitID("\(prefix)-review") }
        var labour: UnitID { UnitID("\(prefix)-labour") }
        var court: UnitID { UnitID("\(prefix)-court") }
        var hotline: UnitID { UnitID("\(prefix)-hotline") }
        func person(_ unit: UnitID, _ role: String) -> PersonID { PersonID("\(unit.rawValue)-\(role)") }
        var lawyers: [PersonID] { (1...12).map { PersonID("\(prefix)-lawyer-\(String($0).leftPadded(to: 2))") } }
    }

    struct Village {
        var code: DivisionCode
        var unit: UnitID
        var mediator: PersonID
    }

    struct Hierarchy {
        var city: DivisionCode
        var counties: [County]
        var directory: Directory
        static let arbitration = UnitID("city-arbitration")
        static let arbitrationClerk = PersonID("city-arbitration-clerk")

        init(counties count: Int) throws {
            func code(_ text: String) throws -> DivisionCode {
                guard let code = DivisionCode(text) else { throw ToolError("\(text) is not a division code") }
                return code
            }
            let city = try code("511100000000")
            self.city = city
            var units: [ServiceUnit] = [
                ServiceUnit(
                    id: Self.arbitration, name: "市仲裁委员会", kind: .arbitrationCommission, division: city)
            ]
            var persons: [Person] = [
                Person(id: Self.arbitrationClerk, name: "仲裁秘书", roles: [.staff], units: [Self.arbitration])
            ]
            var counties: [County] = []
            for c in 0..<max(1, count) {
                let digits = "5111" + String(21 + c).leftPadded(to: 2)
                let prefix = "c" + String(c + 1).leftPadded(to: 2)
                let countyCode = try code(digits + "000000")
                var townships: [(DivisionCode, UnitID, PersonID, [Village])] = []
                for t in 1...15 {
                    let t3 = String(100 + t)
                    let townshipCode = try code(digits + t3 + "000")
                    let tUnit = UnitID("\(prefix)-t\(String(t).leftPadded(to: 2))")
                    units.append(
                        ServiceUnit(id: tUnit, name: "第\(t)镇人民调解委员会", kind: .mediationCommittee, division: townshipCode)
                    )
                    let tMediator = PersonID("\(tUnit.rawValue)-m1")
                    persons.append(Person(id: tMediator, name: "镇调解员", roles: [.mediator, .staff], units: [tUnit]))
                    persons.append(
                        Person(id: PersonID("\(tUnit.rawValue)-m2"), name: "镇调解员", roles: [.mediator], units: [tUnit]))
                    persons.append(
                        Person(
                            id: PersonID("\(tUnit.rawValue)-head"), name: "司法所长", roles: [.head, .staff], units: [tUnit]
                        ))
                    var villages: [Village] = []
                    for v in 1...8 {
                        let villageCode = try code(digits + t3 + String(v).leftPadded(to: 3))
                        let vUnit = UnitID("\(tUnit.rawValue)-v\(v)")
                        units.append(
                            ServiceUnit(
                                id: vUnit, name: "第\(t)镇\(v)村人民调解委员会", kind: .mediationCommittee, division: villageCode)
                        )
                        let vMediator = PersonID("\(vUnit.rawValue)-m1")
                        persons.append(Person(id: vMediator, name: "村调解员", roles: [.mediator, .staff], units: [vUnit]))
                        persons.append(
                            Person(
                                id: PersonID("\(vUnit.rawValue)-m2"), name: "村调解员", roles: [.mediator], units: [vUnit]))
                        villages.append(Village(code: villageCode, unit: vUnit, mediator: vMediator))
                    }
                    townships.append((townshipCode, tUnit, tMediator, villages))
                }
                let county = County(index: c, prefix: prefix, code: countyCode, townships: townships)
                let named: [(UnitID, String, UnitKind, [(String, Set<Role>)])] = [
                    (
                        county.centre, "县矛盾纠纷多元化解协调中心", .serviceCentre,
                        [
                            ("m1", [.mediator, .staff]), ("m2", [.mediator, .staff]),
                            ("head", [.head, .staff, .mediator]),
                        ]
                    ),
                    (county.aid, "县法律援助中心", .legalAidCentre, [("staff", [.staff]), ("head", [.head, .staff])]),
                    (
                        county.review, "县人民政府行政复议机构", .reviewBody,
                        [("officer", [.staff, .adjudicator]), ("head", [.head, .staff])]
                    ),
                    (
                        county.labour, "县劳动人事争议仲裁委员会", .labourArbitrationCommission,
                        [("clerk", [.staff, .adjudicator]), ("chair", [.head, .staff])]
                    ),
                    (county.court, "县人民法院", .court, [("clerk", [.staff])]),
                    (county.hotline, "12348热线", .hotlineDesk, [("agent", [.staff]), ("head", [.head, .staff])]),
                ]
                for (unit, name, kind, people) in named {
                    units.append(ServiceUnit(id: unit, name: name, kind: kind, division: countyCode))
                    for (role, roles) in people {
                        persons.append(
                            Person(id: county.person(unit, role), name: name + role, roles: roles, units: [unit]))
                    }
                }
                for lawyer in county.lawyers {
                    persons.append(Person(id: lawyer, name: "律师", roles: [.lawyer], units: []))
                }
                counties.append(county)
            }
            self.counties = counties
            directory = Directory(units: units, persons: persons)
        }
    }

    // MARK: Scripts

    /// The commands of case `n`, from its own random stream (so a case's story does not depend on the others).
    /// The day case `n` is registered on, and its random stream from there: the first draws of its story, so the
    /// run can find each day's cases without writing their stories yet.
    func registration(case n: Int) -> (day: CivilDate, random: SplitMix) {
        var random = SplitMix(seed: plan.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(n))
        let days = max(1, plan.to.dayNumber - plan.from.dayNumber + 1)
        // Fewer registrations on rest days (weekends and public holidays): most wait for the next working day.
        var day = plan.from.adding(days: random.int(days))
        if !isWorkingDay(day), random.chance(0.6) {
            var next = day.adding(days: 1)
            for _ in 0..<10 where !isWorkingDay(next) { next = next.adding(days: 1) }
            day = next
        }
        return (day, random)
    }

    func script(case n: Int) -> [Step] {
        let (day, stream) = registration(case: n)
        var random = stream
        let county = hierarchy.counties[random.int(hierarchy.counties.count)]
        let township = county.townships[random.int(county.townships.count)]
        let village = township.villages[random.int(township.villages.count)]
        let id = CaseID("\(day.year)-\(county.prefix)-\(String(n + 1).leftPadded(to: 6))")
        let parties = [
            Party(reference: "id-\(random.int(max(1, plan.cases / 3)))", name: "申请人", role: .applicant),
            Party(reference: "id-r\(n)", name: "被申请人", role: .respondent),
        ]
        let both = parties.map(\.reference)
        let start = LegalTime.instant(day, hour: 8 + random.int(9), minute: random.int(60))
        var s = Script(random: random, time: start, id: id, isWorkingDay: isWorkingDay)
        let roll = s.random.double()
        switch roll {
        case ..<0.55:
            mediation(id, county, township, village, parties, both, &s)
        case ..<0.63:
            labour(id, county, township, day, parties, &s)
        case ..<0.75:
            legalAid(id, county, village, parties, &s)
        case ..<0.79:
            review(id, n, county, village, day, parties, &s)
        default:
            consultation(id, county, village, parties, &s)
        }
        return s.steps
    }

    /// One case's story as it is written: its random stream, its time and its steps.
    struct Script {
        var random: SplitMix
        var time: Instant
        let id: CaseID
        let isWorkingDay: (CivilDate) -> Bool
        var steps: [Step] = []

        mutating func add(_ command: CaseCommand, by actor: PersonID, on caseID: CaseID? = nil) {
            steps.append(Step(at: time, order: steps.count, caseID: caseID ?? id, actor: actor, command: command))
        }

        /// Moves the time on by whole days (to a working day and hour) and by minutes.
        mutating func later(days: Int = 0, minutes: Int = 0) {
            if days > 0 {
                var date = LegalTime.date(of: time).adding(days: days)
                for _ in 0..<10 where !isWorkingDay(date) { date = date.adding(days: 1) }
                time = LegalTime.instant(date, hour: 8 + random.int(9), minute: random.int(60))
            }
            time = time.adding(seconds: Int64(minutes * 60))
        }

        /// A written agreement takes effect at its last signature: every party, the mediator, the seal (PM10).
        mutating func agreeInWriting(mediator: PersonID, parties: [String], terms: String) {
            add(.reachAgreement(form: .written, terms: terms), by: mediator)
            later(minutes: 20)
            for party in parties { add(.signAgreement(.party(party)), by: mediator) }
            add(.signAgreement(.mediator(mediator)), by: mediator)
            add(.signAgreement(.committeeSeal), by: mediator)
        }

        /// Most citizens evaluate a closed case within days (一单一评), as the party itself; most are satisfied.
        mutating func evaluate(byParty party: String) {
            guard random.chance(0.85) else { return }
            later(days: 1 + random.int(5))
            let rating = random.chance(0.93) ? 4 + random.int(2) : 1 + random.int(3)
            add(.evaluate(rating: rating, comment: rating >= 4 ? "满意" : "处理太慢"), by: PersonID("party:\(party)"))
        }
    }

    private func mediation(
        _ id: CaseID, _ county: County,
        _ township: (code: DivisionCode, unit: UnitID, mediator: PersonID, villages: [Village]),
        _ village: Village, _ parties: [Party], _ both: [String], _ s: inout Script
    ) {
        let applicant = parties[0].reference
        let disputes: [(DisputeType, Double)] = [
            (.neighbour, 0.25), (.marriage, 0.1), (.debt, 0.15), (.contract, 0.1), (.tort, 0.1), (.property, 0.1),
            (.traffic, 0.06), (.medical, 0.03), (.consumer, 0.06), (.other, 0.05),
        ]
        let dispute = s.random.pick(disputes)
        let channels: [(Channel, Double)] = [
            (.window, 0.5), (.hotline12348, 0.15), (.online, 0.1), (.policeReferral, 0.1), (.courtReferral, 0.1),
            (.petitionOfficeReferral, 0.05),
        ]
        let registration = Registration(
            kind: .peopleMediation, channel: s.random.pick(channels), unit: village.unit, owner: village.mediator,
            division: village.code, parties: parties, disputeType: dispute, summary: "\(dispute.rawValue)纠纷",
            arbitrationAgreement: dispute == .contract && s.random.chance(0.3))
        s.add(.register(registration), by: village.mediator)
        // CA2: with an arbitration agreement the court refuses the suit, so failure points to arbitration.
        let route: Route = registration.arbitrationAgreement ? .commercialArbitration : .civilLitigation
        s.later(days: s.random.int(3), minutes: 0)
        s.add(.startMediation(mediators: [village.mediator], chosenByParties: false), by: village.mediator)
        var mediator = village.mediator
        let path = s.random.double()
        func agree() {
            s.later(days: 2 + s.random.int(15), minutes: 0)
            if s.random.chance(0.3) {
                s.agreeInWriting(mediator: mediator, parties: both, terms: "双方达成书面协议")
            } else {
                s.add(.reachAgreement(form: .oral, terms: "双方达成协议"), by: mediator)
            }
            s.later(days: 1 + s.random.int(3), minutes: 0)
            s.add(.close(outcome: "performed"), by: mediator)
            s.evaluate(byParty: applicant)
        }
        switch path {
        case ..<0.78:
            agree()
        case ..<0.86:
            // Fails at the village; the parties agree to go on at the township (PM12: one level).
            s.later(days: 5 + s.random.int(10), minutes: 0)
            s.add(.declareFailure(rightsNotice: "已告知当事人权利", suggestedRoute: route), by: mediator)
            s.later(days: 1, minutes: 0)
            s.add(
                .escalate(
                    Escalation(
                        toUnit: township.unit, toPerson: township.mediator, reason: .failedAtLevel,
                        consentingParties: both)), by: mediator)
            mediator = township.mediator
            s.later(days: 1 + s.random.int(3), minutes: 0)
            s.add(.startMediation(mediators: [mediator], chosenByParties: false), by: mediator)
            agree()
        case ..<0.89:
            // Major or complex: straight to the county centre (PM12).
            s.later(days: 1 + s.random.int(3), minutes: 0)
            s.add(.markMajorOrComplex(reason: "涉及多方、标的较大"), by: mediator)
            let centre = county.person(county.centre, "m1")
            s.add(
                .escalate(
                    Escalation(
                        toUnit: county.centre, toPerson: centre, reason: .majorOrComplex, consentingParties: both)),
                by: mediator)
            mediator = centre
            s.later(days: 1 + s.random.int(3), minutes: 0)
            s.add(.startMediation(mediators: [mediator], chosenByParties: false), by: mediator)
            agree()
        case ..<0.9:
            // A risk of escalation: reported at once, taken by the county centre (PM7).
            s.later(days: 0, minutes: 30 + s.random.int(120))
            let crime = s.random.chance(0.3)
            let centre = county.person(county.centre, "m2")
            s.add(
                .flagRisk(
                    RiskReport(
                        risk: crime ? .crime : .massIncident, note: "当事人情绪激动", government: "镇人民政府",
                        police: crime ? "派出所" : nil, toUnit: county.centre, toPerson: centre)), by: mediator)
            mediator = centre
            s.later(days: 1, minutes: 0)
            s.add(.startMediation(mediators: [mediator], chosenByParties: false), by: mediator)
            agree()
        case ..<0.97:
            // Mediation fails for good: the rights notice, then a referral out (PM8, routing).
            s.later(days: 5 + s.random.int(20), minutes: 0)
            s.add(.declareFailure(rightsNotice: "已告知当事人可依法申请仲裁或提起诉讼", suggestedRoute: route), by: mediator)
            s.later(days: 1 + s.random.int(2), minutes: 0)
            let newCase = CaseID(id.rawValue + "-R")
            var aid: AidAttachment?
            if route == .civilLitigation, s.random.chance(0.25) {
                aid = AidAttachment(
                    aidCase: CaseID(id.rawValue + "-A"), centre: county.aid, owner: county.person(county.aid, "staff"),
                    application: LegalAidApplication(
                        matter: .other, exemption: .socialAssistanceRecipient, exemptionEvidence: "低保证"))
            }
            if route == .commercialArbitration {
                s.add(
                    .refer(
                        Referral(
                            route: route, newCase: newCase, toUnit: Hierarchy.arbitration,
                            toPerson: Hierarchy.arbitrationClerk)), by: mediator)
                s.later(days: 3 + s.random.int(5), minutes: 0)
                s.add(.acceptArbitration, by: Hierarchy.arbitrationClerk, on: newCase)
                s.later(days: 40 + s.random.int(60), minutes: 0)
                s.add(
                    .issueAward(
                        Award(items: [AwardItem(amountYuan: 20_000)], monthlyMinimumWageYuan: 0, summary: "裁决")),
                    by: Hierarchy.arbitrationClerk, on: newCase)
                s.later(days: 1, minutes: 0)
                s.add(.close(outcome: "awarded"), by: Hierarchy.arbitrationClerk, on: newCase)
            } else {
                let clerk = county.person(county.court, "clerk")
                s.add(
                    .refer(
                        Referral(route: route, newCase: newCase, toUnit: county.court, toPerson: clerk, legalAid: aid)),
                    by: mediator)
                if let aid {
                    let referredAt = s.time
                    aidDecision(aid.aidCase, county, approve: true, &s)
                    s.time = referredAt
                }
                s.later(days: 3 + s.random.int(7), minutes: 0)
                s.add(.recordCourtFiling(court: "县人民法院"), by: clerk, on: newCase)
                s.later(days: 1, minutes: 0)
                s.add(.close(outcome: "taken over by the court"), by: clerk, on: newCase)
            }
        default:
            // Stalls past the level's month: the clock warns and breaches before the case moves again.
            s.later(days: 35 + s.random.int(15), minutes: 0)
            agree()
        }
    }

    private func labour(
        _ id: CaseID, _ county: County,
        _ township: (code: DivisionCode, unit: UnitID, mediator: PersonID, villages: [Village]),
        _ day: CivilDate, _ parties: [Party], _ s: inout Script
    ) {
        let applicant = parties[0].reference
        let workers = [
            Party(reference: parties[0].reference, name: "劳动者", role: .worker),
            Party(reference: parties[1].reference, name: "用人单位", role: .employer),
        ]
        let claim = LabourClaim(
            infringementKnownOn: day.adding(days: -(10 + s.random.int(60))), wageArrears: s.random.chance(0.5))
        let mediator = township.mediator
        s.add(
            .register(
                Registration(
                    kind: .labourMediation, channel: s.random.chance(0.3) ? .hotline12348 : .window,
                    unit: township.unit,
                    owner: mediator, division: township.code, parties: workers, disputeType: .labour,
                    summary: "拖欠工资", labourClaim: claim)), by: mediator)
        s.later(days: 1 + s.random.int(2), minutes: 0)
        s.add(.startMediation(mediators: [mediator], chosenByParties: false), by: mediator)
        if s.random.chance(0.6) {
            s.later(days: 3 + s.random.int(8), minutes: 0)
            s.agreeInWriting(mediator: mediator, parties: workers.map(\.reference), terms: "分期支付工资")
            s.later(days: 1, minutes: 0)
            s.add(.close(outcome: "performed"), by: mediator)
            s.evaluate(byParty: applicant)
            return
        }
        s.later(days: 5 + s.random.int(8), minutes: 0)
        s.add(.declareFailure(rightsNotice: "已告知可申请劳动仲裁", suggestedRoute: .labourArbitration), by: mediator)
        s.later(days: 1, minutes: 0)
        let newCase = CaseID(id.rawValue + "-R")
        let clerk = county.person(county.labour, "clerk")
        s.add(
            .refer(Referral(route: .labourArbitration, newCase: newCase, toUnit: county.labour, toPerson: clerk)),
            by: mediator)
        s.later(days: 2 + s.random.int(3), minutes: 0)
        s.add(.acceptArbitration, by: clerk, on: newCase)
        // The claim's copy goes to the employer, who answers (LD8).
        s.later(days: 1 + s.random.int(3), minutes: 0)
        s.add(.serveApplication(on: "用人单位"), by: clerk, on: newCase)
        s.later(days: 3 + s.random.int(5), minutes: 0)
        s.add(.recordRespondentAnswer, by: clerk, on: newCase)
        s.later(days: 3 + s.random.int(6), minutes: 0)
        if s.random.chance(0.3) {
            s.add(.recordArbitralMediation(succeeded: true, statement: "仲裁调解书"), by: clerk, on: newCase)
            return
        }
        s.add(.recordArbitralMediation(succeeded: false, statement: "调解不成"), by: clerk, on: newCase)
        s.later(days: 15 + s.random.int(20), minutes: 0)
        s.add(
            .issueAward(
                Award(
                    items: [AwardItem(amountYuan: 8_000 + s.random.int(30_000))], monthlyMinimumWageYuan: 2_000,
                    summary: "支付工资")),
            by: clerk, on: newCase)
        s.later(days: 1, minutes: 0)
        s.add(.close(outcome: "awarded"), by: clerk, on: newCase)
    }

    private func aidDecision(
        _ id: CaseID, _ county: County, approve: Bool, _ s: inout Script
    ) {
        let staff = county.person(county.aid, "staff")
        s.later(days: 1 + s.random.int(4), minutes: 0)
        guard approve else {
            s.add(.denyAid(reasons: "经济状况不符合条件"), by: staff, on: id)
            s.later(days: 1, minutes: 0)
            s.add(.close(outcome: "denied"), by: staff, on: id)
            return
        }
        s.add(.approveAid, by: staff, on: id)
        s.later(days: 1 + s.random.int(2), minutes: 0)
        s.add(.assignProvider(county.lawyers[s.random.int(county.lawyers.count)]), by: staff, on: id)
        s.later(days: 30 + s.random.int(60), minutes: 0)
        s.add(.reportMatterEnded, by: staff, on: id)
        s.later(days: 5 + s.random.int(10), minutes: 0)
        s.add(.submitClosingReport(report: "结案报告", documents: ["判决书"]), by: staff, on: id)
        s.later(days: 3 + s.random.int(5), minutes: 0)
        s.add(
            .recordQualityReview(score: s.random.chance(0.8) ? 5 : 3 + s.random.int(2), note: "合格"),
            by: county.person(county.aid, "head"), on: id)
    }

    private func legalAid(
        _ id: CaseID, _ county: County, _ village: Village, _ parties: [Party], _ s: inout Script
    ) {
        let staff = county.person(county.aid, "staff")
        let exempt = s.random.chance(0.4)
        let application = LegalAidApplication(
            matter: s.random.pick([(.labour, 0.4), (.supportPayments, 0.2), (.injury, 0.2), (.socialInsurance, 0.2)]),
            exemption: exempt ? .migrantWorkerWages : nil, exemptionEvidence: exempt ? "工资欠条" : nil)
        s.add(
            .register(
                Registration(
                    kind: .legalAid, channel: s.random.chance(0.3) ? .online : .window, unit: county.aid, owner: staff,
                    division: village.code, parties: parties, disputeType: .labour, summary: "申请法律援助",
                    legalAid: application)), by: staff, on: id)
        if s.random.chance(0.2) {
            s.later(days: 1, minutes: 0)
            s.add(.requestMaterials(missing: ["收入证明"]), by: staff, on: id)
            s.later(days: 2 + s.random.int(4), minutes: 0)
            s.add(.supplyMaterials, by: staff, on: id)
        }
        var qualifies = true
        if !exempt {
            qualifies = s.random.chance(0.88)
            s.later(days: 1, minutes: 0)
            s.add(.recordHardshipCheck(method: .dataSharing, qualifies: qualifies), by: staff, on: id)
        }
        aidDecision(id, county, approve: qualifies, &s)
    }

    private func review(
        _ id: CaseID, _ n: Int, _ county: County, _ village: Village, _ day: CivilDate, _ parties: [Party],
        _ s: inout Script
    ) {
        let officer = county.person(county.review, "officer")
        let application = ReviewApplication(
            actReference: "\(county.prefix)市监罚〔\(day.year)〕\(n + 1)号", respondent: "县市场监督管理局",
            actDate: day.adding(days: -(20 + s.random.int(20))), knownOn: day.adding(days: -(10 + s.random.int(10))))
        s.add(
            .register(
                Registration(
                    kind: .administrativeReview, channel: s.random.chance(0.3) ? .online : .window, unit: county.review,
                    owner: officer, division: village.code, parties: parties, disputeType: .administrativeAct,
                    summary: "不服行政处罚", review: application)), by: officer, on: id)
        if s.random.chance(0.15) {
            s.later(days: 1, minutes: 0)
            s.add(.requestCorrection(items: ["补充处罚决定书"]), by: officer, on: id)
            s.later(days: 3 + s.random.int(4), minutes: 0)
            s.add(.submitCorrection, by: officer, on: id)
        }
        s.later(days: 1 + s.random.int(3), minutes: 0)
        s.add(.acceptReview(procedure: .standard), by: officer, on: id)
        // The application's copy goes to the respondent, who answers (AR6).
        s.later(days: 1 + s.random.int(3), minutes: 0)
        s.add(.serveApplication(on: "县市场监督管理局"), by: officer, on: id)
        s.later(days: 5 + s.random.int(5), minutes: 0)
        s.add(.recordRespondentAnswer, by: officer, on: id)
        if s.random.chance(0.2) {
            s.later(days: 10 + s.random.int(10), minutes: 0)
            s.add(.startReviewMediation, by: officer, on: id)
            s.later(days: 5 + s.random.int(10), minutes: 0)
            s.add(.concludeReviewMediation(statement: "行政复议调解书"), by: officer, on: id)
            return
        }
        s.later(days: 30 + s.random.int(25), minutes: 0)
        let outcomes: [(ReviewOutcome, Double)] = [
            (.upheld, 0.55), (.revoked, 0.15), (.changed, 0.1), (.confirmedIllegal, 0.1), (.dismissed, 0.1),
        ]
        s.add(.decideReview(s.random.pick(outcomes)), by: officer, on: id)
        s.later(days: 1, minutes: 0)
        s.add(.close(outcome: "decided"), by: officer, on: id)
    }

    private func consultation(
        _ id: CaseID, _ county: County, _ village: Village, _ parties: [Party], _ s: inout Script
    ) {
        let applicant = parties[0].reference
        let agent = county.person(county.hotline, "agent")
        s.add(
            .register(
                Registration(
                    kind: .consultation, channel: s.random.chance(0.7) ? .hotline12348 : .online, unit: county.hotline,
                    owner: agent, division: village.code, parties: [parties[0]], disputeType: .other,
                    summary: "法律咨询")), by: agent, on: id)
        s.later(days: 0, minutes: 10 + s.random.int(60))
        s.add(.answer("依法解答"), by: agent, on: id)
        s.later(days: 0, minutes: 5)
        s.add(.close(outcome: "answered"), by: agent, on: id)
        s.evaluate(byParty: applicant)
    }
}

/// SplitMix64: small, fast and the same on every platform, so a seed gives the same caseload everywhere.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (0 when `bound` ≤ 1).
    mutating func int(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }

    /// A uniform value in [0, 1).
    mutating func double() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    mutating func chance(_ p: Double) -> Bool { double() < p }

    /// One of `choices` by weight.
    mutating func pick<T>(_ choices: [(T, Double)]) -> T {
        let total = choices.reduce(0) { $0 + $1.1 }
        var point = double() * total
        for (value, weight) in choices {
            if point < weight { return value }
            point -= weight
        }
        return choices[choices.count - 1].0
    }
}

/// The simulated time: the log and the engine read it; the simulator moves it to each command's moment.
final class SimulatedClock: EventClock {
    private let current: Mutex<Timestamp>
    init(_ start: Instant) { current = Mutex(Timestamp(start)) }
    func now() -> Timestamp { current.withLock { $0 } }
    func set(_ instant: Instant) {
        current.withLock { value in
            // The log's time never runs backwards.
            if Timestamp(instant) > value { value = Timestamp(instant) }
        }
    }
}
