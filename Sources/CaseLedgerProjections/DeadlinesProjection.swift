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
    public let version = 1
    public let tables = ["due", "byCase"]

    public init() {}

    static func dueKey(_ due: Instant, _ id: CaseID, _ deadline: String) -> [UInt8] {
        Bytes.instant(due) + Array(id.rawValue.utf8) + [0] + Array(deadline.utf8)
    }

    static func caseKey(_ id: CaseID, _ deadline: String) -> [UInt8] {
        Array(id.rawValue.utf8) + [0] + Array(deadline.utf8)
    }

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: event.workflowHeader, to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }
        let id = event.caseID
        func remove(_ deadline: String) throws {
            let key = Self.caseKey(id, deadline)
            if let stored = try view.value(in: "byCase", key: key) {
                try view.delete(in: "due", key: Self.dueKey(Bytes.instant(from: stored[...]), id, deadline))
                try view.delete(in: "byCase", key: key)
            }
        }
        func add(_ deadline: String, _ due: Instant) throws {
            try view.put(in: "due", key: Self.dueKey(due, id, deadline), value: Array(header.unit.rawValue.utf8))
            try view.put(
                in: "byCase", key: Self.caseKey(id, deadline),
                value: Bytes.instant(due) + Array(header.unit.rawValue.utf8))
        }
        if !header.deadline.isEmpty, !header.window {
            if event.typeIs("deadlineSet") || event.typeIs("deadlineResumed"), let due = header.due {
                try remove(header.deadline)
                try add(header.deadline, due)
            } else if event.typeIs("deadlineExtended") || event.typeIs("deadlineRecounted"), let due = header.due,
                try view.value(in: "byCase", key: Self.caseKey(id, header.deadline)) != nil
            {
                // Only a listed (running or breached) clock moves; a paused one stays off the list until it resumes.
                try remove(header.deadline)
                try add(header.deadline, due)
            } else if event.typeIs("deadlinePaused") || event.typeIs("deadlineStopped") {
                try remove(header.deadline)
            }
        }
        // A closed case has nothing due; a new owner takes the clocks over.
        if header.closed || event.typeIs("handedOff") || event.typeIs("escalated") {
            var open: [(String, Instant)] = []
            let prefix = Array(id.rawValue.utf8) + [0]
            try view.forEach(in: "byCase", from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                open.append((String(decoding: key[prefix.count...], as: UTF8.self), Bytes.instant(from: value[...])))
                return true
            }
            for (deadline, due) in open {
                try remove(deadline)
                if !header.closed { try add(deadline, due) }
            }
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
        let start = Bytes.later(cursor.flatMap(Bytes.unhex).map(Bytes.after) ?? lower, lower)
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
