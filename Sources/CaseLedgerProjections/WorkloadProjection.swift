public import CaseLedgerLog
public import CaseLedgerWorkflow
import Crypto
import Foundation

/// Open cases per person (owner, mediators, aid providers) and per unit.
public struct WorkloadProjection: Projection, HeaderAwareProjection {
    public let name = "workload"
    public let version = 1
    public let tables = ["byPerson", "byUnit", "casePeople"]

    public init() {}

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: event.workflowHeader, to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard let header else { return }
        let idBytes = event.caseIDBytes
        // casePeople: str8(unit) + str8("owner:" + owner) + str8(helper)… : who the case counts for now.
        let stored = try view.value(in: "casePeople", key: idBytes) ?? []
        // The common case first, on bytes: the same unit, owner and helpers as before.
        var helpersStart = 0
        for _ in 0..<2 where helpersStart < stored.count {
            helpersStart = min(stored.count, helpersStart + 1 + Int(stored[helpersStart]))
        }
        let helperBytes: [UInt8]
        if event.typeIs("mediationStarted") || event.typeIs("aidProviderAssigned") {
            helperBytes = header.people.flatMap { Bytes.str8($0.rawValue) }
        } else if event.typeIs("escalated") {
            helperBytes = []
        } else {
            helperBytes = Array(stored[helpersStart...])
        }
        let newStored = Bytes.str8(header.unit.rawValue) + Bytes.str8("owner:" + header.owner.rawValue) + helperBytes
        if !header.closed && newStored == stored { return }  // nothing changed for this case
        var offset = 0
        let oldUnit = stored.isEmpty ? "" : Bytes.readStr8(stored, &offset)
        var people: [String] = []
        while offset < stored.count { people.append(Bytes.readStr8(stored, &offset)) }
        offset = 0
        var newPeople: [String] = []
        while offset < newStored.count { newPeople.append(Bytes.readStr8(newStored, &offset)) }
        newPeople.removeFirst()  // the unit
        let persons = Set(newPeople.map { $0.hasPrefix("owner:") ? String($0.dropFirst(6)) : $0 })
        let oldPersons = Set(people.map { $0.hasPrefix("owner:") ? String($0.dropFirst(6)) : $0 })
        for person in oldPersons { try view.delete(in: "byPerson", key: Array(person.utf8) + [0] + idBytes) }
        if !oldUnit.isEmpty { try view.delete(in: "byUnit", key: Array(oldUnit.utf8) + [0] + idBytes) }
        if header.closed {
            try view.delete(in: "casePeople", key: idBytes)
            return
        }
        for person in persons.sorted() {
            try view.put(in: "byPerson", key: Array(person.utf8) + [0] + idBytes, value: [])
        }
        try view.put(in: "byUnit", key: Array(header.unit.rawValue.utf8) + [0] + idBytes, value: [])
        try view.put(in: "casePeople", key: idBytes, value: newStored)
    }

    /// The open cases a person works on (as owner, mediator or aid provider).
    public static func openCases(of person: PersonID, in runtime: ProjectionRuntime) throws -> [CaseID] {
        try list("byPerson", Array(person.rawValue.utf8) + [0], runtime)
    }

    /// The open cases a unit owns.
    public static func openCases(of unit: UnitID, in runtime: ProjectionRuntime) throws -> [CaseID] {
        try list("byUnit", Array(unit.rawValue.utf8) + [0], runtime)
    }

    static func list(_ table: String, _ prefix: [UInt8], _ runtime: ProjectionRuntime) throws -> [CaseID] {
        try runtime.read("workload") { reader in
            var ids: [CaseID] = []
            try reader.forEach(in: table, from: prefix) { key, _ in
                guard key.starts(with: prefix) else { return false }
                ids.append(CaseID(String(decoding: key[prefix.count...], as: UTF8.self)))
                return true
            }
            return ids
        }
    }
}

/// Repeat disputes per party, keyed by an HMAC-SHA256 of the party's reference under a deployment key: the view
/// never holds the reference (or an ID number behind it), and without the key the hashes cannot be linked to people.
public struct RepeatDisputesProjection: Projection, HeaderAwareProjection {
    public let name = "repeatDisputes"
    public let version = 1
    public let tables = ["parties"]
    let key: SymmetricKey
    /// The HMAC with the key already absorbed: copied for each hash instead of deriving the key's pads again.
    let keyed: HMAC<SHA256>

    /// - Parameter partyKey: the deployment's secret, at least 16 bytes; keep it out of the store.
    /// - Throws: ``ProjectionError`` for a key shorter than 16 bytes.
    public init(partyKey: [UInt8]) throws(ProjectionError) {
        guard partyKey.count >= 16 else {
            throw ProjectionError(.storage, "the party key has \(partyKey.count) bytes; use at least 16 random bytes")
        }
        key = SymmetricKey(data: partyKey)
        keyed = HMAC<SHA256>(key: key)
    }

    func hash(_ reference: String) -> [UInt8] {
        var hmac = keyed
        var reference = reference
        reference.withUTF8 { hmac.update(data: $0) }
        return Array(hmac.finalize())
    }

    public func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        try apply(event, header: event.workflowHeader, to: view)
    }

    func apply(_ event: borrowing EventView, header: RecordHeader?, to view: borrowing ViewTransaction) throws {
        guard event.typeIs("registered"), let header else { return }
        let id = Array(event.caseID.rawValue.utf8)
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

    /// Parties (by hash, hex) with at least `minimum` cases, with their case counts.
    public func repeatParties(minimum: Int = 2, in runtime: ProjectionRuntime) throws -> [String: Int] {
        try runtime.read(name) { reader in
            var counts: [String: Int] = [:]
            var current: [UInt8] = []
            var count = 0
            try reader.forEach(in: "parties") { key, _ in
                let party = Array(key.prefix(32))
                if party != current {
                    if count >= minimum { counts[Bytes.hex(current)] = count }
                    current = party
                    count = 0
                }
                count += 1
                return true
            }
            if count >= minimum { counts[Bytes.hex(current)] = count }
            return counts
        }
    }
}
