public import CaseLedgerLog
public import CaseLedgerWorkflow
import Foundation

/// One month's statistics for a division (domain.md §6), summed over the villages under it.
public struct MonthlyStatistics: Sendable, Hashable {
    public var registered = 0
    public var closed = 0
    public var mediationClosed = 0
    public var mediationSucceeded = 0
    /// Closed without any clock breached.
    public var closedOnTime = 0
    public var evaluations = 0
    /// Evaluations rated 4 or 5.
    public var satisfied = 0
    public var escalations = 0
    public var highRiskReports = 0
    public var legalAidApproved = 0
    public var legalAidDenied = 0
    public var referrals: [Route: Int] = [:]
    /// Administrative reviews decided, by the decision's outcome.
    public var reviewOutcomes: [ReviewOutcome: Int] = [:]
    /// Administrative reviews that ended without a decision, or were refused before acceptance.
    public var reviewEndings: [ReviewEnding: Int] = [:]

    public var mediationSuccessRate: Double? {
        mediationClosed == 0 ? nil : Double(mediationSucceeded) / Double(mediationClosed)
    }
    public var onTimeRate: Double? { closed == 0 ? nil : Double(closedOnTime) / Double(closed) }
    public var satisfactionRate: Double? { evaluations == 0 ? nil : Double(satisfied) / Double(evaluations) }
}

/// How an administrative review ended when it ended without a decision (a decision's outcome is a
/// ``ReviewOutcome``), as review statistics count them beside the decisions.
public enum ReviewEnding: String, Sendable, Hashable, CaseIterable {
    /// Closed by a mediation statement (`reviewMediationConcluded`, AR8).
    case mediated
    /// Withdrawn on a settlement between the applicant and the body (`reviewSettled`, AR8).
    case settled
    /// Terminated on a statutory ground (`reviewTerminated`).
    case terminated
    /// The application was refused before acceptance (`filingRefused`, AR5).
    case filingRefused
    /// Deemed abandoned: the applicant did not correct the application in time (`deemedAbandoned`, AR5).
    case abandoned

    /// The event type that records it.
    var eventType: String {
        switch self {
        case .mediated: "reviewMediationConcluded"
        case .settled: "reviewSettled"
        case .terminated: "reviewTerminated"
        case .filingRefused: "filingRefused"
        case .abandoned: "deemedAbandoned"
        }
    }
}

/// Monthly statistics per division and month: counters per (month, village-level division), updated in place, so
/// a county's or city's month is one prefix-filtered scan of that month's rows.
public struct MonthlyStatisticsProjection: Projection, HeaderAwareProjection {
    public let name = "monthly"
    /// 2: review endings (mediated, settled, terminated, filing refused, abandoned) counted beside the decisions.
    public let version = 2
    public let tables = ["months", "caseMeta"]
    let rebuildCost = 7

    public init() {}

    /// The counters' slots.
    enum Slot: Int, CaseIterable {
        case registered, closed, mediationClosed, mediationSucceeded, closedOnTime, evaluations, satisfied
        case escalations, highRisk, aidApproved, aidDenied
        case referralBase = 11  // + Route index (6)
        case reviewBase = 17  // + ReviewOutcome index (6)
        case reviewEndingBase = 23  // + ReviewEnding index (5)
    }
    static let slots = 23 + ReviewEnding.allCases.count
    /// The event types of ``ReviewEnding``'s cases, in order, built once (the inline path checks every event).
    static let reviewEndingTypes = ReviewEnding.allCases.map(\.eventType)

