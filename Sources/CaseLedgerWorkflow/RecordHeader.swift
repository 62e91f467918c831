/// A small fixed binary summary written into every workflow event's log metadata, so views and reports can place an
/// event (which case kind, state, level, unit, owner, place, time, clock) without decoding its JSON payload.
///
/// Layout, format 1 (all integers big-endian; `str8` is a length byte and that many UTF-8 bytes):
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 1 | format (1) |
/// | 1 | 1 | case kind (index in `CaseKind.allCases`) |
/// | 2 | 1 | level (index in `Level.allCases`) |
/// | 3 | 1 | channel (index in `Channel.allCases`) |
/// | 4 | 1 | dispute type (index in `DisputeType.allCases`) |
/// | 5 | 1 | flags: bit 0 the case is closed (terminal state), bit 1 it has its evaluation, bit 2 the clock of a clock event is a party window (never fires), bit 3 a `registered` event's registration has links |
/// | 6 | 1 | the evaluation's rating for an `evaluated` event, else 0 |
/// | 7 | 8 | the record's time `at`, microseconds since 1970 (signed) |
/// | 15 | 8 | for a clock event, the clock's due instant; else 0 |
/// | 23 | 12 | the dispute's division code (ASCII digits) |
/// | 35 | str8 × 4 | the state after the command, the owning unit, the owner, and the clock's id (empty unless a clock event) |
/// | … | sections, each a tag byte and its data, to the end | tag 1 (a `registered` event): u8 count, then per party str8 reference, str8 name, u8 role; tag 2 (`mediationStarted`, `aidProviderAssigned`): u8 count, then str8 person ids; tag 3 (a `registered` event with links, `referred`, `legalAidAttached`, `convertedToCase`): u8 count, then per link u8 relation (index in `CaseLink.Relation.allCases`) and str8 case id; tag 4 (`referred`): u8 route (index in `Route.allCases`); tag 5 (`reviewDecided`): u8 outcome (index in `ReviewOutcome.allCases`) |
///
/// Headers written before tags 3–5 existed lack them: ``links``, ``route`` and ``reviewOutcome`` are then `nil` and a
/// reader decodes the payload instead.
///
/// The state, level, unit and owner are the case's after the whole command (the decision's final state), the same
/// for every record the command wrote. Indices follow the enums' declaration order, which is therefore frozen: new
/// cases are only ever appended.
public struct RecordHeader: Sendable, Hashable {
    public static let format: UInt8 = 1

    public var kind: CaseKind
    public var level: Level
    public var channel: Channel
    public var disputeType: DisputeType
    public var closed: Bool
    public var evaluated: Bool
    /// For a clock event: the clock is a party's window, which never fires.
    public var window: Bool
    /// For a `registered` event: the registration links the case to others (a referral or conversion created it).
    public var hasLinks: Bool
    public var rating: UInt8
    public var at: Instant
    public var due: Instant?
    public var division: DivisionCode
    public var state: String
    public var unit: UnitID
    public var owner: PersonID
    public var deadline: String
    /// For a `registered` event: the parties, so views need not decode the registration.
    public var parties: [Party]
    /// For `mediationStarted` the mediators, for `aidProviderAssigned` the provider.
    public var people: [PersonID]
    /// The links the event adds to its case: a registration's links, a referral's new case, an attached legal aid
    /// case, a conversion's new case; `nil` for other events and for headers written without this section.
    public var links: [CaseLink]?
    /// A `referred` event's route (`nil` otherwise, or in a header written without it).
    public var route: Route?
    /// A `reviewDecided` event's outcome (`nil` otherwise, or in a header written without it).
    public var reviewOutcome: ReviewOutcome?

