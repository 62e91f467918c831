import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Random command sequences (seeded, so a failure repeats) against the invariants of requirement 13.
@Suite struct PropertyTests {
    static func registerOther(_ h: inout WorkflowHarness, _ id: CaseID, _ rng: inout SeededGenerator) throws
        -> PersonID
    {
        let (registration, owner) = RandomCommands.otherRegistration(id, now: h.now, &rng)
        try h.run(.register(registration), on: id, by: owner)
        return owner
    }

    @Test("Random command sequences keep the invariants")
    func invariants() throws {
        var seen = Set<String>()
        var accepted = 0
        var rejected = 0
        for seed in 1...12 {
            let h = try run(seed: seed, accepted: &accepted, rejected: &rejected)
            for records in h.histories.values { seen.formUnion(records.map(\.event.name)) }
        }
        // The generator reaches the interesting paths, and both outcomes happen often.
        for name in [
            "escalated", "riskFlagged", "referred", "agreementTookEffect", "evaluated", "deadlineBreached",
            "mediationFailed", "judicialConfirmationApplied", "handedOff", "arbitrationOpened", "aidApproved",
            "aidProviderAssigned", "objectionFiled", "reviewAccepted", "reviewDecided", "reviewSuspended",
            "awardIssued", "answered", "deadlineExtended", "deadlinePaused", "deadlineResumed", "qualityReviewed",
        ] {
            #expect(seen.contains(name), "no \(name) in any sequence")
        }
        #expect(accepted > 1_000 && rejected > 1_000, "accepted \(accepted), rejected \(rejected)")
    }

    func run(seed: Int, accepted: inout Int, rejected: inout Int) throws -> WorkflowHarness {
        var rng = SeededGenerator(seed: UInt64(seed))
        var h = try makeHarness()
        let ladder: [Level] = [.village, .township, .county]
        for c in 0..<40 {
            let id = CaseID("s\(seed)-c\(c)")
            h.now = County.at(2025, 1, 2).adding(days: Int64(c) * 7)
            if c % 2 == 1 {
                let owner = try Self.registerOther(&h, id, &rng)
                try runOther(&h, id, owner: owner, &rng, accepted: &accepted, rejected: &rejected)
                continue
            }
            let dispute = RandomCommands.disputes.randomElement(using: &rng) ?? .neighbour
            let kind: CaseKind = dispute == .labour && Bool.random(using: &rng) ? .labourMediation : .peopleMediation
            let startUnit: UnitID = ["v1", "t1"].randomElement(using: &rng) ?? "v1"
            let owner: PersonID = startUnit == "v1" ? "m-v1" : "m-t1"
            try h.run(
                .register(County.registration(kind, unit: startUnit, owner: owner, dispute: dispute)), on: id, by: owner
            )
            for step in 0..<40 {
                h.advance(days: Int64.random(in: 0...4, using: &rng))
                if Int.random(in: 0..<5, using: &rng) == 0 { try h.tick() }
                guard let before = h.state(id) else { break }
                let command = RandomCommands.mediation(before, id, step, &rng)
                let actor: PersonID = Int.random(in: 0..<10, using: &rng) == 0 ? "outsider" : before.owner
                let historyBefore = h.histories[id]?.count ?? 0
                let closedBefore = before.state == "closed"
                do {
                    let decision = try h.run(command, on: id, by: actor)
                    accepted += 1
                    #expect(!closedBefore || command.name == "evaluate", "closed case accepted \(command.name)")
                    for record in decision.cases.flatMap(\.records) {
                        if case .escalated(let from, let to, _, _, let reason, _) = record.event {
                            let oneStep = ladder.firstIndex(of: to) == ladder.firstIndex(of: from).map { $0 + 1 }
                            #expect(
                                oneStep || reason == .riskOfEscalation || reason == .majorOrComplex,
                                "\(from) → \(to) by \(reason)")
                        }
                    }
                } catch {
                    rejected += 1
                    #expect(h.histories[id]?.count == historyBefore, "a rejected command wrote events")
                    if closedBefore && command.name != "evaluate" && actor == before.owner {
                        #expect(error.code == .caseClosed)
                    }
                }
            }
        }
        // Versions are gap-free and replay equals the live state, for every case (including referral targets).
        for (id, records) in h.histories {
            let state = try #require(h.state(id))
            #expect(state.version == UInt64(records.count))
            let replayed = try CaseState.fold(id: id, records: records, definitions: h.definitions)
            #expect(replayed == state, "replay differs for \(id)")
            if let evaluation = state.evaluation {
                #expect(state.state == "closed" && (1...5).contains(evaluation.rating))
            }
            #expect(records.filter { $0.event.name == "evaluated" }.count <= 1)
        }
        return h
    }

    /// Random commands on a non-mediation case: closed cases take only their evaluation, rejected commands write
    /// nothing.
    func runOther(
        _ h: inout WorkflowHarness, _ id: CaseID, owner: PersonID, _ rng: inout SeededGenerator, accepted: inout Int,
        rejected: inout Int
    ) throws {
        for step in 0..<80 {
            h.advance(days: Int64.random(in: 0...3, using: &rng))
            if Int.random(in: 0..<4, using: &rng) == 0 { try h.tick() }
            guard let before = h.state(id) else { return }
            let command = RandomCommands.other(before, id, step, &rng)
            let roll = Int.random(in: 0..<10, using: &rng)
            let actor: PersonID =
                roll == 0 ? "outsider" : roll == 1 ? "bureau-head" : roll == 2 ? "party:p-a" : before.owner
            let historyBefore = h.histories[id]?.count ?? 0
            let closedBefore = before.state == "closed"
            do {
                try h.run(command, on: id, by: actor)
                accepted += 1
                #expect(!closedBefore || command.name == "evaluate", "closed \(before.kind) accepted \(command.name)")
            } catch {
                rejected += 1
                #expect(h.histories[id]?.count == historyBefore, "a rejected command wrote events")
                // The clock's own commands are refused to people before anything else.
                let clockOnly = ["deemAccept", "openLitigation"].contains(command.name)
                if closedBefore && command.name != "evaluate" && actor == before.owner && !clockOnly {
                    #expect(error.code == .caseClosed)
                }
            }
        }
    }
}
