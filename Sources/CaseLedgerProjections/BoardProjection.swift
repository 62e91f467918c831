public import CaseLedgerLog
public import CaseLedgerWorkflow

/// An open case on the jurisdiction board.
public struct OpenCase: Sendable, Hashable {
    public var caseID: CaseID
    public var division: DivisionCode
    public var kind: CaseKind
    public var level: Level
    public var channel: Channel
    public var state: String
    public var unit: UnitID
}

/// Open cases under one division, counted every way the people in charge look at them.
public struct BoardCounts: Sendable, Hashable {
    public var total = 0
    public var byUnit: [UnitID: Int] = [:]
    public var byLevel: [Level: Int] = [:]
    public var byKind: [CaseKind: Int] = [:]
    public var byChannel: [Channel: Int] = [:]
    public var byState: [String: Int] = [:]
    /// Counts by the next division down (villages of a township, townships of a county, …).
    public var byDivision: [String: Int] = [:]
}

/// The jurisdiction board: every open case keyed by the place of the dispute, so any division's board is a prefix
/// scan and rolls up village → township → county → city by construction.
public struct BoardProjection: Projection, HeaderAwareProjection {
    public let name = "board"
    public let version = 1
    public let tables = ["open"]
    let rebuildCost = 6

    public init() {}

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: try event.checkedWorkflowHeader(), to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }
        var key = Array(header.division.digits.utf8)
        event.withStreamIDBytes { key.append(contentsOf: $0.dropFirst(5)) }
        if header.closed {
            try view.delete(in: "open", key: key)
            return
        }
        var value: [UInt8] = [header.kind.byteIndex, header.level.byteIndex, header.channel.byteIndex]
        value.reserveCapacity(5 + header.state.utf8.count + header.unit.rawValue.utf8.count)
        Bytes.appendStr8(header.state, to: &value)
        Bytes.appendStr8(header.unit.rawValue, to: &value)
        if try view.value(in: "open", key: key) != value { try view.put(in: "open", key: key, value: value) }
    }

    static func decode(_ key: [UInt8], _ value: [UInt8]) -> OpenCase? {
        guard key.count > 12, value.count >= 4,
            let division = DivisionCode(String(decoding: key[0..<12], as: UTF8.self))
        else { return nil }
        func pick<T: ByteCoded>(_ i: Int) -> T? { T(byteIndex: value[i]) }
        guard let kind: CaseKind = pick(0), let level: Level = pick(1), let channel: Channel = pick(2) else {
            return nil
        }
        var offset = 3
        let state = Bytes.readStr8(value, &offset)
        let unit = Bytes.readStr8(value, &offset)
        return OpenCase(
            caseID: CaseID(String(decoding: key[12...], as: UTF8.self)), division: division, kind: kind, level: level,
            channel: channel, state: state, unit: UnitID(unit))
    }

    /// The counts of open cases under `division` (itself and everything in it).
    public static func counts(under division: DivisionCode, in runtime: ProjectionRuntime) throws -> BoardCounts {
        let prefix = division.prefix
        let childLength = [4: 6, 6: 9, 9: 12, 12: 12][prefix.count] ?? 12
        return try runtime.read("board") { reader in
            var counts = BoardCounts()
            try reader.forEach(in: "open", from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                guard let open = decode(key, value) else { return true }
                counts.total += 1
                counts.byUnit[open.unit, default: 0] += 1
                counts.byLevel[open.level, default: 0] += 1
                counts.byKind[open.kind, default: 0] += 1
                counts.byChannel[open.channel, default: 0] += 1
                counts.byState[open.state, default: 0] += 1
                let child = String(decoding: key[0..<childLength], as: UTF8.self)
                counts.byDivision[child, default: 0] += 1
                return true
            }
            return counts
        }
    }

    /// The board of `unit`'s jurisdiction: the open cases under the unit's division, whichever unit owns them (a
    /// village committee's village, a township station's township with its villages, a county centre's county), as
    /// ``counts(under:in:)`` gives them. The jurisdiction is the division, not the unit's level: a county-level
    /// legal aid centre, or an industry committee at a county division, sees the whole county. Look the unit up in
    /// the deployment's `Directory`; for the cases a unit owns, use `byUnit` or `openCases(under:unit:…)`.
    public static func counts(inJurisdictionOf unit: ServiceUnit, in runtime: ProjectionRuntime) throws -> BoardCounts {
        try counts(under: unit.division, in: runtime)
    }

    /// The open cases of `unit`'s jurisdiction (under the unit's division), optionally of one state, a page at a
    /// time in key order, as ``openCases(under:unit:state:after:limit:in:)`` lists them.
    public static func openCases(
        inJurisdictionOf unit: ServiceUnit, state: String? = nil, after cursor: String? = nil, limit: Int = 100,
        in runtime: ProjectionRuntime
    ) throws -> Page<OpenCase> {
        try openCases(under: unit.division, state: state, after: cursor, limit: limit, in: runtime)
    }

    /// Open cases under `division`, optionally of one unit or state, a page at a time in key order.
    public static func openCases(
        under division: DivisionCode, unit: UnitID? = nil, state: String? = nil, after cursor: String? = nil,
        limit: Int = 100, in runtime: ProjectionRuntime
    ) throws -> Page<OpenCase> {
        let prefix = division.prefix
        let start = Bytes.later(try Bytes.cursor(cursor).map(Bytes.after) ?? prefix, prefix)
        return try runtime.read("board") { reader in
            var items: [OpenCase] = []
            var last: [UInt8]?
            var more = false
            try reader.forEach(in: "open", from: start) { key, value in
                guard key.starts(with: prefix) else { return false }
                guard items.count < limit else {
                    more = true
                    return false
                }
                last = key
                if let open = decode(key, value), unit == nil || open.unit == unit, state == nil || open.state == state
                {
                    items.append(open)
                }
                return true
            }
            return Page(items: items, next: more ? last.map(Bytes.hex) : nil)
        }
    }
}
