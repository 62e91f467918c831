public import CaseLedgerLog
public import CaseLedgerWorkflow
import Crypto
import Foundation

/// Open cases per person (owner, mediators, aid providers) and per unit.
public struct WorkloadProjection: Projection, HeaderAwareProjection {
    public let name = "workload"
    public let version = 2
    public let tables = ["byPerson", "byUnit", "casePeople"]
    let rebuildCost = 9

    public init() {}

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: try event.checkedWorkflowHeader(), to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }
        let idBytes = view.caseKey(event)
        // casePeople: str8(unit) + str8("owner:" + owner) + str8(helper)… : who the case counts for now.
        let stored = try view.value(in: "casePeople", key: idBytes) ?? []
        let namesHelpers = event.typeIs("mediationStarted") || event.typeIs("aidProviderAssigned")
        let escalated = event.typeIs("escalated")
        // Most events leave the unit, owner and helpers as they were: check that in place first.
        if !header.closed, !namesHelpers, !escalated,
            let afterUnit = Bytes.str8End(stored, 0, matching: header.unit.rawValue),
            Bytes.str8End(stored, afterUnit, matching: header.owner.rawValue, prefix: "owner:") != nil
        {
            return
        }
        var helpersStart = 0
        for _ in 0..<2 where helpersStart < stored.count {
            helpersStart = min(stored.count, helpersStart + 1 + Int(stored[helpersStart]))
        }
        let helperBytes: [UInt8]
        if namesHelpers {
            helperBytes = header.people.flatMap { Bytes.str8($0.rawValue) }
        } else if escalated {
            helperBytes = []
        } else {
            helperBytes = Array(stored[helpersStart...])
        }
        let newStored = Bytes.str8(header.unit.rawValue) + Bytes.str8("owner:" + header.owner.rawValue) + helperBytes
        if !header.closed && newStored == stored { return }  // nothing changed for this case
        // What changed: remove the index rows the case no longer has, add the new ones.
        let (oldUnit, oldPersons) = Self.entries(stored)
        let (newUnit, newPersons) = header.closed ? ([], []) : Self.entries(newStored)
        func key(_ name: [UInt8]) -> [UInt8] {
            var key = name
            key.reserveCapacity(name.count + 1 + idBytes.count)
            key.append(0)
            key.append(contentsOf: idBytes)
            return key
        }
        for person in oldPersons where !newPersons.contains(person) {
            try view.delete(in: "byPerson", key: key(person))
        }
        for person in newPersons where !oldPersons.contains(person) {
            try view.put(in: "byPerson", key: key(person), value: [])
        }
        if oldUnit != newUnit {
            if !oldUnit.isEmpty { try view.delete(in: "byUnit", key: key(oldUnit)) }
            if !newUnit.isEmpty { try view.put(in: "byUnit", key: key(newUnit), value: []) }
        }
        if header.closed {
            if !stored.isEmpty { try view.delete(in: "casePeople", key: idBytes) }
        } else {
            try view.put(in: "casePeople", key: idBytes, value: newStored)
        }
    }

    /// A `casePeople` row's unit and distinct persons (the owner without its `owner:` mark).
    static func entries(_ row: [UInt8]) -> (unit: [UInt8], persons: [[UInt8]]) {
        var offset = 0
        func next() -> ArraySlice<UInt8>? {
            guard offset < row.count else { return nil }
            let start = offset + 1
            offset = min(row.count, start + Int(row[offset]))
            return row[min(start, offset)..<offset]
        }
        guard let unit = next() else { return ([], []) }
        let mark = Array("owner:".utf8)
        var persons: [[UInt8]] = []
        while var field = next() {
            if field.starts(with: mark) { field = field.dropFirst(mark.count) }
            let person = Array(field)
            if !persons.contains(person) { persons.append(person) }
        }
        return (Array(unit), persons)
    }

    /// The open cases a person works on (as owner, mediator or aid provider), a page at a time in case-id order.
    public static func openCases(
        of person: PersonID, after cursor: String? = nil, limit: Int = 100, in runtime: ProjectionRuntime
    ) throws -> Page<CaseID> {
        try list("byPerson", Array(person.rawValue.utf8) + [0], cursor, limit, runtime)
    }

    /// The open cases a unit owns, a page at a time in case-id order.
    public static func openCases(
        of unit: UnitID, after cursor: String? = nil, limit: Int = 100, in runtime: ProjectionRuntime
    ) throws -> Page<CaseID> {
        try list("byUnit", Array(unit.rawValue.utf8) + [0], cursor, limit, runtime)
    }

    /// Every person with open cases and how many (as owner, mediator or aid provider), a page at a time in
    /// person-id order: each mediator's and lawyer's workload in one list. `after` is the previous page's `next`.
    public static func people(
        after cursor: String? = nil, limit: Int = 100, in runtime: ProjectionRuntime
    ) throws -> Page<WorkloadEntry> {
        try loads("byPerson", cursor, limit, runtime)
    }

    /// Every unit that owns open cases and how many, a page at a time in unit-id order.
    public static func units(
        after cursor: String? = nil, limit: Int = 100, in runtime: ProjectionRuntime
    ) throws -> Page<WorkloadEntry> {
        try loads("byUnit", cursor, limit, runtime)
    }

    /// Groups the rows of `table` (`name 0 case`) by name and counts them. The cursor is the hex of the last name
    /// returned; the next page starts past every row of it (at `name 1`: ids hold no 0 byte).
    static func loads(
        _ table: String, _ cursor: String?, _ limit: Int, _ runtime: ProjectionRuntime
    ) throws -> Page<WorkloadEntry> {
        let start = try Bytes.cursor(cursor).map { $0 + [1] } ?? []
        return try runtime.read("workload") { reader in
            var loads: [WorkloadEntry] = []
            var current: (name: [UInt8], count: Int)?
            var more = false
            try reader.forEach(in: table, from: start) { key, _ in
                let name = Array(key.prefix { $0 != 0 })
                if let open = current, open.name == name {
                    current?.count += 1
                    return true
                }
                if let open = current {
                    loads.append(WorkloadEntry(id: String(decoding: open.name, as: UTF8.self), openCases: open.count))
                }
                guard loads.count < max(1, limit) else {
                    more = true
                    current = nil
                    return false
                }
                current = (name, 1)
                return true
            }
            if let open = current {
                loads.append(WorkloadEntry(id: String(decoding: open.name, as: UTF8.self), openCases: open.count))
            }
            let last = loads.last.map { Bytes.hex(Array($0.id.utf8)) }
            return Page(items: loads, next: more ? last : nil)
        }
    }

    static func list(
        _ table: String, _ prefix: [UInt8], _ cursor: String?, _ limit: Int, _ runtime: ProjectionRuntime
    ) throws -> Page<CaseID> {
        let start = Bytes.later(try Bytes.cursor(cursor).map(Bytes.after) ?? prefix, prefix)
        return try runtime.read("workload") { reader in
            var ids: [CaseID] = []
            var last: [UInt8]?
            var more = false
            try reader.forEach(in: table, from: start) { key, _ in
                guard key.starts(with: prefix) else { return false }
                guard ids.count < max(1, limit) else {
                    more = true
                    return false
                }
                last = key
                ids.append(CaseID(String(decoding: key[prefix.count...], as: UTF8.self)))
                return true
            }
            return Page(items: ids, next: more ? last.map(Bytes.hex) : nil)
        }
    }
}

