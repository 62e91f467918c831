import CaseLedgerWorkflow

extension CaseSummary {
    /// The row's bytes: a compact binary layout (the view is rebuilt and read often; JSON cost more than the rest of
    /// the projection). Layout 1: format byte; kind, level, channel, dispute type, closed, rating (255 = none) as
    /// bytes; last event time (8); events (4); division (12); str8 case id, state, unit, owner; u8 count of open
    /// clocks then (str8 id, due 8) each; u8 count of parties then (str8 reference, str8 name, role byte) each; u8
    /// count of links then (relation byte, str8 case) each.
    var encoded: [UInt8] {
        func index<T: ByteCoded>(_ value: T) -> UInt8 { value.byteIndex }
        var out: [UInt8] = [1, index(kind), index(level), index(channel), index(disputeType), closed ? 1 : 0]
        out.append(rating.map { UInt8(clamping: $0) } ?? 255)
        out += Bytes.instant(lastEventAt)
        withUnsafeBytes(of: UInt32(clamping: events).bigEndian) { out += $0 }
        out.append(contentsOf: division.digits.utf8)
        for text in [caseID.rawValue, state, unit.rawValue, owner.rawValue] { Bytes.appendStr8(text, to: &out) }
        let clocks = openDeadlines.count < 2 ? Array(openDeadlines) : openDeadlines.sorted { $0.key < $1.key }
        out.append(UInt8(min(clocks.count, 255)))
        for (id, due) in clocks.prefix(255) {
            Bytes.appendStr8(id, to: &out)
            Bytes.appendInstant(due, to: &out)
        }
        out.append(UInt8(min(parties.count, 255)))
        for party in parties.prefix(255) {
            Bytes.appendStr8(party.reference, to: &out)
            Bytes.appendStr8(party.name, to: &out)
            out.append(index(party.role))
        }
        out.append(UInt8(min(links.count, 255)))
        for link in links.prefix(255) {
            out.append(index(link.relation))
            Bytes.appendStr8(link.other.rawValue, to: &out)
        }
        return out
    }

    /// The summary has more than the row layout keeps (over 255 clocks, parties or links, or a text over 255 bytes).
    var exceedsRowLimits: Bool {
        func long(_ text: String) -> Bool { text.utf8.count > 255 }
        return openDeadlines.count > 255 || parties.count > 255 || links.count > 255 || long(caseID.rawValue)
            || long(state) || long(unit.rawValue) || long(owner.rawValue) || openDeadlines.keys.contains(where: long)
            || parties.contains { long($0.reference) || long($0.name) } || links.contains { long($0.other.rawValue) }
    }

    init?(encoded b: [UInt8]) {
        guard b.count >= 31, b[0] == 1 else { return nil }
        func pick<T: ByteCoded>(_ byte: UInt8) -> T? { T(byteIndex: byte) }
        guard let kind: CaseKind = pick(b[1]), let level: Level = pick(b[2]), let channel: Channel = pick(b[3]),
            let dispute: DisputeType = pick(b[4]),
            let division = DivisionCode(String(decoding: b[19..<31], as: UTF8.self))
        else { return nil }
        var offset = 31
        let id = Bytes.readStr8(b, &offset)
        let state = Bytes.readStr8(b, &offset)
        let unit = Bytes.readStr8(b, &offset)
        let owner = Bytes.readStr8(b, &offset)
        func byte() -> UInt8? {
            guard offset < b.count else { return nil }
            defer { offset += 1 }
            return b[offset]
        }
        var clocks: [String: Instant] = [:]
        for _ in 0..<Int(byte() ?? 0) {
            let name = Bytes.readStr8(b, &offset)
            guard offset + 8 <= b.count else { return nil }
            clocks[name] = Bytes.instant(from: b[offset..<(offset + 8)])
            offset += 8
        }
        var parties: [Party] = []
        for _ in 0..<Int(byte() ?? 0) {
            let reference = Bytes.readStr8(b, &offset)
            let name = Bytes.readStr8(b, &offset)
            guard let roleByte = byte(), let role: PartyRole = pick(roleByte) else { return nil }
            parties.append(Party(reference: reference, name: name, role: role))
        }
        var links: [CaseLink] = []
        for _ in 0..<Int(byte() ?? 0) {
            guard let relationByte = byte(), let relation: CaseLink.Relation = pick(relationByte) else { return nil }
            links.append(CaseLink(relation, CaseID(Bytes.readStr8(b, &offset))))
        }
        self.init(
            caseID: CaseID(id), kind: kind, state: state, level: level, unit: UnitID(unit), owner: PersonID(owner),
            division: division, disputeType: dispute, channel: channel, closed: b[5] == 1,
            rating: b[6] == 255 ? nil : Int(b[6]), lastEventAt: Bytes.instant(from: b[7..<15]),
            openDeadlines: clocks, events: Int(b[15..<19].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }), parties: parties,
            links: links)
    }
}