    static func monthKey(_ at: Instant, _ division: DivisionCode) -> [UInt8] {
        let date = LegalTime.date(of: at)
        let year = min(max(date.year, 0), 9999)
        var key: [UInt8] = []
        key.reserveCapacity(18)
        for digit in [year / 1000, year / 100 % 10, year / 10 % 10, year % 10, date.month / 10, date.month % 10] {
            key.append(UInt8(ascii: "0") + UInt8(digit))
        }
        key.append(contentsOf: division.digits.utf8)
        return key
    }

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: try event.checkedWorkflowHeader(), to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }
        let metaKey = view.caseKey(event)
        var bumps: [Int] = []
        if event.typeIs("registered") { bumps.append(Slot.registered.rawValue) }
        if event.typeIs("evaluated") {
            bumps.append(Slot.evaluations.rawValue)
            if header.rating >= 4 { bumps.append(Slot.satisfied.rawValue) }
        }
        if event.typeIs("escalated") { bumps.append(Slot.escalations.rawValue) }
        if event.typeIs("riskFlagged") { bumps.append(Slot.highRisk.rawValue) }
        if event.typeIs("aidApproved") || event.typeIs("provisionalAidGranted") {
            bumps.append(Slot.aidApproved.rawValue)
        }
        if event.typeIs("aidDenied") { bumps.append(Slot.aidDenied.rawValue) }
        if event.typeIs("referred") {
            // Headers written before the route was in them: decode the payload.
            var route = header.route
            if route == nil, case .referred(let decoded, _, _) = try view.workflowRecord(event).event {
                route = decoded
            }
            if let index = route?.byteIndex, index < 6 { bumps.append(Slot.referralBase.rawValue + Int(index)) }
        }
        if event.typeIs("reviewDecided") {
            var outcome = header.reviewOutcome
            if outcome == nil, case .reviewDecided(let decoded) = try view.workflowRecord(event).event {
                outcome = decoded
            }
            if let index = outcome?.byteIndex, index < 6 { bumps.append(Slot.reviewBase.rawValue + Int(index)) }
        }
        for (index, type) in Self.reviewEndingTypes.enumerated() where event.typeIs(type) {
            bumps.append(Slot.reviewEndingBase.rawValue + index)
        }
        let closing = event.typeIs("closed")
        let breaches = event.typeIs("deadlineBreached") && !header.window
        // caseMeta: [breached flag] + str8(state before this command). The state after the whole command is the
        // "before" of the next one; events of one command share it.
        try view.update(in: "caseMeta", key: metaKey, decode: { $0 }, encode: { $0 }) { stored in
            let meta = stored ?? [0, 0]
            var breached = meta.first == 1
            if closing {
                bumps.append(Slot.closed.rawValue)
                if !breached { bumps.append(Slot.closedOnTime.rawValue) }
                if header.kind.isMediation {
                    bumps.append(Slot.mediationClosed.rawValue)
                    if Bytes.str8End(meta, 1, matching: "agreed") != nil {
                        bumps.append(Slot.mediationSucceeded.rawValue)
                    }
                }
            }
            if breaches { breached = true }
            if header.closed {
                // The closing command's earlier events (a referral, a settlement) leave the row for its `closed`
                // event.
                if closing { stored = nil }
            } else if stored == nil || meta.first != (breached ? 1 : 0)
                || Bytes.str8End(meta, 1, matching: header.state) != meta.count
            {
                stored = [breached ? 1 : 0] + Bytes.str8(header.state)
            }
        }
        guard !bumps.isEmpty else { return }
        try view.update(
            in: "months", key: Self.monthKey(header.at, header.division), decode: Self.counters, encode: Self.bytes
        ) { stored in
            var counters = stored ?? [UInt32](repeating: 0, count: Self.slots)
            stored = nil  // the one reference left, so the counters change in place
            for slot in bumps where slot < counters.count { counters[slot] &+= 1 }
            stored = counters
        }
    }

    static func counters(_ bytes: [UInt8]) -> [UInt32]? {
        guard bytes.count == slots * 4 else { return nil }
        return (0..<slots).map { slot in
            bytes[(slot * 4)..<(slot * 4 + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
    }

    static func bytes(_ counters: [UInt32]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(counters.count * 4)
        for value in counters { withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// The statistics of `month` (`YYYY-MM`) for `division` and everything in it.
    public static func statistics(
        month: String, under division: DivisionCode, in runtime: ProjectionRuntime
    ) throws -> MonthlyStatistics {
        let monthBytes = Array(month.replacingOccurrences(of: "-", with: "").utf8)
        let prefix = division.prefix
        return try runtime.read("monthly") { reader in
            var totals = [Int](repeating: 0, count: slots)
            try reader.forEach(in: "months", from: monthBytes + prefix) { key, value in
                guard key.starts(with: monthBytes), key[monthBytes.count...].starts(with: prefix) else { return false }
                guard value.count >= slots * 4 else { return true }  // not a counters row
                for slot in 0..<slots {
                    totals[slot] += Int(value[(slot * 4)..<(slot * 4 + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                }
                return true
            }
            var s = MonthlyStatistics()
            s.registered = totals[Slot.registered.rawValue]
            s.closed = totals[Slot.closed.rawValue]
            s.mediationClosed = totals[Slot.mediationClosed.rawValue]
            s.mediationSucceeded = totals[Slot.mediationSucceeded.rawValue]
            s.closedOnTime = totals[Slot.closedOnTime.rawValue]
            s.evaluations = totals[Slot.evaluations.rawValue]
            s.satisfied = totals[Slot.satisfied.rawValue]
            s.escalations = totals[Slot.escalations.rawValue]
            s.highRiskReports = totals[Slot.highRisk.rawValue]
            s.legalAidApproved = totals[Slot.aidApproved.rawValue]
            s.legalAidDenied = totals[Slot.aidDenied.rawValue]
            for (i, route) in Route.allCases.prefix(6).enumerated() where totals[Slot.referralBase.rawValue + i] > 0 {
                s.referrals[route] = totals[Slot.referralBase.rawValue + i]
            }
            for (i, outcome) in ReviewOutcome.allCases.prefix(6).enumerated()
            where totals[Slot.reviewBase.rawValue + i] > 0 {
                s.reviewOutcomes[outcome] = totals[Slot.reviewBase.rawValue + i]
            }
            for (i, ending) in ReviewEnding.allCases.enumerated() where totals[Slot.reviewEndingBase.rawValue + i] > 0 {
                s.reviewEndings[ending] = totals[Slot.reviewEndingBase.rawValue + i]
            }
            return s
        }
    }
}