    /// The header of `record`, written by a command that left the case in `state`.
    public init(record: WorkflowRecord, state after: CaseState, closed: Bool) {
        kind = after.kind
        level = after.level
        channel = after.channel
        disputeType = after.disputeType
        self.closed = closed
        evaluated = after.evaluation != nil
        at = record.at
        division = after.division
        state = after.state
        unit = after.unit
        owner = after.owner
        rating = 0
        due = nil
        deadline = ""
        window = false
        hasLinks = false
        parties = []
        people = []
        links = nil
        route = nil
        reviewOutcome = nil
        switch record.event {
        case .evaluated(let value, _): rating = UInt8(clamping: value)
        case .mediationStarted(let mediators, _): people = mediators
        case .aidProviderAssigned(let provider, _): people = [provider]
        case .registered(let registration, _, _):
            parties = registration.parties
            hasLinks = !registration.links.isEmpty
            if hasLinks { links = registration.links }
        case .referred(let route, let newCase, _):
            self.route = route
            links = [CaseLink(.referredTo, newCase)]
        case .legalAidAttached(let aidCase): links = [CaseLink(.legalAid, aidCase)]
        case .convertedToCase(let newCase, _): links = [CaseLink(.convertedTo, newCase)]
        case .reviewDecided(let outcome): reviewOutcome = outcome
        case .deadlineSet(let d):
            deadline = d.id
            due = d.dueAt
        case .deadlineResumed(let id, let end), .deadlineExtended(let id, _, let end, _, _),
            .deadlineRecounted(let id, let end):
            deadline = id
            due = end.dueAt
        case .deadlinePaused(let id), .deadlineStopped(let id):
            deadline = id
        case .deadlineApproaching(let id, let dueAt), .deadlineBreached(let id, let dueAt):
            deadline = id
            due = dueAt
        default: break
        }
        if !deadline.isEmpty {
            if case .deadlineSet(let d) = record.event {
                window = !d.fires
            } else {
                window = after.deadline(deadline).map { !$0.fires } ?? false
            }
        }
    }

    /// What ``bytes`` would cut, described for an error message: the first text over 255 bytes of UTF-8 or section of
    /// over 255 entries, in the order they are written; `nil` when the header carries everything. The engine refuses a
    /// record whose header would cut anything (``Workflow``), so the views never read a cut id.
    var overflow: String? {
        func text(_ what: String, _ value: String) -> String? {
            let count = value.utf8.count
            guard count > 255 else { return nil }
            return "the \(what) '\(value.prefix(40))…' is \(count) bytes of UTF-8, over the 255 bytes a record header "
                + "carries"
        }
        func section(_ what: String, _ count: Int) -> String? {
            count > 255 ? "\(count) \(what), over the 255 a record header carries" : nil
        }
        var problems: [String?] = [
            text("state", state), text("owning unit's id", unit.rawValue), text("owner's id", owner.rawValue),
            text("clock", deadline), section("parties", parties.count),
        ]
        for party in parties {
            problems += [text("party reference", party.reference), text("party name", party.name)]
        }
        problems.append(section("people", people.count))
        problems += people.map { text("person's id", $0.rawValue) }
        problems.append(section("links", links?.count ?? 0))
        problems += (links ?? []).map { text("linked case id", $0.other.rawValue) }
        return problems.lazy.compactMap { $0 }.first
    }

