/// A level of the administrative hierarchy, bottom up.
public enum Level: String, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// Village (村) or residents' community (社区).
    case village
    /// Township (乡镇) or street / subdistrict (街道).
    case township
    /// County (县) or district (区).
    case county
    /// City (市).
    case city

    var rank: Int {
        switch self {
        case .village: return 0
        case .township: return 1
        case .county: return 2
        case .city: return 3
        }
    }

    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    public var description: String { rawValue }
}

/// A 12-digit statistical division code (统计用区划代码): 2 digits province, 2 city, 2 county, 3 township,
/// 3 village. Trailing zero groups mark a higher-level division: `510124000000` is a county, `510124101000` a
/// township in it, `510124101001` a village in that.
public struct DivisionCode: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The 12 digits.
    public let digits: String

    /// Parses a code; `nil` unless it is 12 ASCII digits naming at least a city (non-zero province and city
    /// groups) with no non-zero group below a zero group.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 12, bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        func group(_ from: Int, _ count: Int) -> Int {
            bytes[from..<(from + count)].reduce(0) { $0 * 10 + Int($1 - 48) }
        }
        let groups = [group(0, 2), group(2, 2), group(4, 2), group(6, 3), group(9, 3)]
        guard groups[0] != 0, groups[1] != 0 else { return nil }
        var seenZero = false
        for value in groups.dropFirst(2) {
            if value == 0 {
                seenZero = true
            } else if seenZero {
                return nil
            }
        }
        digits = text
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let code = DivisionCode(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a 12-digit division code")
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(digits)
    }

    /// The level the code names.
    public var level: Level {
        let bytes = Array(digits.utf8)
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == 48 } }
        if isZero(4..<12) { return .city }
        if isZero(6..<12) { return .county }
        if isZero(9..<12) { return .township }
        return .village
    }

    /// The division one level up; `nil` for a city.
    public var parent: DivisionCode? {
        let prefix: Int
        switch level {
        case .city: return nil
        case .county: prefix = 4
        case .township: prefix = 6
        case .village: prefix = 9
        }
        return DivisionCode(String(digits.prefix(prefix)) + String(repeating: "0", count: 12 - prefix))
    }

    /// This code's division at `level` (itself or an ancestor); `nil` when `level` is below this code's level.
    public func ancestor(at level: Level) -> DivisionCode? {
        var code: DivisionCode? = self
        while let current = code, current.level < level { code = current.parent }
        return code?.level == level ? code : nil
    }

    /// Whether `other` is this division or lies inside it.
    public func contains(_ other: DivisionCode) -> Bool {
        other.ancestor(at: level) == self
    }

    public static func < (lhs: DivisionCode, rhs: DivisionCode) -> Bool { lhs.digits < rhs.digits }
    public var description: String { digits }
}

/// The kinds of unit that handle cases.
public enum UnitKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// People's mediation committee (人民调解委员会) of a village, township or industry.
    case mediationCommittee
    /// Public legal service centre, station or room (公共法律服务中心/工作站/工作室) that registers and routes.
    case serviceCentre
    /// Justice office (司法所) of a township.
    case justiceOffice
    /// Justice bureau (司法局) of a county or city.
    case justiceBureau
    /// Legal aid centre (法律援助中心).
    case legalAidCentre
    /// Administrative review body (复议机关).
    case reviewBody
    /// Labour-dispute arbitration commission (劳动人事争议仲裁委员会).
    case labourArbitrationCommission
    /// Arbitration commission (仲裁委员会) for commercial disputes.
    case arbitrationCommission
    /// A people's court (referral target).
    case court
    /// The 12348 hotline and online platform desk.
    case hotlineDesk
}

/// An identifier of a unit.
public struct UnitID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: UnitID, rhs: UnitID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// An identifier of a person (staff member, mediator, lawyer).
public struct PersonID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: PersonID, rhs: PersonID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }

    /// The engine itself, for clock-driven events (`tick`).
    public static let system = PersonID("system")
}

/// A unit that owns cases (a committee, office, centre, commission or court): it belongs to one division and one
/// level. (Named `ServiceUnit`, not `Unit`, so it does not clash with Foundation's `Unit`.)
public struct ServiceUnit: Sendable, Hashable, Codable {
    public var id: UnitID
    public var name: String
    public var kind: UnitKind
    /// The division the unit serves.
    public var division: DivisionCode
    /// The unit's level; defaults to the division's level. An industry committee may sit at a county division
    /// with township level, for example.
    public var level: Level

    public init(id: UnitID, name: String, kind: UnitKind, division: DivisionCode, level: Level? = nil) {
        self.id = id
        self.name = name
        self.kind = kind
        self.division = division
        self.level = level ?? division.level
    }

    enum CodingKeys: String, CodingKey { case id, name, kind, division, level }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(UnitID.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
            kind: try c.decode(UnitKind.self, forKey: .kind),
            division: try c.decode(DivisionCode.self, forKey: .division),
            level: try c.decodeIfPresent(Level.self, forKey: .level))
    }
}

/// What a person may do.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    /// Registers cases and runs the desk (front office).
    case staff
    /// A people's mediator (PM2: a member of, or appointed by, the committee).
    case mediator
    /// A lawyer or grassroots legal worker (aid provider).
    case lawyer
    /// An arbitrator or review officer who hears cases.
    case adjudicator
    /// The head of a unit: approves extensions and decides objections; may act on cases of units below.
    case head
}

/// A person and the units they belong to.
public struct Person: Sendable, Hashable, Codable {
    public var id: PersonID
    public var name: String
    public var roles: Set<Role>
    public var units: Set<UnitID>

    public init(id: PersonID, name: String, roles: Set<Role>, units: Set<UnitID>) {
        self.id = id
        self.name = name
        self.roles = roles
        self.units = units
    }
}

/// The units and people of a deployment: who may act for which unit.
public struct Directory: Sendable, Hashable {
    public private(set) var units: [UnitID: ServiceUnit]
    public private(set) var persons: [PersonID: Person]

    public init(units: [ServiceUnit] = [], persons: [Person] = []) {
        self.units = Dictionary(units.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.persons = Dictionary(persons.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    public mutating func add(_ unit: ServiceUnit) { units[unit.id] = unit }
    public mutating func add(_ person: Person) { persons[person.id] = person }

    public func unit(_ id: UnitID) -> ServiceUnit? { units[id] }
    public func person(_ id: PersonID) -> Person? { persons[id] }

    /// Whether `person` may act for `unit`: a member of it; the head of a justice bureau whose division contains
    /// the unit's division (the bureau runs the units of its area, its own level included); or the head of a unit of
    /// the same kind at a higher level whose division contains it.
    public func mayAct(_ person: PersonID, for unit: UnitID) -> Bool {
        guard let who = persons[person], let target = units[unit] else { return false }
        if who.units.contains(unit) { return true }
        guard who.roles.contains(.head) else { return false }
        return who.units.contains { id in
            guard let own = units[id], own.division.contains(target.division) else { return false }
            if own.kind == .justiceBureau { return own.level >= target.level }
            return own.kind == target.kind && own.level > target.level
        }
    }
}