/// A person's or unit's open cases, counted, as the workload view lists them.
public struct WorkloadEntry: Sendable, Hashable {
    /// The person's or unit's id.
    public var id: String
    /// How many open cases count for it.
    public var openCases: Int

    /// An entry for `id` with `openCases` open cases.
    public init(id: String, openCases: Int) {
        self.id = id
        self.openCases = openCases
    }
}

/// A party with several cases, as the repeat-disputes view lists it.
public struct RepeatParty: Sendable, Hashable {
    /// The keyed hash of the party's reference, in hex.
    public var partyHash: String
    /// How many cases the party is in.
    public var cases: Int
}

/// Repeat disputes per party, keyed by an HMAC-SHA256 of the party's reference under a deployment key: the view
/// never holds the reference (or an ID number behind it), and without the key the hashes cannot be linked to people.
public struct RepeatDisputesProjection: Projection, HeaderAwareProjection {
    public let name = "repeatDisputes"
    public let version = 1
    public let tables = ["parties"]
    let rebuildCost = 4
    /// HMAC-SHA256 under the key, its pads absorbed once.
    let keyed: PartyHash

    /// - Parameter partyKey: the deployment's secret, at least 16 bytes; keep it out of the store.
    /// - Throws: ``ProjectionError`` for a key shorter than 16 bytes.
    public init(partyKey: [UInt8]) throws(ProjectionError) {
        guard partyKey.count >= 16 else {
            throw ProjectionError(.storage, "the party key has \(partyKey.count) bytes; use at least 16 random bytes")
        }
        keyed = PartyHash(key: partyKey)
    }