    /// The header's bytes. A text over 255 bytes or a section of over 255 entries is cut (see ``overflow``).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        func index<T: ByteCoded>(_ value: T) -> UInt8 { value.byteIndex }
        func int64(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) } }
        func str8(_ text: String) {
            let utf8 = Array(text.utf8.prefix(255))
            out.append(UInt8(utf8.count))
            out.append(contentsOf: utf8)
        }
        out.append(Self.format)
        out.append(index(kind))
        out.append(index(level))
        out.append(index(channel))
        out.append(index(disputeType))
        out.append((closed ? 1 : 0) | (evaluated ? 2 : 0) | (window ? 4 : 0) | (hasLinks ? 8 : 0))
        out.append(rating)
        int64(at.microsecondsSinceEpoch)
        int64(due?.microsecondsSinceEpoch ?? 0)
        out.append(contentsOf: division.digits.utf8)
        str8(state)
        str8(unit.rawValue)
        str8(owner.rawValue)
        str8(deadline)
        if !parties.isEmpty {
            out.append(1)
            out.append(UInt8(min(parties.count, 255)))
            for party in parties.prefix(255) {
                str8(party.reference)
                str8(party.name)
                out.append(index(party.role))
            }
        }
        if !people.isEmpty {
            out.append(2)
            out.append(UInt8(min(people.count, 255)))
            for person in people.prefix(255) { str8(person.rawValue) }
        }
        if let links {
            out.append(3)
            out.append(UInt8(min(links.count, 255)))
            for link in links.prefix(255) {
                out.append(index(link.relation))
                str8(link.other.rawValue)
            }
        }
        if let route {
            out.append(4)
            out.append(index(route))
        }
        if let reviewOutcome {
            out.append(5)
            out.append(index(reviewOutcome))
        }
        return out
    }

    /// Decodes a header; `nil` for bytes that are not a format-1 header (an empty metadata field, another format).
    public init?(bytes: some Collection<UInt8>) {
        guard let header = Array(bytes).withUnsafeBytes({ RecordHeader(buffer: $0) }) else { return nil }
        self = header
    }

    /// Decodes a header in place (the bytes in the memory map, during a scan): no copy of the bytes.
    package init?(buffer b: UnsafeRawBufferPointer) {
        guard b.count >= 39, b[0] == Self.format else { return nil }
        func pick<T: ByteCoded>(_ type: T.Type, _ i: Int) -> T? { T(byteIndex: b[i]) }
        func int64(_ offset: Int) -> Int64 {
            b[offset..<(offset + 8)].reduce(Int64(0)) { ($0 << 8) | Int64($1) }
        }
        guard let kind = pick(CaseKind.self, 1), let level = pick(Level.self, 2), let channel = pick(Channel.self, 3),
            let dispute = pick(DisputeType.self, 4),
            let division = DivisionCode(String(decoding: b[23..<35], as: UTF8.self))
        else { return nil }
        var offset = 35
        func str8() -> String? {
            guard offset < b.count else { return nil }
            let length = Int(b[offset])
            guard offset + 1 + length <= b.count else { return nil }
            defer { offset += 1 + length }
            return String(decoding: b[(offset + 1)..<(offset + 1 + length)], as: UTF8.self)
        }
        guard let state = str8(), let unit = str8(), let owner = str8(), let deadline = str8() else { return nil }
        var parties: [Party] = []
        var people: [PersonID] = []
        var links: [CaseLink]?
        var route: Route?
        var reviewOutcome: ReviewOutcome?
        while offset + 1 < b.count {
            let tag = b[offset]
            let count = Int(b[offset + 1])
            offset += 2
            switch tag {
            case 3:
                var found: [CaseLink] = []
                for _ in 0..<count {
                    guard offset < b.count, let relation = pick(CaseLink.Relation.self, offset) else { return nil }
                    offset += 1
                    guard let other = str8() else { return nil }
                    found.append(CaseLink(relation, CaseID(other)))
                }
                links = found
            case 4:
                guard let value = pick(Route.self, offset - 1) else { return nil }
                route = value
            case 5:
                guard let value = pick(ReviewOutcome.self, offset - 1) else { return nil }
                reviewOutcome = value
            case 1:
                for _ in 0..<count {
                    guard let reference = str8(), let name = str8(), offset < b.count,
                        let role = pick(PartyRole.self, offset)
                    else { return nil }
                    offset += 1
                    parties.append(Party(reference: reference, name: name, role: role))
                }
            case 2:
                for _ in 0..<count {
                    guard let person = str8() else { return nil }
                    people.append(PersonID(person))
                }
            default:
                return nil
            }
        }
        self.parties = parties
        self.people = people
        self.links = links
        self.route = route
        self.reviewOutcome = reviewOutcome
        self.kind = kind
        self.level = level
        self.channel = channel
        self.disputeType = dispute
        closed = b[5] & 1 != 0
        evaluated = b[5] & 2 != 0
        window = b[5] & 4 != 0
        hasLinks = b[5] & 8 != 0
        rating = b[6]
        at = Instant(microsecondsSinceEpoch: int64(7))
        let dueValue = int64(15)
        due = dueValue == 0 ? nil : Instant(microsecondsSinceEpoch: dueValue)
        self.division = division
        self.state = state
        self.unit = UnitID(unit)
        self.owner = PersonID(owner)
        self.deadline = deadline
    }
}

