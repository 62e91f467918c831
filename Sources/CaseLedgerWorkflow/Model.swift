/// A case's identifier; its events live in the log stream `case-<id>`.
public struct CaseID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: CaseID, rhs: CaseID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// The kinds of case (domain.md §3).
public enum CaseKind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// People's mediation (人民调解).
    case peopleMediation
    /// Labour-dispute mediation (劳动争议调解): people's mediation with the 15-day limit of LD4.
    case labourMediation
    /// Legal aid (法律援助).
    case legalAid
    /// Administrative review (行政复议).
    case administrativeReview
    /// Labour-dispute arbitration (劳动争议仲裁).
    case labourArbitration
    /// A referral to commercial arbitration (仲裁).
    case commercialArbitration
    /// A referral to a court (诉讼), civil or administrative.
    case litigation
    /// A hotline or online consultation work order (法律咨询工单).
    case consultation

    public var description: String { rawValue }

    /// Whether the kind is people's mediation (with or without the labour rules).
    public var isMediation: Bool { self == .peopleMediation || self == .labourMediation }
}

/// How a case reached the system. Every channel is registered the same way (无差别受理).
public enum Channel: String, Sendable, Hashable, Codable, CaseIterable {
    case window
    /// The 12348 public legal service hotline.
    case hotline12348
    case online
    case courtReferral
    case policeReferral
    case procuratorateReferral
    case petitionOfficeReferral
    /// Created by another case's referral or escalation inside the system.
    case internalReferral
}

/// What a dispute is about; decides where a failed mediation may go (legal-rules.md §2).
public enum DisputeType: String, Sendable, Hashable, Codable, CaseIterable {
    case neighbour, debt, contract, tort, property, medical, traffic, consumer
    case marriage, parentage, adoption, succession, support, guardianship
    case labour
    case administrativeAct
    /// Land, forest or resource ownership that law assigns to the government (行政裁决).
    case landOwnership
    /// Ownership or IP title (确权): excluded from judicial confirmation.
    case ownershipTitle, ipTitle
    case other

    /// Family, succession, support and guardianship: never arbitrable (CA1).
    public var isFamilyOrStatus: Bool {
        switch self {
        case .marriage, .parentage, .adoption, .succession, .support, .guardianship: return true
        default: return false
        }
    }

    /// Matters a court will not confirm a mediation agreement on (PM11): status relations and title.
    public var excludedFromJudicialConfirmation: Bool {
        switch self {
        case .marriage, .parentage, .adoption, .ownershipTitle, .ipTitle: return true
        default: return false
        }
    }
}

/// Where a case goes next (legal-rules.md §2).
public enum Route: String, Sendable, Hashable, Codable, CaseIterable {
    case labourArbitration
    case administrativeReview
    case administrativeLitigation
    case commercialArbitration
    case civilLitigation
    case administrativeAdjudication

    /// The kind of the case a referral on this route creates.
    public var caseKind: CaseKind {
        switch self {
        case .labourArbitration: return .labourArbitration
        case .administrativeReview: return .administrativeReview
        case .commercialArbitration: return .commercialArbitration
        case .administrativeLitigation, .civilLitigation, .administrativeAdjudication: return .litigation
        }
    }
}

/// A party to a case. ID numbers are never stored: `reference` is an opaque key (for example a keyed hash the
/// caller computes), which repeat-dispute views group by.
public struct Party: Sendable, Hashable, Codable {
    public var reference: String
    public var name: String
    public var role: PartyRole

    public init(reference: String, name: String, role: PartyRole) {
        self.reference = reference
        self.name = name
        self.role = role
    }
}

/// A party's side.
public enum PartyRole: String, Sendable, Hashable, Codable, CaseIterable {
    case applicant, respondent, thirdParty
    /// In labour disputes, which side matters for appeal rights (LD11).
    case worker, employer
}

/// A link between cases.
public struct CaseLink: Sendable, Hashable, Codable {
    public enum Relation: String, Sendable, Hashable, Codable, CaseIterable {
        /// This case was referred to `other`.
        case referredTo
        /// This case was created by a referral from `other`.
        case referredFrom
        /// Legal aid `other` is attached to this case.
        case legalAid
        /// This legal aid case supports `other`.
        case aidFor
        /// A consultation turned into `other`.
        case convertedTo
    }
    public var relation: Relation
    public var other: CaseID

    public init(_ relation: Relation, _ other: CaseID) {
        self.relation = relation
        self.other = other
    }
}
