public import CaseLedgerLog
public import CaseLedgerWorkflow
import Foundation

/// One case at a glance, as the case-summary view keeps it.
public struct CaseSummary: Sendable, Hashable, Codable {
    public var caseID: CaseID
    public var kind: CaseKind
    public var state: String
    public var level: Level
    public var unit: UnitID
    public var owner: PersonID
    public var division: DivisionCode
    public var disputeType: DisputeType
    public var channel: Channel
    public var closed: Bool
    public var rating: Int?
    public var lastEventAt: Instant
    /// Open clocks by id: their due instants (running or paused).
    public var openDeadlines: [String: Instant]
    /// The number of events of the case.
    public var events: Int
    /// The parties (from the registration).
    public var parties: [Party] = []
    /// Links to other cases (referrals, legal aid, conversions).
    public var links: [CaseLink] = []
}

/// The case-summary view: one row per case, from each event's ``RecordHeader`` (no payload is decoded).
public struct CaseSummaryProjection: Projection, HeaderAwareProjection {
    public let name = "caseSummary"
    public let version = 3
    public let tables = ["cases"]
    let rebuildCost = 7

    public init() {}

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: try event.checkedWorkflowHeader(), to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }  // not a case event
        let key = view.caseKey(event)
        // The few events whose details are not in the header (links) are decoded: referrals, and the registration
        // of a case a referral created.
        var link: CaseLink?
        var links: [CaseLink]?
        let registered = event.typeIs("registered")
        if registered, let carried = header.links {
            links = carried
        } else if let carried = header.links {
            link = carried.first
        } else if (registered && header.hasLinks) || event.typeIs("referred") || event.typeIs("legalAidAttached")
            || event.typeIs("convertedToCase")
        {
            // A header written before it carried links: decode the payload.
            switch try view.workflowRecord(event).event {
            case .registered(let registration, _, _): links = registration.links
            case .referred(_, let newCase, _): link = CaseLink(.referredTo, newCase)
            case .legalAidAttached(let aidCase): link = CaseLink(.legalAid, aidCase)
            case .convertedToCase(let newCase, _): link = CaseLink(.convertedTo, newCase)
            default: break
            }
        }
        let evaluated = event.typeIs("evaluated")
        let clockEnds = event.typeIs("deadlineStopped") || event.typeIs("deadlineBreached")
        let approaching = event.typeIs("deadlineApproaching")
        try view.update(in: "cases", key: key, decode: CaseSummary.init(encoded:), encode: \.encoded) { stored in
            var summary =
                stored.take()
                ?? CaseSummary(
                    caseID: CaseID(String(decoding: key, as: UTF8.self)), kind: header.kind, state: header.state,
                    level: header.level, unit: header.unit, owner: header.owner, division: header.division,
                    disputeType: header.disputeType, channel: header.channel, closed: header.closed, rating: nil,
                    lastEventAt: header.at, openDeadlines: [:], events: 0)
            summary.state = header.state
            summary.level = header.level
            summary.unit = header.unit
            summary.owner = header.owner
            summary.closed = header.closed
            summary.lastEventAt = max(summary.lastEventAt, header.at)
            summary.events += 1
            if evaluated { summary.rating = Int(header.rating) }
            if registered { summary.parties = header.parties }
            if let links { summary.links = links }
            if let link { summary.links.append(link) }
            if !header.deadline.isEmpty {
                if clockEnds {
                    summary.openDeadlines[header.deadline] = nil
                } else if let due = header.due, !approaching {
                    summary.openDeadlines[header.deadline] = due
                }
            }
            // The row layout caps counts and texts at 255: keep exactly what a stored row would hold, so the rebuild's
            // buffer (which keeps the decoded row between events) and event-by-event updates agree.
            if summary.exceedsRowLimits { summary = CaseSummary(encoded: summary.encoded) ?? summary }
            stored = summary
        }
    }

    /// A case's summary from the view.
    public static func summary(of id: CaseID, in runtime: ProjectionRuntime) throws -> CaseSummary? {
        try runtime.read("caseSummary") { reader in
            try reader.value(in: "cases", key: Array(id.rawValue.utf8)).flatMap(CaseSummary.init(encoded:))
        }
    }
}