/// An enum stored as one byte: its index in `allCases`, in declaration order (frozen: new cases are only appended).
/// The cases are listed once per type, not rebuilt for every byte read or written, and each type has concrete
/// (not generic) accessors, so callers in other modules pay no generic dispatch.
package protocol ByteCoded: CaseIterable, Equatable {
    /// The index in `allCases`; 255 for none.
    var byteIndex: UInt8 { get }
    /// The case at `byteIndex`, or `nil` past the last one.
    init?(byteIndex: UInt8)
}

/// A table of an enum's cases in declaration order.
struct CaseTable<T: Equatable>: Sendable where T: Sendable {
    let cases: [T]
    func index(_ value: T) -> UInt8 { UInt8(truncatingIfNeeded: cases.firstIndex(of: value) ?? 255) }
    func value(_ index: UInt8) -> T? { Int(index) < cases.count ? cases[Int(index)] : nil }
}

private let caseKinds = CaseTable(cases: CaseKind.allCases)
private let levels = CaseTable(cases: Level.allCases)
private let channels = CaseTable(cases: Channel.allCases)
private let disputeTypes = CaseTable(cases: DisputeType.allCases)
private let partyRoles = CaseTable(cases: PartyRole.allCases)
private let relations = CaseTable(cases: CaseLink.Relation.allCases)
private let routes = CaseTable(cases: Route.allCases)
private let reviewOutcomes = CaseTable(cases: ReviewOutcome.allCases)

extension CaseKind: ByteCoded {
    package var byteIndex: UInt8 { caseKinds.index(self) }
    package init?(byteIndex: UInt8) { guard let value = caseKinds.value(byteIndex) else { return nil }; self = value }
}
extension Level: ByteCoded {
    package var byteIndex: UInt8 { levels.index(self) }
    package init?(byteIndex: UInt8) { guard let value = levels.value(byteIndex) else { return nil }; self = value }
}
extension Channel: ByteCoded {
    package var byteIndex: UInt8 { channels.index(self) }
    package init?(byteIndex: UInt8) { guard let value = channels.value(byteIndex) else { return nil }; self = value }
}
extension DisputeType: ByteCoded {
    package var byteIndex: UInt8 { disputeTypes.index(self) }
    package init?(byteIndex: UInt8) {
        guard let value = disputeTypes.value(byteIndex) else { return nil }
        self = value
    }
}
extension PartyRole: ByteCoded {
    package var byteIndex: UInt8 { partyRoles.index(self) }
    package init?(byteIndex: UInt8) { guard let value = partyRoles.value(byteIndex) else { return nil }; self = value }
}
extension CaseLink.Relation: ByteCoded {
    package var byteIndex: UInt8 { relations.index(self) }
    package init?(byteIndex: UInt8) { guard let value = relations.value(byteIndex) else { return nil }; self = value }
}
extension Route: ByteCoded {
    package var byteIndex: UInt8 { routes.index(self) }
    package init?(byteIndex: UInt8) { guard let value = routes.value(byteIndex) else { return nil }; self = value }
}
extension ReviewOutcome: ByteCoded {
    package var byteIndex: UInt8 { reviewOutcomes.index(self) }
    package init?(byteIndex: UInt8) {
        guard let value = reviewOutcomes.value(byteIndex) else { return nil }
        self = value
    }
}
