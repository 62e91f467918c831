public import CaseLedgerLog
public import CaseLedgerWorkflow

/// An open clock of a case, as the deadlines view lists it.
public struct DeadlineEntry: Sendable, Hashable {
    public var caseID: CaseID
    public var deadline: String
    public var due: Instant
    /// The unit that owns the case.
    public var unit: UnitID
}

/// The deadlines view: every running or breached clock of an open case (party windows and paused clocks left out),
/// ordered by due instant, for "overdue at T" and "due within N days" per unit.
public struct DeadlinesProjection: Projection, HeaderAwareProjection {
    public let name = "deadlines"
    public let version = 2
    public let tables = ["due", "byCase"]
    let rebuildCost = 5

    public init() {}

    static func dueKey(_ due: Instant, _ id: [UInt8], _ deadline: String) -> [UInt8] {
        var key = Bytes.instant(due)
        key.reserveCapacity(9 + id.count + deadline.utf8.count)
        key.append(contentsOf: id)
        key.append(0)
        key.append(contentsOf: deadline.utf8)
        return key
    }

    /// A case's listed clocks, as its `byCase` row holds them: `str8(deadline) + due (8 bytes)` each, by name.
    static func clocks(_ row: [UInt8]?) -> [(deadline: String, due: Instant)] {
        guard let row else { return [] }
        var clocks: [(deadline: String, due: Instant)] = []
        var offset = 0
        while offset < row.count {
            let deadline = Bytes.readStr8(row, &offset)
            guard offset + 8 <= row.count else { break }
            clocks.append((deadline, Bytes.instant(from: row[offset..<(offset + 8)])))
            offset += 8
        }
        return clocks
    }

    static func row(_ clocks: [(deadline: String, due: Instant)]) -> [UInt8] {
        clocks.flatMap { Bytes.str8($0.deadline) + Bytes.instant($0.due) }
    }

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: try event.checkedWorkflowHeader(), to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }
        let clockEvent = !header.deadline.isEmpty && !header.window
        // A closed case has nothing due; a new owner takes the clocks over.
        let movesAll = header.closed || event.typeIs("handedOff") || event.typeIs("escalated")
        guard clockEvent || movesAll else { return }
        let id = view.caseKey(event)
        let stored = try view.value(in: "byCase", key: id)
        var clocks = Self.clocks(stored)
        let unit = Array(header.unit.rawValue.utf8)
        func remove(_ deadline: String) throws {
            guard let index = clocks.firstIndex(where: { $0.deadline == deadline }) else { return }
            try view.delete(in: "due", key: Self.dueKey(clocks[index].due, id, deadline))
            clocks.remove(at: index)
        }
        func add(_ deadline: String, _ due: Instant) throws {
            try view.put(in: "due", key: Self.dueKey(due, id, deadline), value: unit)
            let index = clocks.firstIndex { !$0.deadline.utf8.lexicographicallyPrecedes(deadline.utf8) }
            clocks.insert((deadline, due), at: index ?? clocks.endIndex)
        }
        if clockEvent {
            if event.typeIs("deadlineSet") || event.typeIs("deadlineResumed"), let due = header.due {
                try remove(header.deadline)
                try add(header.deadline, due)
            } else if event.typeIs("deadlineExtended") || event.typeIs("deadlineRecounted"), let due = header.due,
                clocks.contains(where: { $0.deadline == header.deadline })
            {
                // Only a listed (running or breached) clock moves; a paused one stays off the list until it resumes.
                try remove(header.deadline)
                try add(header.deadline, due)
            } else if event.typeIs("deadlinePaused") || event.typeIs("deadlineStopped") {
                try remove(header.deadline)
            }
        }
        if movesAll {
            for clock in clocks {
                let key = Self.dueKey(clock.due, id, clock.deadline)
                if header.closed {
                    try view.delete(in: "due", key: key)
                } else {
                    try view.put(in: "due", key: key, value: unit)
                }
            }
            if header.closed { clocks = [] }
        }
        let row = Self.row(clocks)
        if clocks.isEmpty {
            if stored != nil { try view.delete(in: "byCase", key: id) }
        } else if row != stored {
            try view.put(in: "byCase", key: id, value: row)
        }
    }

    static func entry(_ key: [UInt8], _ value: [UInt8]) -> DeadlineEntry? {
        guard key.count > 9, let zero = key[8...].firstIndex(of: 0) else { return nil }
        return DeadlineEntry(
            caseID: CaseID(String(decoding: key[8..<zero], as: UTF8.self)),
            deadline: String(decoding: key[(zero + 1)...], as: UTF8.self), due: Bytes.instant(from: key[0..<8]),
            unit: UnitID(String(decoding: value, as: UTF8.self)))
    }

    /// Clocks due before `time` (overdue at `time`), earliest first, optionally of one unit's cases.
    public static func overdue(
        at time: Instant, unit: UnitID? = nil, after cursor: String? = nil, limit: Int = 100,
        in runtime: ProjectionRuntime
    ) throws -> Page<DeadlineEntry> {
        try scan(from: Instant(microsecondsSinceEpoch: .min), before: time, unit: unit, cursor, limit, runtime)
    }

    /// Clocks due from `time` to `days` days later, optionally of one unit's cases.
    public static func due(
        from time: Instant, withinDays days: Int, unit: UnitID? = nil, after cursor: String? = nil, limit: Int = 100,
        in runtime: ProjectionRuntime
    ) throws -> Page<DeadlineEntry> {
        try scan(
            from: time, before: time.adding(days: Int64(min(max(days, 0), 36_500))), unit: unit, cursor, limit, runtime)
    }

    static func scan(
        from: Instant, before end: Instant, unit: UnitID?, _ cursor: String?, _ limit: Int, _ runtime: ProjectionRuntime
    ) throws -> Page<DeadlineEntry> {
        let lower = Bytes.instant(from)
        let start = Bytes.later(try Bytes.cursor(cursor).map(Bytes.after) ?? lower, lower)
        let stop = Bytes.instant(end)
        return try runtime.read("deadlines") { reader in
            var items: [DeadlineEntry] = []
            var last: [UInt8]?
            var more = false
            try reader.forEach(in: "due", from: start) { key, value in
                guard key.prefix(8).lexicographicallyPrecedes(stop) else { return false }
                guard items.count < limit else {
                    more = true
                    return false
                }
                last = key
                if let entry = entry(key, value), unit == nil || entry.unit == unit { items.append(entry) }
                return true
            }
            return Page(items: items, next: more ? last.map(Bytes.hex) : nil)
        }
    }
}