    func hash(_ reference: String) -> [UInt8] {
        var reference = reference
        return reference.withUTF8 { reference in
            var out: [UInt8] = []
            hash(UnsafeRawBufferPointer(reference), into: &out)
            return out
        }
    }

    /// Appends the keyed hash (32 bytes) of a reference's UTF-8 bytes to `out`.
    func hash(_ reference: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        keyed.authenticate(reference, into: &out)
    }

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: try event.checkedWorkflowHeader(), to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard event.typeIs("registered"), let header else { return }
        let id = view.caseKey(event)
        for party in header.parties {
            try view.put(in: "parties", key: hash(party.reference) + id, value: [])
        }
    }

    /// The cases of one party (looked up by hashing its reference with the same key).
    public func cases(ofParty reference: String, in runtime: ProjectionRuntime) throws -> [CaseID] {
        let prefix = hash(reference)
        return try runtime.read(name) { reader in
            var ids: [CaseID] = []
            try reader.forEach(in: "parties", from: prefix) { key, _ in
                guard key.starts(with: prefix) else { return false }
                ids.append(CaseID(String(decoding: key[32...], as: UTF8.self)))
                return true
            }
            return ids
        }
    }

    /// Parties (by hash, hex) with at least `minimum` cases and their case counts, a page at a time in hash order.
    /// The cursor names the last party of a page.
    public func repeatParties(
        minimum: Int = 2, after cursor: String? = nil, limit: Int = 100, in runtime: ProjectionRuntime
    ) throws -> Page<RepeatParty> {
        // The first key after every key of the cursor's party: its hash plus one.
        var start: [UInt8] = []
        if let after = try Bytes.cursor(cursor) {
            // No key follows a party whose hash is all 0xFF bytes: that page was the last.
            guard let next = Bytes.successor(after) else { return Page(items: [], next: nil) }
            start = next
        }
        return try runtime.read(name) { reader in
            var parties: [RepeatParty] = []
            var current: [UInt8] = []
            var count = 0
            var more = false
            func close() -> Bool {
                guard !current.isEmpty, count >= minimum else { return true }
                guard parties.count < max(1, limit) else {
                    more = true
                    return false
                }
                parties.append(RepeatParty(partyHash: Bytes.hex(current), cases: count))
                return true
            }
            try reader.forEach(in: "parties", from: start) { key, _ in
                let party = Array(key.prefix(32))
                if party != current {
                    guard close() else { return false }
                    current = party
                    count = 0
                }
                count += 1
                return true
            }
            if !more { _ = close() }
            return Page(items: parties, next: more ? parties.last?.partyHash : nil)
        }
    }

}

/// HMAC-SHA256 (RFC 2104) under one key, built on swift-crypto's `SHA256` with the key's inner and outer pads absorbed
/// once: each code then copies two digest states and hashes the message and the inner digest. It gives the same
/// codes as swift-crypto's `HMAC<SHA256>`, whose generic `update(data:)` cost a bulk rebuild several times the
/// hashing itself (one code per party of every case).
struct PartyHash: Sendable {
    private let inner: SHA256
    private let outer: SHA256

    init(key: [UInt8]) {
        // A key longer than SHA-256's 64-byte block is hashed first; a shorter one is padded with zeros.
        var block = key.count > 64 ? Array(SHA256.hash(data: key)) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        var inner = SHA256()
        inner.update(data: block.map { $0 ^ 0x36 })
        var outer = SHA256()
        outer.update(data: block.map { $0 ^ 0x5c })
        self.inner = inner
        self.outer = outer
    }

    /// Appends the 32-byte code of `message` to `out`.
    func authenticate(_ message: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var inner = self.inner
        inner.update(bufferPointer: message)
        var outer = self.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        outer.finalize().withUnsafeBytes { out.append(contentsOf: $0) }
    }
}
